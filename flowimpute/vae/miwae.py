"""A VAE of incomplete rows, fitted by the importance-weighted bound on observed entries.

MIWAE (Mattei and Frellsen, 2019): the encoder reads a row with its missing
entries set to zero, and its mask; the decoder gives an independent
likelihood per column given the latent code ``z``; the bound

``log p(x_o) >= E[log (1/K) sum_k p(x_o | z_k) p(z_k) / q(z_k | x_o)]``

scores observed entries only, so the model is fitted on incomplete data
directly. The posterior ``q`` is a diagonal Gaussian, optionally followed by
planar or residual layers whose parameters follow the encoder's output
(an amortized flow posterior).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inference.missingness import LearnedSelfMasking
from ..nn.mlp import make_mlp
from ..transforms import Compose, Planar, ResidualBlock, Transform

LIKELIHOODS = ("gaussian", "student_t")
POSTERIOR_FLOWS = ("none", "planar", "residual")

#: Floor on the decoder's scales (standardized units): a column the decoder
#: predicts exactly must not drive its likelihood to infinity.
MIN_SCALE = 1e-3

#: Student-t degrees of freedom are 3 plus a softplus, so variances stay finite.
MIN_DEGREES_OF_FREEDOM = 3.0


@dataclass
class ImportanceDraws:
    """``K`` posterior draws per row and what imputation needs of them.

    ``z`` (K, n, latent), ``log_weights`` (K, n) (the log importance
    weights ``log p(x_o | z) + log p(z) - log q(z | x_o)``), and the decoded
    ``loc``, ``scale`` and ``degrees_of_freedom`` (K, n, d) of each column
    (``degrees_of_freedom`` None for a Gaussian likelihood).
    """

    z: Tensor
    log_weights: Tensor
    loc: Tensor
    scale: Tensor
    degrees_of_freedom: Tensor | None
    completed: Tensor | None = None

    def imputation_values(self) -> Tensor:
        """Per draw, the values whose weighted mean is the conditional mean:
        the decoded locations, or under a missingness model (whose weight
        depends on the missing values themselves) the drawn completions."""
        return self.loc if self.completed is None else self.completed

    def bound(self) -> Tensor:
        """The importance-weighted bound on ``log p(x_o)`` of each row."""
        return torch.logsumexp(self.log_weights, dim=0) - math.log(self.log_weights.shape[0])

    def weights(self) -> Tensor:
        """Self-normalized importance weights (K, n)."""
        return torch.softmax(self.log_weights, dim=0)


def _latent_flow(kind: str, latent_dim: int, n_layers: int,
                 context_features: int) -> Transform | None:
    """Planar or residual layers over the latent code (None for "none");
    residual blocks compute their exact log-determinant (latent codes are small)."""
    if kind == "planar":
        return Compose(*(Planar(latent_dim, context_features) for _ in range(n_layers)))
    if kind == "residual":
        return Compose(*(ResidualBlock(latent_dim, (64,), context_features=context_features)
                         for _ in range(n_layers)))
    return None


class MIWAE(nn.Module):
    """Encoder, decoder and optional flow posterior of a missing-data VAE.

    Parameters
    ----------
    n_features, latent_dim : int
    hidden_dims : sequence of int
        Hidden widths of the encoder and of the decoder.
    activation : str
    likelihood : {"gaussian", "student_t"}
        Per-column likelihood; its location, scale (and degrees of freedom)
        come from the decoder.
    posterior_flow : {"none", "planar", "residual"}
    n_flow_layers : int
        Layers of the posterior flow, whose context is the encoder's output,
        and of the prior flow.
    prior_flow : {"none", "planar", "residual"}, default="none"
        A flow prior: ``log p(z) = log N(f(z)) + log |det df/dz|``.
    self_masking : bool, default=False
        Learn a self-masking missingness model jointly (not-MIWAE, Ipsen et
        al. 2021): each draw of ``z`` also draws the missing entries, and the
        weight gains ``log p(m | x)``. Needs the Gaussian likelihood.
    """

    def __init__(self, n_features: int, latent_dim: int, hidden_dims: Sequence[int],
                 activation: str, likelihood: str, posterior_flow: str,
                 n_flow_layers: int, prior_flow: str = "none",
                 self_masking: bool = False) -> None:
        super().__init__()
        if self_masking and likelihood != "gaussian":
            raise ValueError("the self-masking missingness model needs likelihood='gaussian' "
                             "(its fixed draws of the missing entries are Gaussian).")
        self.missingness = LearnedSelfMasking(n_features) if self_masking else None
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.encoder = make_mlp(2 * n_features, hidden_dims, 2 * latent_dim, activation,
                                zero_last=False)
        # Location and scale of every column, and Student-t's degrees of freedom.
        self.outputs_per_column = 3 if likelihood == "student_t" else 2
        self.decoder = make_mlp(latent_dim, hidden_dims, self.outputs_per_column * n_features,
                                activation, zero_last=False)
        self.flow = _latent_flow(posterior_flow, latent_dim, n_flow_layers, 2 * latent_dim)
        self.prior_flow = _latent_flow(prior_flow, latent_dim, n_flow_layers, 0)

    def _log_prior(self, z: Tensor) -> Tensor:
        if self.prior_flow is None:
            return torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        u, log_det = self.prior_flow(z.reshape(-1, z.shape[-1]))
        log_base = torch.distributions.Normal(0.0, 1.0).log_prob(u).sum(-1)
        return (log_base + log_det).view(z.shape[:-1])

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Location, scale and degrees of freedom of every column given ``z``."""
        out = self.decoder(z).unflatten(-1, (-1, self.outputs_per_column))
        loc, scale = out[..., 0], F.softplus(out[..., 1]) + MIN_SCALE
        if self.likelihood == "student_t":
            return loc, scale, F.softplus(out[..., 2]) + MIN_DEGREES_OF_FREEDOM
        return loc, scale, None

    def column_log_likelihood(self, x: Tensor, loc: Tensor, scale: Tensor,
                              degrees_of_freedom: Tensor | None) -> Tensor:
        return self._distribution(loc, scale, degrees_of_freedom).log_prob(x)

    def draws(self, values: Tensor, observed: Tensor, noise: Tensor,
              completion_noise: Tensor | None = None) -> ImportanceDraws:
        """Importance draws for rows ``values`` (n, d) with mask ``observed``;
        ``noise`` (K, n or 1, latent) is the standard normal noise of the
        posterior's base, ``completion_noise`` (K, n or 1, d) that of the
        missing entries' draws under the missingness model (None: torch's
        global RNG)."""
        observed_float = observed.to(values.dtype)
        filled = values * observed_float
        encoded = self.encoder(torch.cat([filled, observed_float], dim=1))
        mean, log_scale = encoded.chunk(2, dim=1)
        log_scale = log_scale.clamp(-10, 5)
        z = mean + torch.exp(log_scale) * noise                      # (K, n, latent)
        log_q = torch.distributions.Normal(mean, torch.exp(log_scale)).log_prob(z).sum(-1)
        if self.flow is not None:
            n_draws, n_rows = z.shape[:2]
            context = encoded.expand(n_draws, -1, -1).reshape(n_draws * n_rows, -1)
            z_flat, log_det = self.flow(z.reshape(n_draws * n_rows, -1), context)
            z = z_flat.view(n_draws, n_rows, -1)
            log_q = log_q - log_det.view(n_draws, n_rows)
        log_prior = self._log_prior(z)
        loc, scale, degrees_of_freedom = self.decode(z)
        log_likelihood = (self.column_log_likelihood(values, loc, scale, degrees_of_freedom)
                          * observed_float).sum(-1)
        log_weights = log_likelihood + log_prior - log_q
        completed = None
        if self.missingness is not None:
            drawn = (self._distribution(loc, scale, degrees_of_freedom).rsample()
                     if completion_noise is None else loc + scale * completion_noise)
            completed = values * observed_float + drawn * (1 - observed_float)
            log_weights = log_weights + self.missingness.log_prob(completed, ~observed)
        return ImportanceDraws(z, log_weights, loc, scale, degrees_of_freedom, completed)

    @staticmethod
    def _distribution(loc: Tensor, scale: Tensor, degrees_of_freedom: Tensor | None):
        if degrees_of_freedom is None:
            return torch.distributions.Normal(loc, scale)
        return torch.distributions.StudentT(degrees_of_freedom, loc, scale)

    def sample_columns(self, loc: Tensor, scale: Tensor,
                       degrees_of_freedom: Tensor | None) -> Tensor:
        """One draw of every column from its decoded likelihood (torch's
        global RNG: the caller seeds it)."""
        return self._distribution(loc, scale, degrees_of_freedom).sample()
