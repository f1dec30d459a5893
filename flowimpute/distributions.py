"""Base distributions of the flows: standard normal and standard Laplace."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class StandardNormal:
    """Isotropic standard normal, N(0, I)."""

    name = "normal"

    def log_prob(self, z: Tensor) -> Tensor:
        """Per-row log-density of ``z`` of shape (n, d)."""
        return -0.5 * z.pow(2).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)

    def sample(
        self,
        n_samples: int,
        n_features: int,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Draw ``n_samples`` rows on ``generator``'s device."""
        return torch.randn(
            n_samples, n_features, generator=generator, dtype=dtype,
            device=generator.device,
        )


class StandardLaplace:
    """Independent standard Laplace coordinates, density ``exp(-|z|) / 2`` each."""

    name = "laplace"

    def log_prob(self, z: Tensor) -> Tensor:
        """Per-row log-density of ``z`` of shape (n, d)."""
        return -z.abs().sum(dim=1) - z.shape[1] * math.log(2.0)

    def sample(
        self,
        n_samples: int,
        n_features: int,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Draw ``n_samples`` rows by inverting the CDF of uniform draws."""
        u = torch.rand(
            n_samples, n_features, generator=generator, dtype=dtype,
            device=generator.device,
        )
        u = u.clamp(torch.finfo(dtype).tiny, 1.0 - torch.finfo(dtype).eps) - 0.5
        return -torch.sign(u) * torch.log1p(-2.0 * u.abs())


BASE_DISTRIBUTIONS = {"normal": StandardNormal, "laplace": StandardLaplace}


def make_base_distribution(name: str) -> StandardNormal | StandardLaplace:
    """Base distribution by name: ``"normal"`` or ``"laplace"``."""
    try:
        return BASE_DISTRIBUTIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown base distribution {name!r}; choose one of {sorted(BASE_DISTRIBUTIONS)}."
        ) from None
