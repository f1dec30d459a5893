"""Autoregressive flow layer: a MADE conditioner driving a monotone transformer."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..nn.masked import MaskedMLP
from .base import Transform
from .monotone import MonotoneTransformer


class MADE(MaskedMLP):
    """Masked autoencoder for distribution estimation (Germain et al., 2015).

    Maps ``x`` (n, d) to pseudo-parameters (n, d, n_params) such that the
    parameters of feature ``order[k]`` depend only on the features
    ``order[:k]`` (and the context, if any): the :class:`~flowimpute.nn.masked.MaskedMLP`
    of the strictly triangular adjacency of ``order``. Hidden units get the
    input sets ``order[:1], order[:2], ...`` in turn (MADE's degrees).

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
    context_features : int, default=0
        Width of a context every feature's parameters may depend on.
    """

    def __init__(
        self,
        order: Sequence[int],
        hidden_dims: Sequence[int],
        n_params: int,
        activation: str,
        initial_params: Tensor,
        context_features: int = 0,
    ) -> None:
        order = torch.as_tensor(list(order))
        d = order.numel()
        if sorted(order.tolist()) != list(range(d)):
            raise ValueError(f"order must be a permutation of range({d}), got {order.tolist()}.")
        super().__init__(autoregressive_adjacency(order), hidden_dims, n_params, activation,
                         context_features)
        self.register_buffer("order", order)
        self.n_features = d
        with torch.no_grad():
            self.last_layer.weight.mul_(1e-2)
            self.last_layer.bias.copy_(initial_params.to(self.last_layer.bias.dtype).repeat(d))


def autoregressive_adjacency(order: Tensor) -> Tensor:
    """``adjacency[i, j]``: feature ``j`` comes before feature ``i`` in ``order``."""
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    return rank.unsqueeze(0) < rank.unsqueeze(1)


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
    context_features : int, default=0
        Width of the context the conditioner also reads.
    """

    def __init__(
        self,
        transformer: MonotoneTransformer,
        order: Sequence[int],
        hidden_dims: Sequence[int],
        activation: str = "relu",
        context_features: int = 0,
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.conditioner = MADE(order, hidden_dims, transformer.n_params, activation,
                                transformer.initial_params(), context_features)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y, log_derivative = self.transformer(x, self.conditioner(x, context))
        return y, log_derivative.sum(dim=1)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        x = torch.zeros_like(y)
        with torch.no_grad():
            for feature in self.conditioner.order.tolist():
                params = self.conditioner(x, context)[:, feature]
                x[:, feature] = self.transformer.inverse(y[:, feature], params)
        return x
