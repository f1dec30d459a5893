"""VAEImputer: a VAE fitted on incomplete rows (MIWAE), imputing by importance sampling."""

from __future__ import annotations

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from .._base import check_hidden_dims
from ..vae.miwae import MIWAE, POSTERIOR_FLOWS
from ._importance import ImportanceVAEImputer


class VAEImputer(ImportanceVAEImputer):
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
    posterior_flow : {{"none", "planar", "residual"}}, default="none"
        Layers after the encoder's Gaussian.
    prior_flow : {{"none", "planar", "residual"}}, default="none"
        A flow prior over the latent code instead of ``N(0, I)``: ``z``'s
        density is a standard normal's pushed through the inverse of the
        layers.
    n_flow_layers : int, default=4
        Layers of each flow (posterior, prior).
    {importance}
    {training}
    {imputer}
    {table}
    {compute}

    Attributes
    ----------
    module_ : MIWAE
        The fitted encoder, decoder and posterior flow (standardized
        modelled columns).
    {importance_attributes}
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
        **ImportanceVAEImputer._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_dims": [tuple, list],
        "posterior_flow": [StrOptions(set(POSTERIOR_FLOWS))],
        "prior_flow": [StrOptions(set(POSTERIOR_FLOWS))],
        "n_flow_layers": [Interval(Integral, 1, None, closed="left")],
    }

    parameters = {
        "latent_dim": "auto", "hidden_dims": (128, 128), "activation": "tanh",
        "posterior_flow": "none", "prior_flow": "none", "n_flow_layers": 4,
        "likelihood": "gaussian", "n_importance": 20, "n_draws": 200,
        "missing_mechanism": "mar", "max_epochs": 200, "batch_size": "auto",
        "learning_rate": 1e-3, "weight_decay": 0.0, "validation_fraction": 0.1,
        "n_iter_no_change": 20, "tol": 1e-4, "clip_grad_norm": 10.0,
    }

    def _make_module(self, n_columns: int) -> MIWAE:
        latent_dim = max(1, n_columns - 1) if self.latent_dim == "auto" else self.latent_dim
        return MIWAE(n_columns, latent_dim, check_hidden_dims(self.hidden_dims),
                     self.activation, self.likelihood, self.posterior_flow,
                     self.n_flow_layers, self.prior_flow,
                     self.missing_mechanism == "self-masking")
