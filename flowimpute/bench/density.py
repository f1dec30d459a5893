"""Held-out log-likelihood of flow densities against scikit-learn's density estimators."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from ..datasets import load_dataset
from ..density import CouplingFlowDensity, NAFDensity
from ..structure.mask_search import MaskSearch

#: Rows of the training set used to cross-validate the KDE bandwidth.
_KDE_SEARCH_ROWS = 2000


class KernelDensityCV(DensityMixin, BaseEstimator):
    """Gaussian KernelDensity whose bandwidth is chosen by 3-fold cross-validated
    log-likelihood (on at most 2,000 training rows), then refitted on all rows."""

    def __init__(self, bandwidths: Sequence[float] = tuple(np.logspace(-1.5, 0.5, 13)),
                 random_state=None) -> None:
        self.bandwidths = bandwidths
        self.random_state = random_state

    def fit(self, X, y=None):
        rows = np.random.RandomState(self.random_state).permutation(len(X))[:_KDE_SEARCH_ROWS]
        search = GridSearchCV(KernelDensity(), {"bandwidth": list(self.bandwidths)}, cv=3)
        search.fit(X[rows])
        self.bandwidth_ = search.best_params_["bandwidth"]
        self.kde_ = KernelDensity(bandwidth=self.bandwidth_).fit(X)
        return self

    def score_samples(self, X):
        return self.kde_.score_samples(X)

    def score(self, X, y=None):
        return float(np.mean(self.score_samples(X)))


def density_methods(max_epochs: int = 100, search_iter: int = 50,
                    device: str = "auto") -> dict[str, Callable]:
    """Factories ``seed -> estimator`` for each method of the density benchmark.

    The three coupling flows differ only in their masks (4 layers, the paper's
    depth 4); the mask search trains ``search_iter`` candidates for 50 steps
    each. NAF has 3 autoregressive layers with DSF transformers, or with
    8-bin rational-quadratic splines. Every flow trains at most
    ``max_epochs`` epochs with early stopping.
    """
    def coupling(mask):
        return lambda seed: CouplingFlowDensity(
            n_layers=4, mask=mask, max_epochs=max_epochs, device=device, random_state=seed)

    return {
        "Coupling(parity)": coupling("parity"),
        "Coupling(random)": coupling("random"),
        "Coupling(searched)": coupling(MaskSearch(search_iter=search_iter)),
        "NAFDensity": lambda seed: NAFDensity(
            n_flows=3, hidden_dims=(64, 64), max_epochs=max_epochs, device=device,
            random_state=seed),
        "NAFDensity(spline)": lambda seed: NAFDensity(
            n_flows=3, hidden_dims=(64, 64), transformer="spline", n_transformer_units=8,
            max_epochs=max_epochs, device=device, random_state=seed),
        "GaussianMixture(1)": lambda seed: GaussianMixture(1, random_state=seed),
        "GaussianMixture(10)": lambda seed: GaussianMixture(10, random_state=seed),
        "KernelDensity(CV)": lambda seed: KernelDensityCV(random_state=seed),
    }


def split_standardized(X: np.ndarray, seed: int, test_size: float = 0.1):
    """Train/test split, standardized with the training statistics."""
    X_train, X_test = train_test_split(X, test_size=test_size, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def run_density_benchmark(
    datasets: Sequence[str],
    seeds: Sequence[int],
    methods: dict[str, Callable],
    progress: bool = True,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """One row per (data set, method, seed): held-out and training mean
    log-likelihood (standardized units), test bits per dimension and fit time.
    ``max_rows`` subsamples each table (per seed) before the split. A failing
    method is recorded with its error instead of stopping the run."""
    runs = [(d, m, s) for d in datasets for s in seeds for m in methods]
    records, cache = [], {}
    for dataset, method, seed in tqdm(runs, desc="density benchmark", disable=not progress):
        if (dataset, seed) not in cache:
            X = load_dataset(dataset).data.to_numpy()
            if max_rows is not None and len(X) > max_rows:
                X = X[np.random.RandomState(seed).choice(len(X), max_rows, replace=False)]
            cache[(dataset, seed)] = split_standardized(X, seed)
        X_train, X_test = cache[(dataset, seed)]
        record = {"dataset": dataset, "method": method, "seed": seed,
                  "n_features": X_train.shape[1]}
        try:
            start = time.perf_counter()
            model = methods[method](seed).fit(X_train)
            record["fit_seconds"] = time.perf_counter() - start
            record["train_loglik"] = model.score(X_train)
            record["test_loglik"] = model.score(X_test)
            record["test_bpd"] = -record["test_loglik"] / (X_train.shape[1] * np.log(2))
        except Exception as error:  # recorded in the report, not fatal to the run
            record["error"] = f"{type(error).__name__}: {error}"
        records.append(record)
    return pd.DataFrame.from_records(records)


def run_fixed_epochs(datasets: Sequence[str], seeds: Sequence[int],
                     methods: dict[str, Callable], max_epochs: int, max_rows: int | None,
                     progress: bool = True) -> pd.DataFrame:
    """One row per (data set, method, seed) for flows trained a fixed number
    of epochs: held-out mean log-likelihood (standardized units), fit time
    and seconds per epoch (NaN for GaussianMixture). ``max_rows``
    subsamples each table (per seed) before the 90/10 split."""
    records = []
    for dataset in datasets:
        X = load_dataset(dataset).data.to_numpy()
        for seed in seeds:
            rows = X
            if max_rows is not None and len(X) > max_rows:
                rows = X[np.random.RandomState(seed).permutation(len(X))[:max_rows]]
            X_train, X_test = split_standardized(rows, seed)
            for name, factory in tqdm(methods.items(), desc=f"{dataset} seed {seed}",
                                      disable=not progress):
                start = time.perf_counter()
                model = factory(seed).fit(X_train)
                seconds = time.perf_counter() - start
                is_flow = not isinstance(model, GaussianMixture)
                records.append({
                    "dataset": dataset, "method": name, "seed": seed,
                    "n_train": len(X_train), "n_features": X_train.shape[1],
                    "test_loglik": model.score(X_test), "fit_seconds": seconds,
                    "seconds_per_epoch": seconds / max_epochs if is_flow else np.nan,
                })
    return pd.DataFrame.from_records(records)
