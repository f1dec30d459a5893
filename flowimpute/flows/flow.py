"""A normalizing flow: an invertible transform onto a simple base distribution."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..transforms import Transform
from .distributions import GaussianMixtureBase, StandardLaplace, StandardNormal


class Flow(nn.Module):
    """Density ``log p(x) = log p_base(T(x)) + log|det dT/dx|``.

    Parameters
    ----------
    transform : Transform
        Maps data to the base space.
    base : StandardNormal, StandardLaplace or GaussianMixtureBase
        Base distribution (a mixture's parameters are trained with the flow).
    """

    def __init__(self, transform: Transform,
                 base: StandardNormal | StandardLaplace | GaussianMixtureBase):
        super().__init__()
        self.transform = transform
        self.base = base

    @torch.no_grad()
    def initialize(self, x: Tensor, seed: int, context: Tensor | None = None) -> None:
        """Data-dependent initialization from a batch ``x``: the transform's
        layers, then the base distribution on the transformed batch."""
        self.base.initialize(self.transform.initialize(x, context), seed)

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Per-row log-density of ``x`` (given ``context``, for a conditional flow).

        Exact when the transform's ``exact_log_det`` is true; otherwise an
        unbiased estimate.
        """
        z, log_det = self.transform(x, context)
        return self.base.log_prob(z) + log_det

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator,
               context: Tensor | None = None) -> Tensor:
        """Draw rows by pushing base samples through the inverse transform
        (with a ``context``, one row per context row: ``n_samples`` must equal
        its length)."""
        if not self.transform.has_inverse:
            raise NotImplementedError(
                f"{type(self.transform).__name__} has no inverse, so this flow cannot sample.")
        reference = next(self.parameters())
        z = self.base.sample(n_samples, n_features, generator, dtype=reference.dtype)
        return self.transform.inverse(z.to(reference.device), context)
