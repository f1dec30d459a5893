"""Discrete columns: the grid step of columns whose values lie on an evenly spaced grid."""

from __future__ import annotations

import numpy as np

#: A column with more distinct values than this is treated as continuous.
MAX_LEVELS = 64


def lattice_steps(X: np.ndarray, max_levels: int = MAX_LEVELS) -> np.ndarray:
    """The grid step of each column whose observed (non-NaN) values take at
    least 2 and at most ``max_levels`` distinct values, all on one evenly
    spaced grid (every gap between them a whole multiple of the smallest, to
    a relative 1e-6); 0 for every other column.

    Counts, ratings, codes and flags are such columns; a column recorded to
    a fixed precision with many distinct values is not.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        May contain NaN (ignored).
    max_levels : int, default=64

    Returns
    -------
    steps : ndarray of shape (n_features,)
    """
    steps = np.zeros(X.shape[1])
    for column, values in enumerate(X.T):
        levels = np.unique(values[~np.isnan(values)])
        if not 2 <= levels.size <= max_levels:
            continue
        step = np.diff(levels).min()
        multiples = (levels - levels[0]) / step
        if np.allclose(multiples, np.round(multiples), rtol=0, atol=1e-6 * multiples[-1]):
            steps[column] = step
    return steps
