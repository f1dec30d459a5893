"""A direct estimate of every conditional mean E[x_t | x_c], fitted to squared error."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..nn.mlp import make_mlp


class ConditionalMeanRegressor(nn.Module):
    """``E[x_t | x_c]`` for any split of a row, from an MLP of the
    conditioning values and their indicators (the context of
    :class:`~flowimpute.flows.categorical_head.CategoricalHead`).

    An arbitrary-conditional flow's conditional mean is an average of draws
    from a density fitted by likelihood; this network is fitted to the
    squared error of the target entries instead, so it estimates the same
    quantity by another route, and the two can be combined.

    Parameters
    ----------
    n_features : int
        Coordinates of a row.
    hidden_dims : sequence of int
    activation : str, default="relu"
    n_context : int, default=0
        Width of a context computed from the split and read beside it (for
        example :class:`~flowimpute.flows.mixture_context.MixtureConditionalMean`).
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int],
                 activation: str = "relu", n_context: int = 0) -> None:
        super().__init__()
        self.network = make_mlp(2 * n_features + n_context, hidden_dims, n_features,
                                activation)

    def forward(self, x: Tensor, conditioning: Tensor, context: Tensor | None = None
                ) -> Tensor:
        """The predicted value of every coordinate given the ``conditioning``
        entries of ``x`` (the conditioning ones are predicted too) and the
        split's ``context``, if the regressor reads one."""
        conditioning = conditioning.to(x.dtype)
        inputs = [x * conditioning, conditioning] + ([] if context is None else [context])
        return self.network(torch.cat(inputs, dim=1))

    def squared_error(self, x: Tensor, conditioning: Tensor, target: Tensor,
                      context: Tensor | None = None) -> Tensor:
        """Summed squared error of the ``target`` entries of ``x``."""
        return ((self(x, conditioning, context) - x).pow(2) * target.to(x.dtype)).sum()
