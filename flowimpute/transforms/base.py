"""The bijector interface shared by every invertible layer."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn


class Transform(nn.Module):
    """An invertible map between batches of row vectors, optionally conditioned.

    Subclasses implement :meth:`forward`, which returns the transformed batch
    together with the per-row log absolute Jacobian determinant, and
    :meth:`inverse`. Both take an optional ``context`` (n, c): values the map
    is conditioned on (a conditional flow's observed entries and mask, say),
    which layers without a conditioner ignore. Rows are processed
    independently: a row's output never depends on the other rows of the batch.

    Two flags say what a transform cannot do, so that flows and estimators can
    refuse it clearly rather than fail deep inside: ``has_inverse`` is False
    for a map whose inverse is not implemented (a planar flow has no closed
    form), and ``exact_log_det`` is False for a map whose :meth:`forward`
    returns an estimate of the log-determinant (a residual flow's power
    series). Sampling needs the first; exact densities need the second.
    """

    #: :meth:`inverse` is implemented (in closed form or numerically).
    has_inverse: ClassVar[bool] = True
    #: :meth:`forward` returns the exact log-determinant, not an estimate.
    exact_log_det: ClassVar[bool] = True

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Map ``x`` of shape (n, d) to ``(y, log|det J|)`` of shapes (n, d) and (n,)."""
        raise NotImplementedError

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        """Map ``y`` back to ``x`` so that ``forward(inverse(y))[0] == y``."""
        raise NotImplementedError(f"{type(self).__name__} has no inverse.")

    @torch.no_grad()
    def initialize(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Data-dependent initialization from a batch; returns the transformed batch.

        The default leaves the parameters untouched. Layers such as
        :class:`~flowimpute.transforms.AffineConstant` override it to set their
        parameters from the statistics of ``x``.
        """
        return self.forward(x, context)[0]


class Compose(Transform):
    """Apply transforms one after another; log-determinants add up.

    Parameters
    ----------
    *transforms : Transform
        Applied left to right in :meth:`forward`, right to left in
        :meth:`inverse`, each with the same ``context``.
    """

    def __init__(self, *transforms: Transform) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    @property
    def has_inverse(self) -> bool:  # type: ignore[override]
        return all(transform.has_inverse for transform in self.transforms)

    @property
    def exact_log_det(self) -> bool:  # type: ignore[override]
        return all(transform.exact_log_det for transform in self.transforms)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for transform in self.transforms:
            x, layer_log_det = transform(x, context)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        for transform in reversed(self.transforms):
            y = transform.inverse(y, context)
        return y

    @torch.no_grad()
    def initialize(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        for transform in self.transforms:
            x = transform.initialize(x, context)
        return x
