"""Autoregressive flow layer: a MADE conditioner driving a monotone transformer."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.mlp import ACTIVATIONS
from .base import Transform
from .monotone import MonotoneTransformer


class MaskedLinear(nn.Linear):
    """Linear layer whose weight is multiplied by a fixed 0/1 mask."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    Maps ``x`` (n, d) to pseudo-parameters (n, d, n_params) such that the
    parameters of feature ``order[k]`` depend only on the features
    ``order[:k]``. Hidden units get degrees ``1 .. d-1`` in turn; a unit of
    degree ``m`` sees the first ``m`` features of the order, and an output of
    the ``k``-th feature sees units of degree ``< k``.

    Parameters
    ----------
    order : sequence of int
        A permutation of ``range(d)``: the autoregressive order.
    hidden_dims : sequence of int
        Hidden widths.
    n_params : int
        Pseudo-parameters per feature.
    activation : {"relu", "tanh", "silu", "elu"}
        Hidden non-linearity.
    initial_params : Tensor of shape (n_params,)
        Output bias: the parameters every feature starts with. The last
        layer's weights start small, so the layer starts near the map these
        parameters define.
    """

    def __init__(
        self,
        order: Sequence[int],
        hidden_dims: Sequence[int],
        n_params: int,
        activation: str,
        initial_params: Tensor,
    ) -> None:
        super().__init__()
        order = torch.as_tensor(list(order))
        d = order.numel()
        if sorted(order.tolist()) != list(range(d)):
            raise ValueError(f"order must be a permutation of range({d}), got {order.tolist()}.")
        degree_in = torch.empty(d, dtype=torch.long)
        degree_in[order] = torch.arange(1, d + 1)
        self.register_buffer("order", order)
        self.n_features = d
        self.n_params = n_params
        layers: list[nn.Module] = []
        previous = degree_in
        for width in hidden_dims:
            degree = torch.arange(width) % max(1, d - 1) + 1
            layers += [MaskedLinear(previous.numel(), width,
                                    degree.unsqueeze(1) >= previous.unsqueeze(0)),
                       ACTIVATIONS[activation]()]
            previous = degree
        degree_out = degree_in.repeat_interleave(n_params)
        last = MaskedLinear(previous.numel(), d * n_params,
                            degree_out.unsqueeze(1) > previous.unsqueeze(0))
        with torch.no_grad():
            last.weight.mul_(1e-2)
            last.bias.copy_(initial_params.to(last.bias.dtype).repeat(d))
        layers.append(last)
        self.network = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x).unflatten(1, (self.n_features, self.n_params))


class MaskedAutoregressive(Transform):
    """``y_i = tau(x_i; MADE(x)_i)`` with a monotone transformer ``tau``.

    The Jacobian is triangular in the autoregressive order, so the
    log-determinant is the sum of the transformer's log-derivatives. The
    inverse runs the order one feature at a time (``d`` conditioner passes),
    inverting each transformer numerically unless it has a closed form.

    Parameters
    ----------
    transformer : MonotoneTransformer
        The element-wise map (affine, DSF or DDSF).
    order : sequence of int
        Autoregressive order of the features.
    hidden_dims : sequence of int
        Hidden widths of the MADE conditioner.
    activation : {"relu", "tanh", "silu", "elu"}, default="relu"
        Conditioner non-linearity.
    """

    def __init__(
        self,
        transformer: MonotoneTransformer,
        order: Sequence[int],
        hidden_dims: Sequence[int],
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.conditioner = MADE(order, hidden_dims, transformer.n_params, activation,
                                transformer.initial_params())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, log_derivative = self.transformer(x, self.conditioner(x))
        return y, log_derivative.sum(dim=1)

    def inverse(self, y: Tensor) -> Tensor:
        x = torch.zeros_like(y)
        with torch.no_grad():
            for feature in self.conditioner.order.tolist():
                params = self.conditioner(x)[:, feature]
                x[:, feature] = self.transformer.inverse(y[:, feature], params)
        return x
