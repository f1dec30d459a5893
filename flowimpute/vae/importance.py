"""Latent-variable models of incomplete rows, weighed by importance sampling.

A model gives a posterior ``q(z | x_o)`` (draws and their log-density), a
prior ``p(z)`` and a decoder ``p(x | z)`` that is independent across
columns. :meth:`ImportanceVAE.draws` combines them into importance weights
``p(x_o | z) p(z) / q(z | x_o)`` over the observed entries only, whose
log-mean-exp is the importance-weighted bound on ``log p(x_o)`` (IWAE;
MIWAE for incomplete rows), and whose normalized values weigh imputations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inference.missingness import LearnedSelfMasking

LIKELIHOODS = ("gaussian", "student_t")

#: Floor on the decoder's scales (standardized units): a column the decoder
#: predicts exactly must not drive its likelihood to infinity.
MIN_SCALE = 1e-3

#: Student-t degrees of freedom are 3 plus a softplus, so variances stay finite.
MIN_DEGREES_OF_FREEDOM = 3.0


@dataclass
class ImportanceDraws:
    """``K`` posterior draws per row and what imputation needs of them.

    ``z`` (K, n, latent), ``log_weights`` (K, n) (the log importance
    weights ``log p(x_o | z) + log p(z) - log q(z | x_o)``),
    ``log_likelihood`` (K, n) (their first term), and the decoded ``loc``,
    ``scale`` and ``degrees_of_freedom`` (K, n, d) of each column
    (``degrees_of_freedom`` None for a Gaussian likelihood).
    """

    z: Tensor
    log_weights: Tensor
    log_likelihood: Tensor
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


class ImportanceVAE(nn.Module):
    """A decoder's likelihood, an optional missingness model, and the
    importance draws built from a subclass's posterior, prior and decoder.

    A subclass sets ``latent_dim`` and implements :meth:`posterior`,
    :meth:`log_prior` and :meth:`decoder_outputs`.

    Parameters
    ----------
    n_features : int
    likelihood : {"gaussian", "student_t"}
    self_masking : bool
        Learn a self-masking missingness model jointly (not-MIWAE, Ipsen et
        al. 2021): each draw of ``z`` also draws the missing entries, and the
        weight gains ``log p(m | x)``. Needs the Gaussian likelihood.
    """

    latent_dim: int

    def __init__(self, n_features: int, likelihood: str, self_masking: bool) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        if self_masking and likelihood != "gaussian":
            raise ValueError("the self-masking missingness model needs likelihood='gaussian' "
                             "(its fixed draws of the missing entries are Gaussian).")
        self.likelihood = likelihood
        self.missingness = LearnedSelfMasking(n_features) if self_masking else None
        #: Location and scale of every column, and Student-t's degrees of freedom.
        self.outputs_per_column = 3 if likelihood == "student_t" else 2

    def posterior(self, values: Tensor, observed: Tensor, noise: Tensor
                  ) -> tuple[Tensor, Tensor]:
        """Draws ``z`` (K, n, latent) of ``q(z | x_o)`` from standard normal
        ``noise`` (K, n or 1, latent), and their log-densities (K, n)."""
        raise NotImplementedError

    def log_prior(self, z: Tensor) -> Tensor:
        """``log p(z)`` over the last axis."""
        raise NotImplementedError

    def decoder_outputs(self, z: Tensor) -> Tensor:
        """Unconstrained outputs (..., n_features, ``outputs_per_column``)."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Location, scale and degrees of freedom of every column given ``z``."""
        out = self.decoder_outputs(z)
        loc, scale = out[..., 0], F.softplus(out[..., 1]) + MIN_SCALE
        if self.likelihood == "student_t":
            return loc, scale, F.softplus(out[..., 2]) + MIN_DEGREES_OF_FREEDOM
        return loc, scale, None

    def draws(self, values: Tensor, observed: Tensor, noise: Tensor,
              completion_noise: Tensor | None = None) -> ImportanceDraws:
        """Importance draws for rows ``values`` (n, d) with mask ``observed``;
        ``noise`` (K, n or 1, latent) is the standard normal noise of the
        posterior's base, ``completion_noise`` (K, n or 1, d) that of the
        missing entries' draws under the missingness model (None: torch's
        global RNG)."""
        observed_float = observed.to(values.dtype)
        z, log_q = self.posterior(values, observed, noise)
        loc, scale, degrees_of_freedom = self.decode(z)
        distribution = self._distribution(loc, scale, degrees_of_freedom)
        log_likelihood = (distribution.log_prob(values) * observed_float).sum(-1)
        log_weights = log_likelihood + self.log_prior(z) - log_q
        completed = None
        if self.missingness is not None:
            drawn = (distribution.rsample() if completion_noise is None
                     else loc + scale * completion_noise)
            completed = values * observed_float + drawn * (1 - observed_float)
            log_weights = log_weights + self.missingness.log_prob(completed, ~observed)
        return ImportanceDraws(z, log_weights, log_likelihood, loc, scale, degrees_of_freedom,
                               completed)

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


def standard_normal_log_prob(u: Tensor) -> Tensor:
    """``log N(u; 0, I)`` over the last axis."""
    return -0.5 * (u ** 2).sum(-1) - 0.5 * u.shape[-1] * math.log(2 * math.pi)
