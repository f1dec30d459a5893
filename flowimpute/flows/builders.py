"""The transform stacks of the flow densities: coupling, neural autoregressive, residual, planar."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..transforms import (
    AffineConstant,
    AffineCoupling,
    Compose,
    MaskedAutoregressive,
    MonotoneTransformer,
    Planar,
    ResidualBlock,
    Transform,
)


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


def residual_transform(
    n_features: int,
    n_blocks: int,
    hidden_dims: Sequence[int],
    adjacency: np.ndarray | None = None,
    lipschitz: float = 0.97,
    log_det: str = "exact",
    context_features: int = 0,
) -> Compose:
    """Residual flow: per block an affine-constant layer (ActNorm), then an
    invertible residual block; with ``adjacency`` (a DAG, ``adjacency[i, j]``
    for an edge ``i -> j``) every block is graphical, so the whole flow maps
    each feature using only the feature and its ancestors.

    Parameters
    ----------
    n_features, n_blocks : int
    hidden_dims, adjacency, lipschitz, log_det, context_features
        Passed to :class:`~flowimpute.transforms.ResidualBlock`.
    """
    layers: list[Transform] = []
    for _ in range(n_blocks):
        layers.append(AffineConstant(n_features))
        layers.append(ResidualBlock(n_features, hidden_dims, adjacency=adjacency,
                                    lipschitz=lipschitz, log_det=log_det,
                                    context_features=context_features))
    return Compose(*layers)


def planar_transform(n_features: int, n_layers: int, context_features: int = 0) -> Compose:
    """An affine-constant layer (ActNorm), then ``n_layers`` planar layers."""
    return Compose(AffineConstant(n_features),
                   *(Planar(n_features, context_features) for _ in range(n_layers)))
