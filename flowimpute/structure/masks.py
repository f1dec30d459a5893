"""Coupling masks: parity, random, and validation of user-given masks.

A mask is an array of shape (n_layers, n_features) of 0 and 1: in layer ``l``
feature ``i`` is transformed where ``mask[l, i] == 1`` and conditions the
transformation where ``mask[l, i] == 0``.
"""

from __future__ import annotations

import numpy as np


def parity_masks(n_layers: int, n_features: int) -> np.ndarray:
    """Alternate odd and even features: layer 0 transforms the odd indices,
    conditioned on the even ones, layer 1 the other way round, and so on."""
    index_parity = np.arange(n_features) % 2
    layer_parity = np.arange(n_layers)[:, None] % 2
    return (index_parity[None, :] != layer_parity).astype(np.int64)


def random_masks(
    n_layers: int, n_features: int, random_state: np.random.RandomState
) -> np.ndarray:
    """Each layer conditions on ``n_features // 2`` features chosen at random."""
    n_conditioning = n_features // 2
    masks = np.ones((n_layers, n_features), dtype=np.int64)
    for layer in range(n_layers):
        masks[layer, random_state.permutation(n_features)[:n_conditioning]] = 0
    return masks


def check_masks(masks, n_layers: int, n_features: int) -> np.ndarray:
    """Validate an explicit mask array and return it as int64.

    Raises
    ------
    ValueError
        If the shape is not (n_layers, n_features), an entry is not 0 or 1, or
        a layer lacks a transformed or a conditioning feature.
    """
    masks = np.asarray(masks)
    if masks.shape != (n_layers, n_features):
        raise ValueError(
            f"mask must have shape (n_layers, n_features) = ({n_layers}, {n_features}), "
            f"got {masks.shape}."
        )
    if not np.isin(masks, (0, 1)).all():
        raise ValueError("mask entries must be 0 (conditioning) or 1 (transformed).")
    if n_features > 1:
        for layer, row in enumerate(masks):
            if row.all() or not row.any():
                raise ValueError(
                    f"mask row {layer} must contain both 0 (conditioning) and "
                    f"1 (transformed) entries, got {row.tolist()}."
                )
    return masks.astype(np.int64)
