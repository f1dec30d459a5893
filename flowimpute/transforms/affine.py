"""Element-wise affine layer with data-dependent initialization."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Transform

#: Smallest standard deviation used by :meth:`AffineConstant.initialize`, so a
#: (nearly) constant feature in the initialization batch cannot produce a huge
#: scale.
_MIN_INIT_STD = 1e-3


class AffineConstant(Transform):
    """``y = exp(log_scale) * x + shift`` with learnable per-feature constants.

    The affine-constant flow of the structure-search paper and Glow's ActNorm:
    :meth:`initialize` sets the parameters so that the initialization batch
    leaves the layer with zero mean and unit variance per feature.

    Parameters
    ----------
    n_features : int
        Dimension of the rows.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(n_features))
        self.shift = nn.Parameter(torch.zeros(n_features))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y = x * torch.exp(self.log_scale) + self.shift
        return y, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        return (y - self.shift) * torch.exp(-self.log_scale)

    @torch.no_grad()
    def initialize(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        mean = x.mean(dim=0)
        std = x.std(dim=0, unbiased=False).clamp_min(_MIN_INIT_STD)
        self.log_scale.copy_(-torch.log(std))
        self.shift.copy_(-mean / std)
        return self.forward(x)[0]
