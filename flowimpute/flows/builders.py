"""The transform stacks of the flow densities: RealNVP-style coupling and neural autoregressive."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..transforms import (
    AffineConstant,
    AffineCoupling,
    Compose,
    MaskedAutoregressive,
    MonotoneTransformer,
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
