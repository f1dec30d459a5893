"""The VFG paper's imputation protocols, VFGImputer against scikit-learn's imputers.

Run with ``python -m flowimpute.bench.vfg_paper``.

- synthetic: 8 columns from 2 latents, 1000 train / 300 test rows, columns
  x3, x4, x7, x8 missing in every test row; sections of 2 under one node;
  test MSE per seed.
- california: rows 0-19999 train, 20000-20639 test, standardized with the
  training statistics; section 2 (AveRooms, AveBedrms) missing in the test
  rows; tree [[0, 1], [2, 3]]; test MSE.
- california_partner: the same, with only AveRooms missing, so that its
  section partner AveBedrms is observed beside every gap (not in the
  paper: it measures how a gap uses the entries of its own section).

scikit-learn's imputers only learn to fill columns that had gaps during fit,
so each baseline is run twice: as-is (fitted on the complete training set)
and "fair" (fitted on training data where the same sections are hidden in a
random half of the rows).

Beside each protocol's MSE the tables give the MSE without each method's
worst 1% of test rows, which shows how much of it a few rows make.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..datasets import load_dataset, make_vfg_synthetic
from ..impute import VFGImputer
from .baselines import baseline_imputers
from .report import mean_std, to_markdown

SYNTHETIC_SECTIONS = [[0, 1], [2, 3], [4, 5], [6, 7]]
CALIFORNIA_SECTIONS = [[0, 1], [2, 3], [4, 5], [6, 7]]


def hide_sections(X: np.ndarray, columns: Sequence[int], fraction: float,
                  rng: np.random.RandomState) -> np.ndarray:
    """Copy of ``X`` with ``columns`` set to NaN in a random ``fraction`` of rows."""
    X = X.copy()
    rows = rng.rand(X.shape[0]) < fraction
    X[np.ix_(rows, list(columns))] = np.nan
    return X


def trimmed_mse(imputed: np.ndarray, truth: np.ndarray, hidden: np.ndarray,
                worst: float = 0.01) -> float:
    """MSE on the hidden entries without the ``worst`` fraction of rows.

    Rows are ranked by their own squared error on their hidden entries, and the
    highest ``ceil(worst * n)`` are dropped. Not the protocols' metric: it shows
    how much of a method's MSE a few rows make (on the California protocol,
    three of the 640 test rows make most of it).
    """
    rows = hidden.any(axis=1)
    squared = np.where(hidden, imputed - truth, 0.0)[rows] ** 2
    row_sum, row_count = squared.sum(axis=1), hidden[rows].sum(axis=1)
    n_rows = len(row_sum)
    keep = np.argsort(row_sum / row_count)[: n_rows - int(np.ceil(worst * n_rows))]
    return float(row_sum[keep].sum() / row_count[keep].sum())


def evaluate_protocol(
    X_train: np.ndarray, X_test: np.ndarray, missing_columns: Sequence[int],
    vfg_variants: dict[str, Callable[[], object]], seed: int,
    baselines: bool = True,
) -> list[dict]:
    """MSE on the hidden test entries for every method."""
    X_test_missing = X_test.copy()
    X_test_missing[:, missing_columns] = np.nan
    hidden = np.isnan(X_test_missing)
    X_train_fair = hide_sections(X_train, missing_columns, 0.5, np.random.RandomState(seed))
    runs = [(name, factory, X_train) for name, factory in vfg_variants.items()]
    if baselines:
        for name, factory in baseline_imputers(seed).items():
            runs.append((name, factory, X_train))
            if name not in ("mean", "median"):  # column statistics: fair either way
                runs.append((f"{name} (fair)", factory, X_train_fair))
    records = []
    for name, factory, train in runs:
        start = time.perf_counter()
        record = {"method": name, "seed": seed}
        try:
            imputer = factory().fit(train)
            fitted = time.perf_counter()
            imputed = imputer.transform(X_test_missing)
            record["fit_seconds"] = fitted - start
            record["transform_seconds"] = time.perf_counter() - fitted
            record["mse"] = float(np.mean((imputed[hidden] - X_test[hidden]) ** 2))
            record["trimmed_mse"] = trimmed_mse(imputed, X_test, hidden)
        except Exception as error:  # recorded, not fatal
            record["error"] = f"{type(error).__name__}: {error}"
        records.append(record)
    return records


#: VFGImputer settings compared on the paper's protocols.
#: A latent wider than 2-column sections, so an invertible decoder has room
#: for what its section does not show (the sign of z2 behind x7 = z2**2),
#: and deeper edges; the imputation suite runs it too, when named.
WIDER_LATENT = {"latent_dim": 4, "n_coupling_layers": 6}

VFG_VARIANTS = {
    "VFG (weighted)": dict(aggregation="weighted"),
    "VFG (weighted, paper imputation)": dict(aggregation="weighted", section_model="paper"),
    "VFG (weighted, n_init=3)": dict(aggregation="weighted", n_init=3),
    "VFG (weighted, n_init=3, latent_dim=4, 6 couplings)": dict(
        aggregation="weighted", n_init=3, **WIDER_LATENT),
    # The synthetic protocol's error is a raw MSE, so these weight the
    # loss by column variance (on the standardized California protocol
    # that is every column the same).
    "VFG (weighted, n_init=3, variance weights)": dict(
        aggregation="weighted", n_init=3, column_weights="variance"),
    "VFG (weighted, n_init=3, latent_dim=4, 6 couplings, variance weights)": dict(
        aggregation="weighted", n_init=3, column_weights="variance", **WIDER_LATENT),
    "VFG (paper: mean)": dict(aggregation="mean", section_model="paper"),
    # one node over every column, the default without sections: the
    # protocol's sections and tree do not apply
    "VFG (concatenate)": dict(aggregation="concatenate"),
}


def vfg_variants(sections, tree, seed: int, variants: Sequence[str] | None = None,
                 **overrides) -> dict[str, Callable[[], object]]:
    """Factories of the chosen :data:`VFG_VARIANTS` (all by default)."""
    unknown = set(variants or ()) - set(VFG_VARIANTS)
    if unknown:
        raise ValueError(f"Unknown VFG variants {sorted(unknown)}; "
                         f"choose from {list(VFG_VARIANTS)}.")
    structure = dict(sections=sections, graph=tree)
    return {name: (lambda settings=settings: VFGImputer(
                **settings, random_state=seed, **overrides,
                **({} if settings["aggregation"] == "concatenate" else structure)))
            for name, settings in VFG_VARIANTS.items()
            if variants is None or name in variants}


def run_synthetic(seeds: Sequence[int], baselines: bool = True, progress: bool = True,
                  variants: Sequence[str] | None = None, **overrides) -> pd.DataFrame:
    """The synthetic protocol, one record per (seed, method); ``overrides`` go
    to every VFGImputer variant."""
    records = []
    for seed in tqdm(seeds, desc="VFG paper: synthetic", disable=not progress):
        X = make_vfg_synthetic(1300, random_state=seed)
        records += evaluate_protocol(
            X[:1000], X[1000:], [2, 3, 6, 7],
            vfg_variants(SYNTHETIC_SECTIONS, [0, 1, 2, 3], seed, variants, **overrides), seed,
            baselines)
    return pd.DataFrame.from_records(records).assign(protocol="synthetic")


def run_california(seeds: Sequence[int], baselines: bool = True, progress: bool = True,
                   variants: Sequence[str] | None = None, partner: bool = False,
                   **overrides) -> pd.DataFrame:
    """The California protocol, one record per (seed, method); with
    ``partner``, only AveRooms is hidden (the california_partner protocol)."""
    X = load_dataset("california").data.to_numpy()
    X_train, X_test = X[:20000], X[20000:]
    mean, std = X_train.mean(0), X_train.std(0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    records = []
    protocol = "california_partner" if partner else "california"
    for seed in tqdm(seeds, desc=f"VFG paper: {protocol}", disable=not progress):
        records += evaluate_protocol(
            X_train, X_test, [2] if partner else [2, 3],
            vfg_variants(CALIFORNIA_SECTIONS, [[0, 1], [2, 3]], seed, variants, **overrides),
            seed, baselines)
    return pd.DataFrame.from_records(records).assign(protocol=protocol)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", nargs="+", default=["synthetic", "california"],
                        choices=["synthetic", "california", "california_partner"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--california-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--vfg-max-epochs", type=int, help="override VFGImputer's max_epochs")
    parser.add_argument("--variants", nargs="+", choices=list(VFG_VARIANTS),
                        help="VFGImputer variants to run (default: all)")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    overrides = {} if args.vfg_max_epochs is None else {"max_epochs": args.vfg_max_epochs}
    frames = []
    if "synthetic" in args.protocols:
        frames.append(run_synthetic(args.seeds, variants=args.variants, **overrides))
    if "california" in args.protocols:
        frames.append(run_california(args.california_seeds, variants=args.variants,
                                     **overrides))
    if "california_partner" in args.protocols:
        frames.append(run_california(args.california_seeds, variants=args.variants,
                                     partner=True, **overrides))
    runs = pd.concat(frames, ignore_index=True)
    args.output.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.output / f"vfg-paper-{'-'.join(args.protocols)}.csv", index=False)
    for protocol, frame in runs.groupby("protocol", sort=False):
        table = pd.DataFrame({
            "test MSE": mean_std(frame, ["method"], "mse"),
            "median MSE": frame.groupby("method", sort=False)["mse"].median().round(3),
            "MSE, worst 1% rows dropped": mean_std(frame, ["method"], "trimmed_mse"),
            "fit s": frame.groupby("method", sort=False)["fit_seconds"].mean().round(2),
            "transform s": frame.groupby("method", sort=False)["transform_seconds"].mean().round(3),
        })
        print(f"\n{protocol}: imputation MSE on the hidden entries, seeds "
              f"{sorted(frame['seed'].unique().tolist())}\n")
        print(to_markdown(table))


if __name__ == "__main__":
    main()
