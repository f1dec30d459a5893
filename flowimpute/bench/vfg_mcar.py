"""MCAR imputation suite: VFGImputer against scikit-learn's imputers on real tables.

Run with ``python -m flowimpute.bench.vfg_mcar``.

Each data set is z-scored with the statistics of its training rows; entries
are removed completely at random (MCAR) at the same rate in the training and
the test rows; every imputer is fitted on the incomplete training rows and
imputes the test rows. Reported: RMSE on the removed test entries
(z-scored scale), median and spread over masks, and fit / transform seconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from ..datasets import load_dataset
from ..impute import VFGImputer
from .report import to_markdown
from .vfg_paper import baseline_imputers

DEFAULT_DATASETS = ["california", "gas_turbine", "wine_quality_white", "letter"]


def mcar(X: np.ndarray, rate: float, rng: np.random.RandomState) -> np.ndarray:
    """Copy of ``X`` with each entry set to NaN independently with probability ``rate``;
    a row that would lose every entry keeps one at random."""
    hidden = rng.rand(*X.shape) < rate
    empty = hidden.all(axis=1)
    hidden[empty, rng.randint(X.shape[1], size=empty.sum())] = False
    return np.where(hidden, np.nan, X)


def methods(seed: int, vfg_params: dict) -> dict[str, Callable[[], object]]:
    chosen = {"VFGImputer": lambda: VFGImputer(random_state=seed, **vfg_params)}
    baselines = baseline_imputers(seed)
    for name in ["mean", "KNN(k=5)", "IterativeImputer", "MissForest(ExtraTrees)"]:
        chosen[name] = baselines[name]
    return chosen


def run(datasets: Sequence[str], rates: Sequence[float], seeds: Sequence[int],
        max_rows: int | None, vfg_params: dict) -> pd.DataFrame:
    records = []
    runs = [(d, r, s) for d in datasets for r in rates for s in seeds]
    for dataset, rate, seed in tqdm(runs, desc="MCAR suite"):
        X = load_dataset(dataset).data.to_numpy()
        rng = np.random.RandomState(seed)
        if max_rows is not None and len(X) > max_rows:
            X = X[rng.choice(len(X), max_rows, replace=False)]
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
        mean, std = X_train.mean(0), X_train.std(0)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
        X_train_missing, X_test_missing = mcar(X_train, rate, rng), mcar(X_test, rate, rng)
        hidden = np.isnan(X_test_missing)
        for name, factory in methods(seed, vfg_params).items():
            record = {"dataset": dataset, "rate": rate, "seed": seed, "method": name,
                      "n_train": len(X_train), "n_test": len(X_test)}
            try:
                start = time.perf_counter()
                imputer = factory().fit(X_train_missing)
                fitted = time.perf_counter()
                imputed = imputer.transform(X_test_missing)
                record["fit_seconds"] = fitted - start
                record["transform_seconds"] = time.perf_counter() - fitted
                record["rmse"] = float(np.sqrt(np.mean((imputed[hidden] - X_test[hidden]) ** 2)))
            except Exception as error:  # recorded, not fatal
                record["error"] = f"{type(error).__name__}: {error}"
            records.append(record)
    return pd.DataFrame.from_records(records)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Median RMSE (min-max over masks) per data set and rate, one column per method."""
    def describe(values: pd.Series) -> str:
        values = values.dropna()
        if values.empty:
            return "failed"
        return f"{values.median():.3f} ({values.min():.3f}-{values.max():.3f})"

    table = runs.groupby(["dataset", "rate", "method"], sort=False)["rmse"].apply(describe)
    return table.unstack("method")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-rows", type=int, default=None,
                        help="subsample each data set to this many rows (train + test)")
    parser.add_argument("--vfg-max-epochs", type=int, default=None)
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    vfg_params = {} if args.vfg_max_epochs is None else {"max_epochs": args.vfg_max_epochs}
    runs = run(args.datasets, args.rates, args.seeds, args.max_rows, vfg_params)
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "vfg-mcar.csv", index=False)
    print(f"\nMCAR: RMSE on the removed test entries (z-scored), median (min-max) over "
          f"masks {args.seeds}; rows per data set: {args.max_rows or 'all'}\n")
    print(to_markdown(summary(runs)))
    seconds = runs.groupby("method", sort=False)[["fit_seconds", "transform_seconds"]].mean()
    print("\nMean seconds per fit / transform:\n")
    print(to_markdown(seconds.round(2)))


if __name__ == "__main__":
    main()
