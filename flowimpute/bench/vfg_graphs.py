"""A VFG over the generating DAG of sections against trees over the same sections.

Run with ``python -m flowimpute.bench.vfg_graphs``.

Data: :func:`~flowimpute.datasets.make_section_dag` (four sections of two
columns; three roots, each shared by two neighbouring sections), 2,000
training rows with 20% of the entries missing completely at random and 500
test rows. Two test masks: one whole section hidden per row (the case a
graph of sections is built for), and 30% of the entries missing completely
at random. Every VFG has the same sections and settings; only ``graph``
differs: the generating DAG (:data:`~flowimpute.datasets.SECTION_DAG`) and
the trees of :data:`TREES`. scikit-learn's imputers run beside them. The
error is the MSE of the hidden entries in training standard deviations.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..datasets import SECTION_DAG, make_section_dag
from ..impute import VFGImputer
from .baselines import baseline_imputers
from .report import to_markdown

SECTIONS = [[0, 1], [2, 3], [4, 5], [6, 7]]

#: Trees over the four sections: one node over all, and every shape that
#: groups neighbouring sections (those that share a root in the DAG).
TREES = {
    "tree [0, 1, 2, 3]": [0, 1, 2, 3],
    "tree [[0, 1], [2, 3]]": [[0, 1], [2, 3]],
    "tree [[0, 1], 2, 3]": [[0, 1], 2, 3],
    "tree [0, [1, 2], 3]": [0, [1, 2], 3],
    "tree [0, 1, [2, 3]]": [0, 1, [2, 3]],
    "tree [[0, 1, 2], 3]": [[0, 1, 2], 3],
    "tree [0, [1, 2, 3]]": [0, [1, 2, 3]],
}

BASELINES = ("mean", "KNN(k=5)", "IterativeImputer", "MissForest(ExtraTrees)")


def test_masks(n_rows: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """Hidden test entries: one whole section per row, or 30% of the entries."""
    one_section = np.zeros((n_rows, 8), dtype=bool)
    section = rng.randint(len(SECTIONS), size=n_rows)
    for column in range(2):
        one_section[np.arange(n_rows), 2 * section + column] = True
    return {"one section": one_section, "MCAR 30%": rng.rand(n_rows, 8) < 0.3}


def run_seed(seed: int, max_epochs: int, baselines: bool = True) -> list[dict]:
    """Every graph and baseline on one draw of the data, one record per
    (method, mask)."""
    X = make_section_dag(2500, random_state=seed)
    train, test = X[:2000], X[2000:]
    rng = np.random.RandomState(seed)
    X_train = np.where(rng.rand(*train.shape) < 0.2, np.nan, train)
    masks = test_masks(len(test), rng)
    scale = np.nanstd(X_train, axis=0)
    graphs = {"DAG (generating graph)": SECTION_DAG, **TREES}
    factories = {name: (lambda graph=graph: VFGImputer(
        sections=SECTIONS, graph=graph, max_epochs=max_epochs, random_state=seed))
        for name, graph in graphs.items()}
    if baselines:
        factories.update({name: factory for name, factory in baseline_imputers(seed).items()
                          if name in BASELINES})
    records = []
    for name, factory in factories.items():
        start = time.perf_counter()
        imputer = factory().fit(X_train)
        fit_seconds = time.perf_counter() - start
        for mask_name, hidden in masks.items():
            imputed = imputer.transform(np.where(hidden, np.nan, test))
            squared = ((imputed - test) / scale)[hidden] ** 2
            records.append({"method": name, "seed": seed, "mask": mask_name,
                            "mse": float(squared.mean()), "fit_seconds": fit_seconds})
    return records


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=100, help="VFGImputer's max_epochs")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    records = []
    for seed in tqdm(args.seeds, desc="VFG graphs"):
        records += run_seed(seed, args.epochs)
    runs = pd.DataFrame.from_records(records)
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / "vfg-graphs.csv", index=False)
    table = runs.pivot_table(index="method", columns="mask", values="mse", aggfunc="mean",
                             sort=False).round(3)
    table["fit s"] = runs.groupby("method", sort=False)["fit_seconds"].mean().round(1)
    print(f"\nMSE of the hidden test entries (standardized), mean over seeds "
          f"{args.seeds}\n")
    print(to_markdown(table))
    per_seed = runs[runs["method"].isin(TREES)].groupby(["seed", "mask"])["mse"].min()
    dag = runs[runs["method"] == "DAG (generating graph)"].set_index(["seed", "mask"])["mse"]
    print("\nDAG against the best tree of each seed (its lowest error on that mask):\n")
    print(to_markdown(pd.DataFrame({"DAG": dag, "best tree": per_seed,
                                    "ratio": (dag / per_seed).round(3)}).round(3)))


if __name__ == "__main__":
    main()
