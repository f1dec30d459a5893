"""VAEImputer: a VAE fitted on incomplete rows (MIWAE), imputing by importance sampling."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor

from .._base import MeanLogLikelihoodMixin, check_hidden_dims, draw_seed, seeded_torch
from ..nn.mlp import ACTIVATIONS
from ..vae.miwae import LIKELIHOODS, MIWAE, POSTERIOR_FLOWS
from ._base import BaseFlowImputer


class VAEImputer(MeanLogLikelihoodMixin, BaseFlowImputer):
    """Impute from a variational autoencoder fitted on the incomplete table.

    The model of MIWAE (Mattei and Frellsen, 2019): a latent code ``z ~
    N(0, I)``, a decoder that gives every column an independent Gaussian or
    Student-t likelihood given ``z``, and an encoder that reads the row with
    zeros at its gaps, and its mask. It is fitted by maximizing the
    importance-weighted bound on ``log p(x_observed)`` with
    ``n_importance`` draws per row: only observed entries are scored, so no
    fill is ever trained on. The encoder's Gaussian posterior may be followed
    by planar or residual layers conditioned on the encoder's output (a flow
    posterior, which tightens the bound), and the prior may be a flow.

    Imputation uses self-normalized importance sampling with ``n_draws``
    draws from the posterior: the conditional mean ``E[x_mis | x_obs]`` is
    the weighted mean of the decoded locations; :meth:`sample_imputations`
    resamples draws by their weights (sampling-importance-resampling) and
    draws the missing entries from the decoded likelihood. The draws of the
    conditional mean use noise fixed at fit, so ``transform`` is
    deterministic and each row independent of the others.

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Size of the latent code; "auto" is the number of modelled columns
        minus one (at least 1), MIWAE's choice for UCI tables.
    hidden_dims : tuple of int, default=(128, 128)
        Hidden widths of the encoder and of the decoder.
    activation : {{"relu", "tanh", "silu", "elu"}}, default="tanh"
    likelihood : {{"gaussian", "student_t"}}, default="gaussian"
        The decoder's per-column likelihood ("student_t" learns its degrees
        of freedom, at least 3, per column and row).
    posterior_flow : {{"none", "planar", "residual"}}, default="none"
        Layers after the encoder's Gaussian.
    prior_flow : {{"none", "planar", "residual"}}, default="none"
        A flow prior over the latent code instead of ``N(0, I)``: ``z``'s
        density is a standard normal's pushed through the inverse of the
        layers.
    n_flow_layers : int, default=4
        Layers of each flow (posterior, prior).
    n_importance : int, default=20
        Importance draws per row in the training bound.
    n_draws : int, default=200
        Importance draws per row for imputation and scoring.
    missing_mechanism : {{"mar", "self-masking"}}, default="mar"
        "self-masking" learns, jointly with the VAE, a logistic model of each
        column's probability of being missing given its own value (values
        missing not at random, as in not-MIWAE, Ipsen et al. 2021): every
        posterior draw also draws the missing entries, and the bound is on
        ``log p(x_obs, mask)``. The conditional mean is then the weighted
        mean of the drawn entries, and ``score_samples`` includes the log-
        probability of the mask. Needs ``likelihood="gaussian"``.
    {training}
    {imputer}
    {table}
    {compute}

    Attributes
    ----------
    module_ : MIWAE
        The fitted encoder, decoder and posterior flow (standardized
        modelled columns).
    latent_dim_ : int
    history_ : dict
        ``"train_loss"`` and ``"validation_loss"``: the negative bound per
        observed entry, per epoch.
    n_iter_ : int
    mean_noise_ : ndarray of shape (n_draws, ``latent_dim_``)
        The posterior noise of imputation and scoring.
    completion_noise_ : ndarray of shape (n_draws, n_modelled_features)
        The noise of the missing entries' draws under ``"self-masking"``.
    {imputer_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import VAEImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.multivariate_normal([0, 0, 0], [[1, .9, .5], [.9, 1, .5], [.5, .5, 1]], 300)
    >>> X[::4, 0] = np.nan
    >>> imputer = VAEImputer(max_epochs=5, random_state=0).fit(X)
    >>> np.isnan(imputer.transform(X)).any()
    np.False_
    """

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_dims": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "posterior_flow": [StrOptions(set(POSTERIOR_FLOWS))],
        "prior_flow": [StrOptions(set(POSTERIOR_FLOWS))],
        "n_flow_layers": [Interval(Integral, 1, None, closed="left")],
        "n_importance": [Interval(Integral, 1, None, closed="left")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "missing_mechanism": [StrOptions({"mar", "self-masking"})],
    }

    parameters = {
        "latent_dim": "auto", "hidden_dims": (128, 128), "activation": "tanh",
        "likelihood": "gaussian", "posterior_flow": "none",
        "prior_flow": "none", "n_flow_layers": 4,
        "n_importance": 20, "n_draws": 200, "missing_mechanism": "mar", "max_epochs": 200,
        "batch_size": "auto",
        "learning_rate": 1e-3, "weight_decay": 0.0, "validation_fraction": 0.1,
        "n_iter_no_change": 20, "tol": 1e-4, "clip_grad_norm": 10.0,
    }

    # ------------------------------------------------------------------ fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        n_columns = X_scaled.shape[1]
        self.latent_dim_ = (max(1, n_columns - 1) if self.latent_dim == "auto"
                            else self.latent_dim)
        self.module_ = MIWAE(n_columns, self.latent_dim_, check_hidden_dims(self.hidden_dims),
                             self.activation, self.likelihood, self.posterior_flow,
                             self.n_flow_layers, self.prior_flow,
                             self.missing_mechanism == "self-masking",
                             ).to(device=self.device_, dtype=self.dtype_)
        rng = np.random.RandomState(seed)
        self.mean_noise_ = rng.standard_normal((self.n_draws, self.latent_dim_))
        self.completion_noise_ = rng.standard_normal((self.n_draws, n_columns))
        values = self._to_tensor(self._model_values(X_scaled, observed))
        observed_tensor = torch.as_tensor(observed, device=self.device_)
        train_rows, validation_rows = self._split_validation(values.shape[0], seed)
        validation = None
        if validation_rows is not None:
            rows = torch.as_tensor(validation_rows, device=self.device_)
            validation = (values[rows], observed_tensor[rows])
        rows = torch.as_tensor(train_rows, device=self.device_)
        self._fit_module(self.module_, self._loss, (values[rows], observed_tensor[rows]),
                         validation, seed)

    def _loss(self, values: Tensor, observed: Tensor) -> Tensor:
        """The negative bound per observed entry of a batch."""
        noise = torch.randn(self.n_importance, *values.shape[:1], self.latent_dim_,
                            dtype=values.dtype, device=values.device)
        bound = self.module_.draws(values, observed, noise).bound()
        return -bound.sum() / observed.sum().clamp_min(1)

    # ------------------------------------------------------------ inference
    def _fixed_draws(self, values: Tensor, observed: Tensor):
        return self.module_.draws(values, observed, self._to_tensor(self.mean_noise_)[:, None],
                                  self._to_tensor(self.completion_noise_)[:, None])

    def _to_columns(self, model_values: np.ndarray) -> np.ndarray:
        """Model coordinates -> standardized columns within the imputation range."""
        low, high = (self.codec_.standardize(bound) for bound in self._imputation_range())
        return np.clip(self.codec_.from_model(model_values), low, high)

    def _impute(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The conditional mean by self-normalized importance sampling."""
        def conditional_mean(values: Tensor, mask: Tensor) -> Tensor:
            draws = self._fixed_draws(values, mask)
            return (draws.weights().unsqueeze(-1) * draws.imputation_values()).sum(0)

        with torch.no_grad():
            means = self._map_chunks(conditional_mean, self._model_values(X_scaled, observed),
                                     observed)
        return self._to_columns(means)

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Draw several completions of ``X`` by sampling-importance-resampling.

        For each row, ``n_draws`` posterior draws are weighted by their
        importance weights; each imputation picks one by its weight and
        draws the missing entries from the decoder's likelihood given it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_imputations : int, default=5
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        draws : ndarray of shape (n_imputations, n_samples, n_features_out)
            Observed entries are identical in every draw.
        """
        X, observed, index = self._validate_draw_request(X, n_imputations)
        seed = draw_seed(random_state)
        return self._complete_draws(
            X, observed, n_imputations,
            lambda X_scaled, modelled, rows: self._resampled(X_scaled, modelled,
                                                             n_imputations, seed), index)

    def _resampled(self, X_scaled: np.ndarray, observed: np.ndarray, n_imputations: int,
                   seed: int) -> list[np.ndarray]:
        values = self._to_tensor(self._model_values(X_scaled, observed))
        mask = torch.as_tensor(observed, device=self.device_)
        with torch.no_grad(), seeded_torch(seed, self.device_):
            noise = torch.randn(self.n_draws, *values.shape[:1], self.latent_dim_,
                                dtype=values.dtype, device=values.device)
            draws = self.module_.draws(values, mask, noise)
            rows = torch.arange(values.shape[0], device=values.device)
            chosen = torch.multinomial(draws.weights().T, n_imputations, replacement=True)
            samples = []
            for pick in chosen.T:
                if draws.completed is not None:      # the draw that was weighted
                    samples.append(draws.completed[pick, rows])
                    continue
                degrees = (None if draws.degrees_of_freedom is None
                           else draws.degrees_of_freedom[pick, rows])
                samples.append(self.module_.sample_columns(
                    draws.loc[pick, rows], draws.scale[pick, rows], degrees))
        return [self._to_columns(sample.to("cpu", torch.float64).numpy())
                for sample in samples]

    def score_samples(self, X) -> np.ndarray:
        """The importance-weighted bound on ``log p(x_obs)`` of each row.

        A lower bound on the log-likelihood of each row's observed entries
        (tight as ``n_draws`` grows), in the units of ``X``: the scaling's
        log-Jacobian of those entries is added. Constant columns are not
        modelled and contribute nothing.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        """
        X_scaled, observed = self._modelled_input(X)
        with torch.no_grad():
            scores = self._map_chunks(lambda v, m: self._fixed_draws(v, m).bound(),
                                      self._model_values(X_scaled, observed), observed)
        return scores - observed @ np.log(self.codec_.scale_)

    def latent_mean(self, X) -> np.ndarray:
        """The posterior mean of each row's latent code, ``E[z | x_obs]``.

        Estimated by self-normalized importance sampling with ``n_draws``
        draws (the same fixed noise as ``transform``): a representation of
        the rows, gaps included, for clustering or a downstream model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, ``latent_dim_``)
        """
        X_scaled, observed = self._modelled_input(X)

        def posterior_mean(v: Tensor, m: Tensor) -> Tensor:
            draws = self._fixed_draws(v, m)
            return (draws.weights().unsqueeze(-1) * draws.z).sum(0)

        with torch.no_grad():
            return self._map_chunks(posterior_mean, self._model_values(X_scaled, observed),
                                    observed)
