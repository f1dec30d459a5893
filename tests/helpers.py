"""Data helpers shared by several test modules."""

import numpy as np


def with_gaps(X, fraction, seed):
    """Copy of ``X`` with each entry set to NaN with probability ``fraction``."""
    X = X.copy()
    X[np.random.RandomState(seed).rand(*X.shape) < fraction] = np.nan
    return X
