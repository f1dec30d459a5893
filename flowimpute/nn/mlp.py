"""Small multilayer perceptrons used as conditioners."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "elu": nn.ELU,
}

#: In-place versions of the activations whose gradient needs only their
#: output, so they may overwrite a freshly computed pre-activation even under
#: autograd. Overwriting saves allocating (and page-faulting) a second tensor
#: of the hidden layer's size (user guide, "Speed and scale").
IN_PLACE_ACTIVATIONS = {"relu": torch.relu_, "tanh": torch.tanh_}


def make_mlp(
    in_features: int,
    hidden_dims: Sequence[int],
    out_features: int,
    activation: str = "relu",
    zero_last: bool = True,
) -> nn.Sequential:
    """Fully connected network ``in -> hidden... -> out``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    hidden_dims : sequence of int
        Widths of the hidden layers (may be empty: a single linear layer).
    activation : {"relu", "tanh", "silu", "elu"}
        Non-linearity after every hidden layer.
    zero_last : bool
        Zero the last layer's weights and bias so the network starts by
        returning zeros (a coupling layer then starts as the identity).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
        )
    layers: list[nn.Module] = []
    width = in_features
    for hidden in hidden_dims:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    last = nn.Linear(width, out_features)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)
