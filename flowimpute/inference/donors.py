"""Nearest completed rows of a table, compared on each query's observed entries.

FlowImputer can start the chains of its conditional mean at the training rows
nearest to the row being imputed (their completed values in the missing
entries). The search here is exact and row-independent: a query's neighbours
do not depend on which other queries are searched with it.
"""

from __future__ import annotations

import numpy as np

#: Query rows x table rows x columns compared at once, at most.
CHUNK_ELEMENTS = 2**22


def nearest_rows(
    queries: np.ndarray, observed: np.ndarray, table: np.ndarray, k: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the ``k`` rows of ``table`` nearest to each query.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_columns)
        Values at the ``observed`` entries; the others are ignored (may be NaN).
    observed : ndarray of bool, shape (n_queries, n_columns)
    table : ndarray of shape (n_rows, n_columns)
        Complete rows (no NaN).
    k : int
        Neighbours per query, at most ``n_rows`` (``n_rows - 1`` with
        ``exclude``).
    exclude : ndarray of int of shape (n_queries,) or None, default=None
        A row of ``table`` that may not be a query's neighbour (e.g. the
        query itself), or -1 for none.

    Returns
    -------
    indices : ndarray of int of shape (n_queries, k)
        Nearest first, by the sum of squared differences on the query's
        observed entries; ties go to the lower row index. A query without
        observed entries gets the first rows of the table.
    """
    n_queries, n_columns = queries.shape
    available = table.shape[0] - (exclude is not None)
    if not 1 <= k <= available:
        raise ValueError(f"k={k} neighbours asked of {available} candidate rows.")
    values = np.where(observed, queries, 0.0)
    indices = np.empty((n_queries, k), dtype=np.intp)
    chunk = max(1, CHUNK_ELEMENTS // max(table.size, 1))
    for start in range(0, n_queries, chunk):
        rows = slice(start, min(start + chunk, n_queries))
        differences = table[None, :, :] - values[rows, None, :]
        distances = (differences ** 2 * observed[rows, None, :]).sum(axis=2)
        if exclude is not None:
            own = exclude[rows]
            has_own = own >= 0
            distances[np.flatnonzero(has_own), own[has_own]] = np.inf
        indices[rows] = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return indices
