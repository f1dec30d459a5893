"""Remove values from a complete table under a chosen missingness mechanism.

For benchmarks and for users who want to test an imputer on their own data:
``ampute(X, "MCAR", rate=0.2, random_state=0)`` returns a copy of ``X`` with
NaN where values were removed.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.utils import check_random_state

MECHANISMS = ("MCAR", "MAR", "MNAR")


def mcar_mask(X: np.ndarray, rate: float, random_state=None) -> np.ndarray:
    """Missing completely at random: each entry hidden independently with
    probability ``rate``; a row that would lose every entry keeps one at random.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rate : float
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    hidden : ndarray of bool, shape of ``X``

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute.amputation import mcar_mask
    >>> hidden = mcar_mask(np.zeros((1000, 3)), 0.5, random_state=0)
    >>> bool(hidden.any(axis=0).all() and not hidden.all(axis=1).any())
    True
    """
    rng = check_random_state(random_state)
    hidden = rng.rand(*X.shape) < rate
    empty = hidden.all(axis=1)
    hidden[empty, rng.randint(X.shape[1], size=empty.sum())] = False
    return hidden


def mar_mask(X: np.ndarray, rate: float, random_state=None,
             observed_fraction: float = 0.3) -> np.ndarray:
    """Missing at random, logistic model: ``observed_fraction`` of the columns
    (at least one) are always observed; every other column loses ``rate`` of
    its entries, entry ``i`` with probability ``sigmoid(X[i, fixed] @ w + b)``,
    ``w`` random normal (scaled by the number of fixed columns) and ``b``
    solved so the column's expected rate is ``rate``. ``X`` should be
    standardized.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardized, at least 2 columns.
    rate : float
    random_state : int, RandomState instance or None, default=None
    observed_fraction : float, default=0.3

    Returns
    -------
    hidden : ndarray of bool, shape of ``X``

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute.amputation import mar_mask
    >>> X = np.random.RandomState(0).normal(size=(2000, 4))
    >>> hidden = mar_mask(X, 0.2, random_state=0)
    >>> int((~hidden.any(axis=0)).sum())   # one column always observed
    1
    """
    rng = check_random_state(random_state)
    n_features = X.shape[1]
    if n_features < 2:
        raise ValueError("MAR needs at least 2 columns: one stays observed.")
    n_fixed = min(n_features - 1, max(1, int(observed_fraction * n_features)))
    fixed = rng.choice(n_features, n_fixed, replace=False)
    weights = rng.normal(size=(n_fixed, n_features)) / np.sqrt(n_fixed)
    logits = X[:, fixed] @ weights
    hidden = np.zeros(X.shape, dtype=bool)
    for column in np.setdiff1d(np.arange(n_features), fixed):
        bias = brentq(lambda b, c=column: expit(logits[:, c] + b).mean() - rate, -50.0, 50.0)
        hidden[:, column] = rng.rand(len(X)) < expit(logits[:, column] + bias)
    return hidden


def mnar_self_masking_mask(X: np.ndarray) -> np.ndarray:
    """Missing not at random, self-masking (the not-MIWAE protocol): in the
    first half of the columns every value above its column's mean is hidden.
    Deterministic; about half of those columns' entries are hidden.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    hidden : ndarray of bool, shape of ``X``

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute.amputation import mnar_self_masking_mask
    >>> mnar_self_masking_mask(np.array([[0.0, 5.0], [2.0, 5.0]]))
    array([[False, False],
           [ True, False]])
    """
    hidden = np.zeros(X.shape, dtype=bool)
    half = X.shape[1] // 2
    hidden[:, :half] = X[:, :half] > X[:, :half].mean(axis=0)
    return hidden


def ampute(X, mechanism: str = "MCAR", rate: float = 0.2, random_state=None) -> np.ndarray:
    """Copy of ``X`` with values removed (set to NaN) under ``mechanism``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        A complete numeric table (standardize it first for "MAR").
    mechanism : {"MCAR", "MAR", "MNAR"}, default="MCAR"
        See :func:`mcar_mask`, :func:`mar_mask` and
        :func:`mnar_self_masking_mask`.
    rate : float, default=0.2
        Share of entries removed ("MCAR"), or of each non-fixed column's
        entries ("MAR"); ignored by "MNAR".
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X_missing : ndarray of shape (n_samples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute.amputation import ampute
    >>> X = np.random.RandomState(0).normal(size=(1000, 4))
    >>> round(float(np.isnan(ampute(X, "MCAR", 0.2, random_state=0)).mean()), 2)
    0.2
    """
    X = np.array(X, dtype=np.float64)
    if np.isnan(X).any():
        raise ValueError("ampute expects a complete table; X already contains NaN.")
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1), got {rate}.")
    if mechanism == "MCAR":
        hidden = mcar_mask(X, rate, random_state)
    elif mechanism == "MAR":
        hidden = mar_mask(X, rate, random_state)
    elif mechanism == "MNAR":
        hidden = mnar_self_masking_mask(X)
    else:
        raise ValueError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}.")
    X[hidden] = np.nan
    return X
