"""Choices made at fit on held-out entries: how far to search, per column.

Where a search (:func:`~flowimpute.inference.search.projected_adam`) should
stop differs by column, so it is chosen at fit on held-out entries: some
observed training entries are hidden, imputed with snapshots at each candidate
step count, and each column keeps the count that recovered its hidden entries
best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Rows used for the choice, at most.
SELECTION_ROWS = 2000
#: Share of their observed entries that is hidden.
SELECTION_FRACTION = 0.2


def squared_errors(estimate: np.ndarray, truth: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Per column, the sum of squared errors on the ``hidden`` entries."""
    return np.where(hidden, (estimate - truth) ** 2, 0.0).sum(axis=0)


@dataclass(frozen=True)
class HiddenEntries:
    """Observed training entries hidden to be imputed for a choice at fit.

    Attributes
    ----------
    rows : ndarray of int
        The training rows used.
    truth : ndarray of shape (len(rows), n_columns)
        Their values (as given: scaled, missing entries arbitrary).
    hidden : ndarray of bool, shape (len(rows), n_columns)
        The observed entries hidden.
    kept : ndarray of bool, shape (len(rows), n_columns)
        The observed entries left visible.
    """

    rows: np.ndarray
    truth: np.ndarray
    hidden: np.ndarray
    kept: np.ndarray


def hide_observed_entries(
    X: np.ndarray, observed: np.ndarray, rng: np.random.RandomState,
    max_rows: int = SELECTION_ROWS,
) -> HiddenEntries:
    """Choose rows for a choice at fit and hide some of their observed entries.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_columns)
    observed : ndarray of bool, shape (n_rows, n_columns)
    rng : RandomState
    max_rows : int, default=SELECTION_ROWS
        Rows used for the choice, at most.

    Returns
    -------
    HiddenEntries
        Up to ``max_rows`` distinct rows, about :data:`SELECTION_FRACTION`
        of their observed entries hidden; a row keeps at least one observed
        entry (a row that would lose them all loses none).
    """
    n_rows = observed.shape[0]
    rows = rng.choice(n_rows, min(n_rows, max_rows), replace=False)
    seen = observed[rows]
    hidden = seen & (rng.uniform(size=seen.shape) < SELECTION_FRACTION)
    hidden &= (seen & ~hidden).any(axis=1, keepdims=True)
    return HiddenEntries(rows=rows, truth=X[rows], hidden=hidden, kept=seen & ~hidden)


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
