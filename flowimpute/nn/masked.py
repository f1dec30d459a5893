"""Masked multilayer perceptrons: outputs that depend only on chosen inputs.

:class:`MaskedMLP` takes an adjacency matrix, ``adjacency[i, j]`` true when
output feature ``i`` may depend on input feature ``j``, and masks every weight
so that no other path exists. An autoregressive order (MADE) is the special
case of a strictly triangular adjacency; a Bayesian network's parent sets are
another. A context, when given, is an input that every output may depend on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .mlp import ACTIVATIONS


class MaskedLinear(nn.Linear):
    """Linear layer whose weight is multiplied by a fixed 0/1 mask."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def hidden_input_sets(adjacency: Tensor) -> Tensor:
    """The input sets hidden units are given, in the order they are dealt out.

    The distinct non-empty rows of ``adjacency``, fewest inputs first (ties in
    order of first appearance): a hidden unit with one of these sets may feed
    every output whose row contains it, so any dependency an output is allowed
    can pass through the hidden layers. For an autoregressive order these are
    the sets ``order[:1], order[:2], ...``, MADE's degrees 1, 2, ...
    """
    rows: list[Tensor] = []
    for row in adjacency:
        if row.any() and not any(torch.equal(row, seen) for seen in rows):
            rows.append(row)
    rows.sort(key=lambda row: int(row.sum()))   # stable: ties keep their order
    if not rows:
        return torch.zeros(1, adjacency.shape[1], dtype=torch.bool)
    return torch.stack(rows)


class MaskedMLP(nn.Module):
    """An MLP in which output ``i`` depends only on the inputs ``adjacency[i]``.

    Hidden unit ``u`` of every layer is given the input set
    ``sets[u % len(sets)]`` (:func:`hidden_input_sets`); a unit sees the
    inputs of its set and the units of earlier layers whose sets are subsets
    of its own, and output ``i`` sees the units whose sets lie within
    ``adjacency[i]``. Every output has ``n_params`` values.

    Parameters
    ----------
    adjacency : Tensor of bool, shape (n_outputs, n_inputs)
        Which inputs each output feature may depend on.
    hidden_dims : sequence of int
        Hidden widths.
    n_params : int
        Values per output feature.
    activation : {"relu", "tanh", "silu", "elu"}
        Hidden non-linearity.
    context_features : int, default=0
        Width of an optional context: inputs that every output may depend on
        (for a conditional flow, the observed values and the mask).
    """

    def __init__(
        self,
        adjacency: Tensor,
        hidden_dims: Sequence[int],
        n_params: int,
        activation: str,
        context_features: int = 0,
    ) -> None:
        super().__init__()
        adjacency = torch.as_tensor(adjacency, dtype=torch.bool)
        if adjacency.ndim != 2:
            raise ValueError(f"adjacency must be a matrix, got shape {tuple(adjacency.shape)}.")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
        self.n_outputs, self.n_inputs = adjacency.shape
        self.n_params = n_params
        self.context_features = context_features
        # The context is one more input that every output may depend on.
        adjacency = torch.cat(
            [adjacency, torch.ones(self.n_outputs, context_features, dtype=torch.bool)], dim=1)
        masks = layer_masks(hidden_input_sets(adjacency), hidden_dims,
                            adjacency.repeat_interleave(n_params, dim=0))
        layers: list[nn.Module] = []
        for mask in masks[:-1]:
            layers += [MaskedLinear(mask.shape[1], mask.shape[0], mask),
                       ACTIVATIONS[activation]()]
        layers.append(MaskedLinear(masks[-1].shape[1], masks[-1].shape[0], masks[-1]))
        self.network = nn.Sequential(*layers)

    @property
    def last_layer(self) -> MaskedLinear:
        """The output layer (for initializations that set its weights and bias)."""
        return self.network[-1]

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Outputs of shape (n, n_outputs, n_params) for inputs ``x`` (n, n_inputs)."""
        if self.context_features:
            if context is None:
                raise ValueError(f"this network needs a context of {self.context_features} "
                                 "features.")
            x = torch.cat([x, context], dim=1)
        return self.network(x).unflatten(1, (self.n_outputs, self.n_params))


def layer_masks(sets: Tensor, hidden_dims: Sequence[int], output_sets: Tensor) -> list[Tensor]:
    """The 0/1 masks, shaped like the weights, of an MLP with given input sets.

    Hidden unit ``u`` of every layer is given the input set
    ``sets[u % len(sets)]``; a first-layer unit sees the inputs of its set, a
    later unit the units of the previous layer whose sets lie within its own,
    and output ``k`` the last hidden units whose sets lie within
    ``output_sets[k]`` (with no hidden layer, the inputs of
    ``output_sets[k]``). So output ``k`` depends on no input outside
    ``output_sets[k]``, and on every one inside it that some set within it
    holds.

    Parameters
    ----------
    sets : Tensor of bool, shape (n_sets, n_inputs)
        Non-empty input sets dealt to the hidden units in turn.
    hidden_dims : sequence of int
        Hidden widths.
    output_sets : Tensor of bool, shape (n_outputs, n_inputs)
        The inputs each output may depend on.
    """
    masks: list[Tensor] = []
    previous: Tensor | None = None          # input sets of the previous hidden layer
    for width in hidden_dims:
        unit_sets = sets[torch.arange(width) % sets.shape[0]]
        masks.append(unit_sets if previous is None else _subsets(previous, unit_sets))
        previous = unit_sets
    masks.append(output_sets if previous is None else _subsets(previous, output_sets))
    return masks


def _subsets(previous: Tensor, current: Tensor) -> Tensor:
    """``mask[a, b]``: the non-empty input set ``previous[b]`` lies within ``current[a]``."""
    within = (previous.unsqueeze(0) & ~current.unsqueeze(1)).sum(-1) == 0
    return within & previous.any(-1).unsqueeze(0)
