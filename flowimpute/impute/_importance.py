"""Imputers built on a latent-variable model weighed by importance sampling.

The model (:class:`~flowimpute.vae.importance.ImportanceVAE`) is fitted by
the importance-weighted bound on the observed entries; imputation, multiple
imputation, scoring and the latent representation are all read off
importance draws of its posterior. A subclass builds the model.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor

from .._base import MeanLogLikelihoodMixin, draw_seed, seeded_torch
from ..nn.mlp import ACTIVATIONS
from ..vae.importance import LIKELIHOODS, ImportanceDraws, ImportanceVAE
from ._base import BaseFlowImputer


class ImportanceVAEImputer(MeanLogLikelihoodMixin, BaseFlowImputer):
    """Fit, imputation, multiple imputation and scores of an importance-weighted VAE.

    A subclass implements :meth:`_make_module`; it declares the parameters
    ``activation``, ``likelihood``, ``n_importance``, ``n_draws`` and
    ``missing_mechanism`` with the meaning these methods give them.
    """

    _parameter_constraints: dict = {
        **BaseFlowImputer._parameter_constraints,
        "activation": [StrOptions(set(ACTIVATIONS))],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "n_importance": [Interval(Integral, 1, None, closed="left")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "missing_mechanism": [StrOptions({"mar", "self-masking"})],
    }

    def _make_module(self, n_columns: int) -> ImportanceVAE:
        """The unfitted model of ``n_columns`` standardized modelled columns."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fit
    def _fit_model(self, X_scaled: np.ndarray, observed: np.ndarray, seed: int) -> None:
        n_columns = X_scaled.shape[1]
        self.module_ = self._make_module(n_columns).to(device=self.device_, dtype=self.dtype_)
        self.latent_dim_ = self.module_.latent_dim
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
    def _fixed_draws(self, values: Tensor, observed: Tensor) -> ImportanceDraws:
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
        return self._per_row(X, lambda draws: draws.bound())

    def reconstruction_log_likelihood(self, X) -> np.ndarray:
        """``E_q[log p(x_obs | z)]`` of each row: the ELBO's reconstruction term.

        The decoder's log-likelihood of the observed entries, averaged over
        ``n_draws`` draws of the posterior ``q(z | x_obs)`` (the fixed noise
        of ``transform``), in the units of ``X``. Its negative is the
        reconstruction error of the VAE literature; unlike
        :meth:`score_samples` it leaves out the prior and the posterior's
        own density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
        """
        return self._per_row(X, lambda draws: draws.log_likelihood.mean(0))

    def _per_row(self, X, statistic) -> np.ndarray:
        """A per-row log-likelihood statistic of the fixed draws, in the units of ``X``."""
        X_scaled, observed = self._modelled_input(X)
        with torch.no_grad():
            scores = self._map_chunks(lambda v, m: statistic(self._fixed_draws(v, m)),
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
