"""Random, parity and searched coupling masks: the structure-search paper's protocol.

Run with ``python -m flowimpute.bench.mask_search``.

For each data set, depth and seed: a 90/10 train/test split (the paper keeps
10% out; it uses the given test file for turbine, which the shared copy does
not have), standardized with training statistics; three CouplingFlowDensity
models that differ only in their masks (random, parity, searched with the
defaults of MaskSearch: 200 offspring, 50 SGD steps each) are trained with the
paper's budget: 25 epochs with batches of n_train / 50 rows (about 1,250
steps), conditioners of a single linear layer (the paper's
``tanh(W x_B + b)``; here the log-scale is soft-bounded by tanh). Reported:
bits per dimension on train and test (lower is better) and search seconds.
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
from ..structure.mask_search import MaskSearch
from .density import split_standardized
from .report import mean_std, to_markdown

EPOCHS, BATCHES_PER_EPOCH = 25, 50


def run(datasets: Sequence[str], depths: Sequence[int], seeds: Sequence[int],
        search: MaskSearch, progress: bool = True) -> pd.DataFrame:
    records = []
    jobs = [(d, depth, s) for d in datasets for depth in depths for s in seeds]
    data = {name: load_dataset(name).data.to_numpy() for name in datasets}
    for dataset, depth, seed in tqdm(jobs, desc="mask search benchmark", disable=not progress):
        X_train, X_test = split_standardized(data[dataset], seed)
        for mask in ("random", "parity", "search"):
            model = CouplingFlowDensity(
                n_layers=depth, hidden_dims=(), activation="tanh",
                mask=search if mask == "search" else mask, max_epochs=EPOCHS,
                batch_size=max(2, len(X_train) // BATCHES_PER_EPOCH),
                validation_fraction=0.0, n_iter_no_change=None, device="cpu",
                random_state=seed)
            start = time.perf_counter()
            model.fit(X_train)
            records.append({
                "dataset": dataset, "depth": depth, "seed": seed, "mask": mask,
                "train_bpd": model.bits_per_dim(X_train), "test_bpd": model.bits_per_dim(X_test),
                "fit_seconds": time.perf_counter() - start,
                "search_seconds": getattr(model, "search_seconds_", np.nan),
                "accepted": (int(np.sum(model.search_history_["accepted"])) - 1
                             if mask == "search" else np.nan),
            })
    return pd.DataFrame.from_records(records)


def report(runs: pd.DataFrame) -> str:
    lines = []
    for dataset, frame in runs.groupby("dataset", sort=False):
        table = pd.DataFrame({
            f"{split} {mask}": mean_std(frame[frame["mask"] == mask], ["depth"], f"{split}_bpd")
            for split in ("train", "test") for mask in ("random", "parity", "search")
        })
        searched = frame[frame["mask"] == "search"]
        table["search s"] = searched.groupby("depth")["search_seconds"].mean().round(1)
        table["accepted"] = searched.groupby("depth")["accepted"].mean().round(1)
        lines += [f"\n{dataset}: bits per dimension (mean ± std over seeds "
                  f"{sorted(frame['seed'].unique().tolist())})\n", to_markdown(table)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["magic", "gas_turbine", "yeast", "sonar"])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--search-iter", type=int, default=200)
    parser.add_argument("--evaluation", choices=["holdout", "last_batch"], default="holdout")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    search = MaskSearch(search_iter=args.search_iter, evaluation=args.evaluation,
                        n_jobs=args.n_jobs)
    runs = run(args.datasets, args.depths, args.seeds, search)
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / f"mask-search-{args.evaluation}.csv", index=False)
    print(report(runs))


if __name__ == "__main__":
    main()
