"""Coupling-mask study: parity vs random (and later searched) masks across flow depths.

Run with ``python -m flowimpute.bench.masks --dataset magic``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..datasets import load_dataset
from ..density import CouplingFlowDensity
from .density import split_standardized
from .report import mean_std, to_markdown


def run_mask_benchmark(
    dataset: str,
    depths: Sequence[int] = (2, 4, 6, 8),
    masks: Sequence[str] = ("parity", "random"),
    seeds: Sequence[int] = (0, 1, 2),
    max_epochs: int = 100,
    progress: bool = True,
) -> pd.DataFrame:
    """Fit CouplingFlowDensity for every (depth, mask, seed) on a 90/10 split of
    ``dataset`` (standardized with training statistics); one row per fit."""
    runs = [(depth, mask, seed) for depth in depths for mask in masks for seed in seeds]
    records = []
    for depth, mask, seed in tqdm(runs, desc=f"masks on {dataset}", disable=not progress):
        X_train, X_test = split_standardized(load_dataset(dataset).data.to_numpy(), seed)
        start = time.perf_counter()
        model = CouplingFlowDensity(n_layers=depth, mask=mask, max_epochs=max_epochs,
                                    random_state=seed).fit(X_train)
        records.append({
            "dataset": dataset, "depth": depth, "mask": mask, "seed": seed,
            "fit_seconds": time.perf_counter() - start, "epochs": model.n_iter_,
            "train_loglik": model.score(X_train), "test_loglik": model.score(X_test),
            "train_bpd": model.bits_per_dim(X_train), "test_bpd": model.bits_per_dim(X_test),
        })
    return pd.DataFrame.from_records(records)


def mask_table(runs: pd.DataFrame, value: str = "test_loglik") -> pd.DataFrame:
    """Depth by mask table of ``value`` as mean ± std over seeds."""
    return mean_std(runs, ["depth", "mask"], value).unstack("mask")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="magic")
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--masks", nargs="+", default=["parity", "random"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    runs = run_mask_benchmark(args.dataset, args.depths, args.masks, args.seeds,
                              args.max_epochs)
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / f"masks-{args.dataset}.csv", index=False)
    for value, title in [("test_loglik", "held-out mean log-likelihood (higher is better)"),
                         ("test_bpd", "held-out bits per dimension (lower is better)"),
                         ("fit_seconds", "fit seconds")]:
        print(f"\n{args.dataset}: {title}, mean ± std over seeds {args.seeds}\n")
        print(to_markdown(mask_table(runs, value)))
    print(f"\nmean epochs run: {np.mean(runs['epochs']):.0f}")


if __name__ == "__main__":
    main()
