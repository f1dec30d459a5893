"""Projected Adam: moving some entries of each row down a row-wise objective, within bounds.

FlowImputer's conditional-mode search and VFGImputer's gap search both move
missing entries this way from a starting fill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor


def projected_adam(
    start: Tensor, free: Tensor, objective: Callable[[Tensor], Tensor], low: Tensor,
    high: Tensor, step_size: float, n_steps: int,
) -> Iterator[tuple[int, Tensor]]:
    """Adam on ``objective(x).sum()`` over the ``free`` entries of ``start``.

    Every step is clipped to ``[low, high]``; the other entries stay as in
    ``start``. Gradients are taken for the entries only (a model inside
    ``objective`` collects none), and work whether or not the caller runs
    under ``torch.no_grad``. Adam scales each entry by its own gradient
    history, so with a row-wise objective a row's path does not depend on the
    other rows.

    Yields
    ------
    step, current : int, Tensor
        After every step (1 to ``n_steps``), the entries so far (no graph).
    """
    values = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([values], lr=step_size)
    for step in range(1, n_steps + 1):
        with torch.enable_grad():
            loss = objective(torch.where(free, values, start)).sum()
            (values.grad,) = torch.autograd.grad(loss, values)
        optimizer.step()
        with torch.no_grad():
            values.copy_(torch.minimum(torch.maximum(values, low), high))
            current = torch.where(free, values, start)
        yield step, current
