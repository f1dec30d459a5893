"""FlowImputer's choices made at fit on hidden training entries, and its chain starts.

How far the conditional-mode search goes per column, and how much weight the
conditional mean gets against the mode, are chosen by imputing observed
training entries hidden at random (:mod:`flowimpute.inference.selection`).
The conditional mean's chains start at the mode, or at the nearest completed
training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..inference.conditional import FlowConditional
from ..inference.donors import nearest_rows
from ..inference.selection import (
    SELECTION_ROWS,
    HiddenEntries,
    best_count_per_column,
    squared_errors,
)

#: Step counts of the conditional-mode search that ``n_gradient_steps="auto"``
#: chooses from, per column (0 keeps the initial fill).
GRADIENT_STEP_CANDIDATES = (0, 5, 10, 25, 50, 100)
#: Weights of the conditional mean against the mode that ``point_estimate="auto"``
#: chooses from (0: the mode alone).
MEAN_WEIGHT_CANDIDATES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Observed training entries in the rows on which that weight is chosen, at
#: most (a fifth of them are hidden): the chains cost time in proportion to
#: the rows, the choice's noise shrinks with the hidden entries.
MEAN_WEIGHT_ENTRIES = 6000
#: Adam steps that move each neighbour start of a conditional-mean chain
#: towards its chain's density before the chain runs.
CHAIN_START_STEPS = 25


def choose_step_counts(conditional: FlowConditional, held: HiddenEntries, start: np.ndarray,
                       gaps: np.ndarray, decode: Callable[[np.ndarray], np.ndarray]
                       ) -> np.ndarray:
    """Per column, the step count among :data:`GRADIENT_STEP_CANDIDATES`
    whose snapshot of the mode search from ``start`` (the initial fill of the
    held rows, model coordinates) best recovers the hidden entries after
    ``decode``; ``gaps``: the held rows' real gaps."""
    candidates = GRADIENT_STEP_CANDIDATES
    errors = np.zeros((len(candidates), held.truth.shape[1]))
    errors[0] = squared_errors(decode(start), held.truth, held.hidden)
    stops = {count: index for index, count in enumerate(candidates)}
    device = conditional.low.device
    search = conditional.mode_search(
        conditional.as_tensor(start), torch.as_tensor(~held.kept, device=device),
        max(candidates), torch.as_tensor(gaps, device=device))
    for step, current in search:
        if step in stops:
            errors[stops[step]] = squared_errors(decode(current.cpu().numpy()), held.truth,
                                                 held.hidden)
    return best_count_per_column(errors, held.hidden, candidates)


def mean_weight_rows(observed: np.ndarray) -> int:
    """Rows on which the mean weight is chosen: about
    :data:`MEAN_WEIGHT_ENTRIES` observed entries, at most ``SELECTION_ROWS``."""
    entries_per_row = max(float(observed.sum(axis=1).mean()), 1.0)
    return min(SELECTION_ROWS, int(np.ceil(MEAN_WEIGHT_ENTRIES / entries_per_row)))


def choose_mean_weight(held: HiddenEntries, mode_estimate: np.ndarray,
                       mean_estimate: np.ndarray) -> float:
    """The weight among :data:`MEAN_WEIGHT_CANDIDATES` whose blend of the
    mode and the mean best recovers the hidden entries, all columns together."""
    errors = [squared_errors((1 - weight) * mode_estimate + weight * mean_estimate,
                             held.truth, held.hidden).sum()
              for weight in MEAN_WEIGHT_CANDIDATES]
    return MEAN_WEIGHT_CANDIDATES[int(np.argmin(errors))]


def chain_starts(conditional: FlowConditional, mode: np.ndarray, observed: np.ndarray,
                 training_fill: np.ndarray | None, n_chains: int,
                 own_rows: np.ndarray | None) -> Callable[[int], np.ndarray]:
    """``start(i)``: where conditional-mean chain ``i`` starts. Without a
    ``training_fill``, the conditional ``mode``; with one, the completed
    values of the row's ``i``-th nearest training row (on its observed
    entries; ``own_rows``, a row's own index in the training table, excluded)
    in its missing entries, moved by :data:`CHAIN_START_STEPS` Adam steps up
    chain ``i``'s density."""
    if training_fill is None:
        return lambda index: mode
    candidates = training_fill.shape[0] - (own_rows is not None)
    donors = nearest_rows(mode, observed, training_fill, min(n_chains, candidates), own_rows)
    densities: Sequence = conditional.densities

    def start(index: int) -> np.ndarray:
        begin = np.where(observed, mode, training_fill[donors[:, index % donors.shape[1]]])
        return conditional.mode(begin, observed, np.full(mode.shape[1], CHAIN_START_STEPS),
                                [densities[index % len(densities)]])

    return start
