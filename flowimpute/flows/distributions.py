"""Base distributions of the flows: standard normal, standard Laplace, and a
learned mixture of Gaussians."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from ..inference.gaussian_mixture import kmeans_labels


class _FixedDistribution:
    """A base distribution without parameters: nothing to initialize."""

    def initialize(self, z: Tensor, seed: int) -> None:
        """Nothing to learn from ``z``."""


class StandardNormal(_FixedDistribution):
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


class StandardLaplace(_FixedDistribution):
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


class GaussianMixtureBase(nn.Module):
    """A mixture of Gaussians with diagonal covariances, learned with the flow.

    A flow onto one Gaussian must bend a table made of separate groups
    (letters, grape varieties, machine states) into a single bump; a mixture
    base lets each group keep a bump of its own, so the flow only has to
    model the shape within groups. The means, scales and weights are
    parameters trained with the flow by maximum likelihood, started from a
    k-means clustering of the flow's initial latent rows
    (:meth:`initialize`).

    Parameters
    ----------
    n_features : int
        Width of the latent rows.
    n_components : int
        Number of Gaussians.
    """

    name = "mixture"

    #: Smallest initial scale of a component (latent units, about standardized):
    #: a cluster of one row or of repeated values must not start as a spike.
    MIN_INITIAL_SCALE = 0.1

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        self.means = nn.Parameter(torch.zeros(n_components, n_features, dtype=torch.float64))
        self.log_scales = nn.Parameter(
            torch.zeros(n_components, n_features, dtype=torch.float64))
        self.logits = nn.Parameter(torch.zeros(n_components, dtype=torch.float64))

    @torch.no_grad()
    def initialize(self, z: Tensor, seed: int) -> None:
        """Start from k-means on latent rows ``z``: each component at a
        cluster's center with its per-coordinate spread (at least
        :attr:`MIN_INITIAL_SCALE`) and weight."""
        n_components = self.logits.shape[0]
        if z.shape[0] < n_components:
            raise ValueError(f"A mixture base of {n_components} components needs at least "
                             f"{n_components} training rows, got {z.shape[0]}.")
        points = z.detach().to("cpu", torch.float64).numpy()
        labels = kmeans_labels(points, n_components, seed)   # empty clusters: below
        counts = np.bincount(labels, minlength=n_components)
        means = np.tile(points.mean(0), (n_components, 1))
        scales = np.tile(points.std(0), (n_components, 1))
        for k in np.flatnonzero(counts):
            means[k], scales[k] = points[labels == k].mean(0), points[labels == k].std(0)
        self.means.copy_(torch.as_tensor(means))
        self.log_scales.copy_(torch.as_tensor(np.log(np.maximum(scales,
                                                                self.MIN_INITIAL_SCALE))))
        # An empty cluster starts as a broad component of little weight.
        weights = np.maximum(counts, 1e-3) / counts.sum()
        self.logits.copy_(torch.as_tensor(np.log(weights)))

    def log_prob(self, z: Tensor) -> Tensor:
        """Per-row log-density of ``z`` of shape (n, d)."""
        standardized = (z.unsqueeze(1) - self.means) * torch.exp(-self.log_scales)
        per_component = (-0.5 * standardized.pow(2) - self.log_scales).sum(2) - (
            0.5 * z.shape[1] * math.log(2 * math.pi))
        return torch.logsumexp(per_component + torch.log_softmax(self.logits, 0), dim=1)

    def sample(
        self,
        n_samples: int,
        n_features: int,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float64,
    ) -> Tensor:
        """Draw ``n_samples`` rows on ``generator``'s device: a component by
        its weight, then a point of it."""
        device = generator.device
        weights = torch.softmax(self.logits.detach(), 0).to(device, dtype)
        component = torch.multinomial(weights, n_samples, replacement=True, generator=generator)
        noise = torch.randn(n_samples, n_features, generator=generator, dtype=dtype,
                            device=device)
        means = self.means.detach().to(device, dtype)
        scales = torch.exp(self.log_scales.detach()).to(device, dtype)
        return means[component] + scales[component] * noise


BASE_DISTRIBUTIONS = {"normal": StandardNormal, "laplace": StandardLaplace}

#: What ``base_distribution`` may name in the density estimators.
BASE_DISTRIBUTION_NAMES = frozenset({*BASE_DISTRIBUTIONS, GaussianMixtureBase.name})


def make_base_distribution(
    name: str, n_features: int = 1, n_components: int = 1,
) -> StandardNormal | StandardLaplace | GaussianMixtureBase:
    """Base distribution by name: ``"normal"``, ``"laplace"``, or
    ``"mixture"`` (a :class:`GaussianMixtureBase` of ``n_components``
    Gaussians over ``n_features`` coordinates)."""
    if name == GaussianMixtureBase.name:
        return GaussianMixtureBase(n_features, n_components)
    try:
        return BASE_DISTRIBUTIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown base distribution {name!r}; choose one of "
            f"{sorted(BASE_DISTRIBUTION_NAMES)}."
        ) from None
