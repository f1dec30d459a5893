"""Coupling over a subset of coordinates chosen row by row: the layer of an
arbitrary-conditional flow."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.mlp import make_mlp
from .base import Transform
from .monotone import MonotoneTransformer


def subset_context(x: Tensor, conditioning: Tensor, target: Tensor) -> Tensor:
    """The context of a row's split: the conditioning values (zero elsewhere),
    then the conditioning and target indicators, shape (n, 3 d)."""
    conditioning, target = conditioning.to(x.dtype), target.to(x.dtype)
    return torch.cat([x * conditioning, conditioning, target], dim=1)


class SubsetCoupling(Transform):
    """Coupling layer of ``p(x_target | x_conditioning)`` for any split of a row.

    Each row says, through its context (:func:`subset_context`), which of its
    ``d`` coordinates are conditioning values, which are targets (modelled),
    and which are neither (absent: missing, or left out). The layer has a
    fixed ``partition`` of the coordinates; it transforms the targets inside
    the partition, each by a monotone ``transformer`` whose parameters come
    from an MLP of the targets outside the partition, the conditioning
    values and both indicators. Every other coordinate passes unchanged with
    zero log-determinant, so stacking layers with complementary partitions
    gives a flow over the targets of each row, conditioned on its
    conditioning values (the coupling analogue of ACFlow's conditional
    transformations, Li et al. 2020). The conditioner's last layer starts at
    zero, so with a transformer whose zero parameters are the identity the
    layer starts as the identity.

    Parameters
    ----------
    partition : sequence of {0, 1}
        1 marks the coordinates this layer may transform.
    transformer : MonotoneTransformer
        The element-wise map (affine or spline).
    hidden_dims : sequence of int
        Hidden widths of the conditioner.
    activation : {"relu", "tanh", "silu", "elu"}, default="relu"
    """

    def __init__(self, partition: Sequence[int] | Tensor, transformer: MonotoneTransformer,
                 hidden_dims: Sequence[int], activation: str = "relu") -> None:
        super().__init__()
        partition = torch.as_tensor(partition).flatten()
        if not bool(((partition == 0) | (partition == 1)).all()) or partition.sum() == 0:
            raise ValueError("partition must hold only 0 and 1, with at least one 1; got "
                             f"{partition.tolist()}.")
        n_features = partition.numel()
        self.register_buffer("partition", partition.bool())
        self.register_buffer("inside", torch.nonzero(partition).flatten())
        self.transformer = transformer
        self.conditioner = make_mlp(4 * n_features, hidden_dims,
                                    self.inside.numel() * transformer.n_params, activation)
        with torch.no_grad():
            self.conditioner[-1].bias.copy_(transformer.initial_params().repeat(
                self.inside.numel()))

    def context_term(self, context: Tensor | None) -> Tensor:
        """The context's share of the conditioner's first layer (its bias
        included): the same for every draw of a row, so
        :meth:`inverse` may be given it once for many draws."""
        n_features = self.partition.numel()
        if context is None or context.shape[1] != 3 * n_features:
            raise ValueError(f"SubsetCoupling needs a context of {3 * n_features} features "
                             "(subset_context).")
        first = self.conditioner[0]
        return F.linear(context, first.weight[:, n_features:], first.bias)

    def _parameters_and_moved(self, x: Tensor, context: Tensor | None,
                              context_term: Tensor | None) -> tuple[Tensor, Tensor]:
        """The transformer's parameters of the inside coordinates and which
        of them move (targets), from the coordinates that stay fixed."""
        if context_term is None:
            context_term = self.context_term(context)
        n_features = self.partition.numel()
        target = context[:, 2 * n_features:]
        first = self.conditioner[0]
        hidden = F.linear(x * (target * ~self.partition), first.weight[:, :n_features])
        raw = self.conditioner[1:](hidden + context_term)
        params = raw.view(x.shape[0], self.inside.numel(), self.transformer.n_params)
        return params, target[:, self.inside] > 0

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        params, moved = self._parameters_and_moved(x, context, None)
        x_inside = x[:, self.inside]
        y_inside, log_derivative = self.transformer(x_inside, params)
        y_inside = torch.where(moved, y_inside, x_inside)
        log_det = torch.where(moved, log_derivative, torch.zeros_like(log_derivative)).sum(1)
        return x.index_copy(1, self.inside, y_inside), log_det

    def inverse(self, y: Tensor, context: Tensor | None = None,
                context_term: Tensor | None = None) -> Tensor:
        """``x`` from ``y``; ``context_term``, if given, is
        :meth:`context_term` of ``context``, computed once for many calls."""
        params, moved = self._parameters_and_moved(y, context, context_term)
        y_inside = y[:, self.inside]
        x_inside = torch.where(moved, self.transformer.inverse(y_inside, params), y_inside)
        return y.index_copy(1, self.inside, x_inside)
