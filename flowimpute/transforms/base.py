"""The bijector interface shared by every invertible layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Transform(nn.Module):
    """An invertible map between batches of row vectors.

    Subclasses implement :meth:`forward`, which returns the transformed batch
    together with the per-row log absolute Jacobian determinant, and
    :meth:`inverse`. Rows are processed independently: a row's output never
    depends on the other rows of the batch.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Map ``x`` of shape (n, d) to ``(y, log|det J|)`` of shapes (n, d) and (n,)."""
        raise NotImplementedError

    def inverse(self, y: Tensor) -> Tensor:
        """Map ``y`` back to ``x`` so that ``forward(inverse(y))[0] == y``."""
        raise NotImplementedError

    @torch.no_grad()
    def initialize(self, x: Tensor) -> Tensor:
        """Data-dependent initialization from a batch; returns the transformed batch.

        The default leaves the parameters untouched. Layers such as
        :class:`~flowimpute.transforms.AffineConstant` override it to set their
        parameters from the statistics of ``x``.
        """
        return self.forward(x)[0]


class Compose(Transform):
    """Apply transforms one after another; log-determinants add up.

    Parameters
    ----------
    *transforms : Transform
        Applied left to right in :meth:`forward`, right to left in
        :meth:`inverse`.
    """

    def __init__(self, *transforms: Transform) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for transform in self.transforms:
            x, layer_log_det = transform(x)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, y: Tensor) -> Tensor:
        for transform in reversed(self.transforms):
            y = transform.inverse(y)
        return y

    @torch.no_grad()
    def initialize(self, x: Tensor) -> Tensor:
        for transform in self.transforms:
            x = transform.initialize(x)
        return x
