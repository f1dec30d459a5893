"""A normalizing flow: an invertible transform onto a simple base distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..distributions import GaussianMixtureBase, StandardLaplace, StandardNormal
from ..transforms import (
    AffineConstant,
    AffineCoupling,
    Compose,
    MaskedAutoregressive,
    MonotoneTransformer,
    Transform,
)


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
    def initialize(self, x: Tensor, seed: int) -> None:
        """Data-dependent initialization from a batch ``x``: the transform's
        layers, then the base distribution on the transformed batch."""
        self.base.initialize(self.transform.initialize(x), seed)

    def log_prob(self, x: Tensor) -> Tensor:
        """Per-row log-density of ``x``."""
        z, log_det = self.transform(x)
        return self.base.log_prob(z) + log_det

    def sample(self, n_samples: int, n_features: int, generator: torch.Generator) -> Tensor:
        """Draw rows by pushing base samples through the inverse transform."""
        reference = next(self.parameters())
        z = self.base.sample(n_samples, n_features, generator, dtype=reference.dtype)
        return self.transform.inverse(z.to(reference.device))


def coupling_transform(
    masks: np.ndarray,
    hidden_dims: Sequence[int],
    activation: str,
    log_scale_bound: float,
) -> Compose:
    """RealNVP-style stack: per layer an affine-constant layer, then an affine coupling.

    Parameters
    ----------
    masks : ndarray of shape (n_layers, n_features)
        One coupling mask per layer (1 = transformed, 0 = conditioning). With
        a single feature no coupling is possible and the layers are
        affine-constant only.
    hidden_dims, activation, log_scale_bound
        Passed to :class:`~flowimpute.transforms.AffineCoupling`.
    """
    n_layers, n_features = masks.shape
    layers: list[Transform] = []
    for mask in masks:
        layers.append(AffineConstant(n_features))
        if n_features > 1:
            layers.append(AffineCoupling(mask, hidden_dims, activation, log_scale_bound))
    return Compose(*layers)


def autoregressive_transform(
    n_features: int,
    n_flows: int,
    transformer: MonotoneTransformer,
    hidden_dims: Sequence[int],
    activation: str,
) -> Compose:
    """Neural autoregressive stack: per flow an affine-constant layer, then a
    masked autoregressive layer; the order alternates between natural and
    reversed, so every feature is conditioned on every other within two flows.

    Parameters
    ----------
    n_features, n_flows : int
        Width and number of autoregressive layers.
    transformer : MonotoneTransformer
        Element-wise map shared by all layers (each layer has its own MADE).
    hidden_dims, activation
        Passed to :class:`~flowimpute.transforms.MaskedAutoregressive`.
    """
    layers: list[Transform] = []
    for flow in range(n_flows):
        order = range(n_features) if flow % 2 == 0 else range(n_features - 1, -1, -1)
        layers.append(AffineConstant(n_features))
        layers.append(MaskedAutoregressive(transformer, order, hidden_dims, activation))
    return Compose(*layers)
