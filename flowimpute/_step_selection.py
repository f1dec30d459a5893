"""Choosing how long an iterative imputation search runs, per column.

FlowImputer's conditional-mode search and VFGImputer's gap search both move
missing entries step by step from a starting fill. Where to stop differs by
column, so it is chosen at fit on held-out entries: some observed training
entries are hidden, imputed with snapshots at each candidate step count, and
each column keeps the count that recovered its hidden entries best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Rows used for the choice, at most.
SELECTION_ROWS = 2000
#: Share of their observed entries that is hidden.
SELECTION_FRACTION = 0.2


def hide_observed_entries(
    observed: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the choice and the observed entries hidden in them.

    Parameters
    ----------
    observed : ndarray of bool, shape (n_rows, n_columns)
    rng : RandomState

    Returns
    -------
    rows : ndarray of int
        Up to :data:`SELECTION_ROWS` distinct rows.
    hidden : ndarray of bool, shape (len(rows), n_columns)
        About :data:`SELECTION_FRACTION` of their observed entries; a row
        keeps at least one observed entry (a row that would lose them all
        loses none).
    """
    n_rows = observed.shape[0]
    rows = rng.choice(n_rows, min(n_rows, SELECTION_ROWS), replace=False)
    seen = observed[rows]
    hidden = seen & (rng.uniform(size=seen.shape) < SELECTION_FRACTION)
    hidden &= (seen & ~hidden).any(axis=1, keepdims=True)
    return rows, hidden


def best_count_per_column(
    squared_errors: np.ndarray, hidden: np.ndarray, candidates: Sequence[int]
) -> np.ndarray:
    """Per column, the candidate with the smallest error on its hidden entries.

    Parameters
    ----------
    squared_errors : ndarray of shape (n_candidates, n_columns)
        Sum of squared errors on each column's hidden entries, per candidate.
    hidden : ndarray of bool, shape (n_rows, n_columns)
    candidates : sequence of int

    Returns
    -------
    counts : ndarray of int, shape (n_columns,)
        A column without hidden entries gets the candidate that is best over
        all columns together (the largest candidate if nothing was hidden).
    """
    candidates = np.asarray(candidates)
    if not hidden.any():
        return np.full(hidden.shape[1], candidates.max())
    overall = candidates[int(np.argmin(squared_errors.sum(axis=1)))]
    return np.where(hidden.any(axis=0), candidates[np.argmin(squared_errors, axis=0)], overall)
