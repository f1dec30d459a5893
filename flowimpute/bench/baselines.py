"""The imputers users would pick instead of flowimpute's, as the benchmarks run them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer


class MICE(TransformerMixin, BaseEstimator):
    """Multiple imputation by chained equations, pooled: ``n_imputations``
    IterativeImputer(sample_posterior=True) runs with different seeds, their
    imputations averaged.

    Parameters
    ----------
    n_imputations : int, default=5
    max_iter : int, default=10
        Rounds of each chained-equation run.
    random_state : int, default=0
        Run ``i`` uses seed ``random_state + i``.
    """

    def __init__(self, n_imputations: int = 5, max_iter: int = 10, random_state: int = 0) -> None:
        self.n_imputations = n_imputations
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        self.imputers_ = [
            IterativeImputer(sample_posterior=True, max_iter=self.max_iter,
                             random_state=self.random_state + i).fit(X)
            for i in range(self.n_imputations)
        ]
        return self

    def transform(self, X):
        return np.mean([imputer.transform(X) for imputer in self.imputers_], axis=0)


def baseline_imputers(seed: int) -> dict[str, Callable[[], object]]:
    """Factories of scikit-learn's imputers, with the settings every benchmark uses."""
    return {
        "mean": lambda: SimpleImputer(strategy="mean"),
        "median": lambda: SimpleImputer(strategy="median"),
        "KNN(k=3)": lambda: KNNImputer(n_neighbors=3),
        "KNN(k=5)": lambda: KNNImputer(n_neighbors=5),
        "IterativeImputer": lambda: IterativeImputer(max_iter=100, random_state=seed),
        "MICE(5)": lambda: MICE(5, random_state=seed),
        "MissForest(ExtraTrees)": lambda: IterativeImputer(
            ExtraTreesRegressor(n_estimators=50, min_samples_leaf=2, n_jobs=1,
                                random_state=seed), max_iter=10, random_state=seed),
    }
