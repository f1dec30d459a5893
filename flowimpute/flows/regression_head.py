"""A direct estimate of every conditional mean E[x_t | x_c], fitted to squared error."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..nn.mlp import make_mlp
from .mixture_context import MixtureConditionalMean


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
    context : MixtureConditionalMean or None, default=None
        A fitted model whose conditional mean of each split the network
        reads beside it. It is held, not owned: it has nothing to train, and
        it keeps its float64 whatever the network's dtype.
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int],
                 activation: str = "relu", context: MixtureConditionalMean | None = None
                 ) -> None:
        super().__init__()
        self._context = (context,)   # a tuple: not registered as a submodule
        n_context = 0 if context is None else context.width
        self.network = make_mlp(2 * n_features + n_context, hidden_dims, n_features,
                                activation)

    @property
    def context(self) -> MixtureConditionalMean | None:
        """The model whose conditional mean the network reads, or None."""
        return self._context[0]

    def forward(self, x: Tensor, conditioning: Tensor) -> Tensor:
        """The predicted value of every coordinate given the ``conditioning``
        entries of ``x`` (the conditioning ones are predicted too)."""
        inputs = [x * conditioning.to(x.dtype), conditioning.to(x.dtype)]
        if self.context is not None:
            inputs.append(self.context(x, conditioning))
        return self.network(torch.cat(inputs, dim=1))

    def squared_error(self, x: Tensor, conditioning: Tensor, target: Tensor) -> Tensor:
        """Summed squared error of the ``target`` entries of ``x``."""
        return ((self(x, conditioning) - x).pow(2) * target.to(x.dtype)).sum()
