"""Mixed tables: flowimpute's imputers against imputers that handle categories.

Run with ``python -m flowimpute.bench.mixed``.

Protocol: each table (``diamonds_10k`` is a fixed 10,000-row sample of
diamonds) loses a ``rate`` of its observed cells completely at random (real
gaps stay in place and are never scored); every imputer fills the table in
one ``fit_transform``. Reported per table, rate and mask seed: the RMSE of
the numeric (float and integer) columns' hidden cells in units of each
column's standard deviation, the accuracy on the categorical and boolean
columns' hidden cells, and the seconds of the fill. The baselines are
:mod:`flowimpute.bench.mixed_baselines`, and the peers of
:mod:`flowimpute.bench.peers` where they are installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..amputation import mcar_mask
from ..datasets import load_mixed
from ..impute import ACFlowImputer, FlowImputer, VFGImputer
from ..preprocessing.table import LABEL_KINDS, TableEncoder
from .mixed_baselines import mixed_baseline_imputers
from .peers import peer_imputers
from .report import to_markdown

TABLES = ["diamonds_10k", "diamonds", "ames", "credit_data", "attrition", "penguins"]
#: Run only when named in ``--methods``.
NAMED_ONLY = ("FlowImputer", "VFGImputer")
#: flowimpute's imputers among :func:`imputers`; the others are baselines.
FLOWIMPUTE_METHODS = frozenset({"ACFlowImputer", "FlowImputer", "VFGImputer"})


def load_table(name: str) -> pd.DataFrame:
    """A benchmark table by name: a mixed table, or ``diamonds_10k``."""
    if name == "diamonds_10k":
        return load_mixed("diamonds").sample(10_000, random_state=0).reset_index(drop=True)
    return load_mixed(name)


def imputers(seed: int) -> dict[str, Callable[[], object]]:
    return {
        **mixed_baseline_imputers(seed),
        **peer_imputers(seed)[0],
        "ACFlowImputer": lambda: ACFlowImputer(random_state=seed),
        "FlowImputer": lambda: FlowImputer(random_state=seed),
        "VFGImputer": lambda: VFGImputer(random_state=seed),
    }


def hide_cells(frame: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` with a ``rate`` of its observed cells hidden (MCAR), and the
    mask of the hidden cells."""
    hidden = mcar_mask(frame.to_numpy(), rate, seed) & frame.notna().to_numpy()
    return frame.mask(hidden), hidden


def errors(truth: pd.DataFrame, imputed: pd.DataFrame, hidden: np.ndarray) -> dict:
    """Numeric RMSE (per-column standard deviations) and categorical accuracy
    on the hidden cells."""
    table = TableEncoder().fit(truth)
    squared, matches = [], []
    for index, name in enumerate(truth):
        rows = hidden[:, index]
        if not rows.any():
            continue
        true, guess = truth[name][rows], imputed[name][rows]
        if table.kinds_[index] in LABEL_KINDS:
            matches.append(true.to_numpy(object) == guess.to_numpy(object))
        else:
            scale = truth[name].std()
            squared.append(((true.to_numpy(float) - guess.to_numpy(float)) / scale) ** 2)
    return {"numeric_rmse": float(np.sqrt(np.mean(np.concatenate(squared)))) if squared
            else np.nan,
            "categorical_accuracy": float(np.mean(np.concatenate(matches))) if matches
            else np.nan}


def run(tables: Sequence[str], rates: Sequence[float], seeds: Sequence[int],
        methods: Sequence[str] | None, output: Path, progress: bool = True) -> pd.DataFrame:
    """Every selected imputer on every table, rate and seed; each result is
    appended to ``output / "mixed_runs.csv"`` and printed as it comes (with
    ``progress``)."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / "mixed_runs.csv"
    rows = []
    jobs = [(t, r, s) for t in tables for r in rates for s in seeds]
    for table_name, rate, seed in tqdm(jobs, desc="mixed tables", disable=not progress):
        truth = load_table(table_name)
        frame, hidden = hide_cells(truth, rate, seed)
        for method, factory in imputers(seed).items():
            if (methods is not None and method not in methods) or (
                    methods is None and method in NAMED_ONLY):
                continue
            start = time.perf_counter()
            imputed = factory().fit_transform(frame)
            seconds = time.perf_counter() - start
            if frame.isna().any().any() and imputed.isna().to_numpy().any():
                raise AssertionError(f"{method} left gaps in {table_name}.")
            rows.append({"table": table_name, "rows": len(truth), "rate": rate, "seed": seed,
                         "method": method, **errors(truth, imputed, hidden),
                         "seconds": seconds})
            pd.DataFrame(rows).to_csv(path, index=False)
            result = rows[-1]
            if progress:
                tqdm.write(f"{table_name} {rate:.0%} seed {seed} {method}: numeric RMSE "
                           f"{result['numeric_rmse']:.4f}, categorical accuracy "
                           f"{result['categorical_accuracy']:.4f}, {seconds:.1f} s")
    return pd.DataFrame(rows)


def verdict(runs: pd.DataFrame) -> pd.DataFrame:
    """Per table and rate: the best flowimpute imputer and the best baseline
    on each metric (means over seeds), their ratio, and whether flowimpute
    wins both."""
    out = []
    for (table, rate), group in means(runs).groupby(["table", "rate"], sort=False):
        ours = group[group["method"].isin(FLOWIMPUTE_METHODS)]
        theirs = group[~group["method"].isin(FLOWIMPUTE_METHODS)]
        if ours.empty or theirs.empty:
            continue
        row = {"table": table, "rate": rate}
        for metric, best in (("numeric_rmse", min), ("categorical_accuracy", max)):
            mine, other = best(ours[metric]), best(theirs[metric])
            row[f"flowimpute {metric}"] = mine
            row[f"baseline {metric}"] = other
            row[f"{metric} best baseline"] = theirs.set_index("method")[metric].idxmax() \
                if best is max else theirs.set_index("method")[metric].idxmin()
            row[f"{metric} win"] = bool(mine < other if best is min else mine > other) \
                if np.isfinite(mine) and np.isfinite(other) else None
        out.append(row)
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=TABLES, choices=TABLES)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--methods", nargs="+", help="subset of the methods to run")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="CSV",
                        help="only print the tables of earlier runs' CSV files")
    args = parser.parse_args(argv)
    if args.summarize:
        runs = pd.concat([pd.read_csv(path) for path in args.summarize], ignore_index=True)
    else:
        runs = run(args.tables, args.rates, args.seeds, args.methods, args.output)
    print(to_markdown(means(runs).round(4)))
    print()
    print(to_markdown(verdict(runs).round(4)))


def means(runs: pd.DataFrame) -> pd.DataFrame:
    """Numeric RMSE, categorical accuracy and seconds per table, rate and
    method, averaged over seeds."""
    return runs.groupby(["table", "rate", "method"], sort=False)[
        ["numeric_rmse", "categorical_accuracy", "seconds"]].mean().reset_index()


if __name__ == "__main__":
    main()
