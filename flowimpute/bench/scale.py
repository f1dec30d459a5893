"""Speed and scale: imputation throughput, growth with the number of rows, and
training seconds per epoch against zuko.

Run with ``python -m flowimpute.bench.scale`` (add ``--parts`` to pick parts).

- ``throughput``: every imputer is fitted once on 10,000 rows of a 20-column
  table (four latent factors mixed through non-linear maps, plus noise), 20%
  of entries missing completely at random; then ``transform`` imputes 10k,
  100k and 1M new rows with 20% missing. Reported: seconds, rows per second,
  the peak growth of resident memory during the call, and the ratios of rows
  per second to IterativeImputer's and KNN's.
- ``growth``: fit time on 10k, 100k and 1M rows (flows with a fixed budget of
  ``--growth-epochs`` epochs, so their cost per row is the quantity measured),
  beside the transform times of the throughput part; ``scale.png`` plots both
  on log-log axes.
- ``wide``: fit plus transform of 15 and 1,000 rows by 300 columns (the
  same kind of table, 20% missing completely at random), ACFlowImputer and
  FlowImputer (default and coupling density) beside KNN, IterativeImputer
  and the MissForest-style imputer; seconds and RMSE on the missing entries
  (standardized by each column's spread).
- ``epoch``: seconds per training epoch of CouplingFlowDensity, NAFDensity
  (DSF and affine), each in float64 (flowimpute's default) and float32
  (zuko's), and zuko's RealNVP, NAF and MAF with the same number of
  parameters (printed beside them), batch size and rows; needs
  ``pip install zuko`` (the ``bench`` extra).

A run that is projected (linearly from the previous size) to exceed
``--budget`` seconds is skipped and reported as such, so one slow baseline
cannot hold the benchmark for hours.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from ..amputation import mcar_mask
from ..density import CouplingFlowDensity, NAFDensity
from ..impute import ACFlowImputer, FlowImputer, VFGImputer
from .baselines import baseline_imputers
from .memory import peak_memory
from .naf import ZukoDensity
from .report import to_markdown

N_COLUMNS = 20
SIZES = (10_000, 100_000, 1_000_000)
FIT_ROWS = 10_000


def make_table(n_rows: int, seed: int, n_columns: int = N_COLUMNS) -> np.ndarray:
    """``n_rows`` rows of ``n_columns`` correlated, non-linear columns: four
    standard-normal factors, each column a fixed random mix of them passed
    through ``tanh``, ``sin`` or a square, plus 10% noise. The mixing is drawn
    from seed 0 so every call shares one distribution; ``seed`` draws rows."""
    mixing = np.random.RandomState(0).normal(size=(4, n_columns))
    kinds = np.arange(n_columns) % 4
    rng = np.random.RandomState(seed)
    X = np.empty((n_rows, n_columns))
    for start in range(0, n_rows, 100_000):   # bounded temporaries at 1M rows
        rows = slice(start, min(start + 100_000, n_rows))
        mixed = rng.normal(size=(rows.stop - rows.start, 4)) @ mixing
        X[rows] = np.select([kinds == 0, kinds == 1, kinds == 2],
                            [mixed, np.tanh(mixed), np.sin(mixed)], mixed ** 2 / 4)
        X[rows] += 0.1 * rng.normal(size=X[rows].shape)
    return X


def imputers(seed: int, epochs: int | None = None) -> dict[str, Callable[[], object]]:
    """flowimpute's imputers, in float64 (the default) and float32
    (ACFlowImputer: at its defaults, float32 with 8 draws, and in float64
    with 20 draws), VFG's paper imputation with and without its gap search,
    and VFG with one refinement round of partially observed sections
    instead of 3, beside IterativeImputer, KNN and MissForest; the mixed
    FlowImputer ensemble of the imputation suite. ``epochs`` caps every
    flow's epochs but ACFlowImputer's, whose fit is measured at its defaults."""
    cap = {} if epochs is None else {"max_epochs": epochs}
    baselines = baseline_imputers(seed)
    flows = {
        "VFGImputer": lambda dtype: VFGImputer(random_state=seed, dtype=dtype, **cap),
        "FlowImputer(Coupling)": lambda dtype: FlowImputer(
            CouplingFlowDensity(n_layers=6, hidden_dims=(64, 64), **cap), dtype=dtype,
            random_state=seed),
        "FlowImputer(NAF)": lambda dtype: FlowImputer(
            NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap), dtype=dtype, random_state=seed),
    }
    return {
        **{name: partial(make, "float64") for name, make in flows.items()},
        **{f"{name} float32": partial(make, "float32") for name, make in flows.items()},
        "ACFlowImputer": lambda: ACFlowImputer(random_state=seed),
        "ACFlowImputer float64, 20 draws": lambda: ACFlowImputer(
            random_state=seed, dtype="float64", n_draws=20),
        "VFGImputer(tree) float32": lambda: VFGImputer(
            random_state=seed, dtype="float32", aggregation="weighted", **cap),
        "VFGImputer(tree) float32, paper imputation": lambda: VFGImputer(
            random_state=seed, dtype="float32", aggregation="weighted", section_model="paper",
            **cap),
        "VFGImputer(tree) float32, paper imputation, no gap search": lambda: VFGImputer(
            random_state=seed, dtype="float32", aggregation="weighted", section_model="paper",
            n_gap_steps=0, **cap),
        "VFGImputer(tree) float32, 1 refine step": lambda: VFGImputer(
            random_state=seed, dtype="float32", aggregation="weighted", n_refine_steps=1,
            **cap),
        "IterativeImputer": baselines["IterativeImputer"],
        "KNN(k=5)": baselines["KNN(k=5)"],
        "MissForest(ExtraTrees)": baselines["MissForest(ExtraTrees)"],
        "FlowImputer(NAF+Coupling x3)": lambda: FlowImputer(
            [NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap),
             CouplingFlowDensity(n_layers=6, hidden_dims=(64, 64), **cap)], ensemble_size=3,
            point_estimate="auto", random_state=seed),
    }


def _incomplete(n_rows: int, seed: int) -> np.ndarray:
    X = make_table(n_rows, seed)
    X[mcar_mask(X, 0.2, np.random.RandomState(seed + 1))] = np.nan
    return X


def _over_sizes(sizes: Sequence[int], budget: float, data_seed: int,
                call: Callable[[np.ndarray], object],
                check: Callable[[object], None] = lambda result: None) -> list[dict]:
    """Time ``call`` on an incomplete table of each size, with its peak
    memory, and pass its result to ``check`` (then drop it); a size projected
    (linearly from the last one measured) to take longer than ``budget``
    seconds is skipped."""
    records, last = [], None
    for n_rows in sizes:
        record: dict = {"n_rows": n_rows}
        projected = 0.0 if last is None else last[1] * n_rows / last[0]
        if projected > budget:
            record["skipped"] = f"projected {projected:.0f} s"
        else:
            X = _incomplete(n_rows, data_seed)
            start = time.perf_counter()
            result, record["peak_memory_mib"] = peak_memory(partial(call, X))
            record["seconds"] = time.perf_counter() - start
            check(result)
            del X, result
            last = (n_rows, record["seconds"])
        records.append(record)
    return records


def run_throughput(sizes: Sequence[int], methods: dict[str, Callable[[], object]],
                   budget: float, progress: Callable[[str], None] = print) -> pd.DataFrame:
    """Fit each imputer on ``FIT_ROWS`` rows, transform every size."""
    X_fit = _incomplete(FIT_ROWS, 0)
    records = []
    for name, factory in methods.items():
        start = time.perf_counter()
        imputer = factory().fit(X_fit)
        fit_seconds = time.perf_counter() - start

        def no_nan(imputed, name=name):
            if np.isnan(imputed).any():
                raise RuntimeError(f"{name} left NaN in its output")

        for record in _over_sizes(sizes, budget, 1, imputer.transform, no_nan):
            if "seconds" in record:
                seconds = record.pop("seconds")
                record.update(transform_seconds=seconds,
                              rows_per_second=record["n_rows"] / seconds)
            record = {"method": name, "fit_seconds_10k": fit_seconds, **record}
            progress(f"throughput {record}")
            records.append(record)
    return pd.DataFrame.from_records(records)


def run_growth(sizes: Sequence[int], methods: dict[str, Callable[[], object]],
               budget: float, progress: Callable[[str], None] = print) -> pd.DataFrame:
    """Fit time of each imputer on every size."""
    records = []
    for name, factory in methods.items():
        for record in _over_sizes(sizes, budget, 2, lambda X, f=factory: f().fit(X)):
            if "seconds" in record:
                record["fit_seconds"] = record.pop("seconds")
            record = {"method": name, **record}
            progress(f"growth {record}")
            records.append(record)
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------------------- wide
WIDE_COLUMNS = 300
WIDE_ROWS = (15, 1_000)


def wide_imputers(seed: int) -> dict[str, Callable[[], object]]:
    """The imputers of the wide-table part: ACFlowImputer and FlowImputer at
    their defaults, FlowImputer with a coupling density, beside KNN,
    IterativeImputer and the MissForest-style imputer. IterativeImputer runs
    scikit-learn's default 10 rounds: with the other benchmarks' 100 it keeps
    a Bayesian ridge model per column and round, too many for the memory at
    300 columns."""
    baselines = baseline_imputers(seed)
    return {
        "ACFlowImputer": lambda: ACFlowImputer(random_state=seed),
        "FlowImputer": lambda: FlowImputer(random_state=seed),
        "FlowImputer(Coupling)": lambda: FlowImputer(CouplingFlowDensity(),
                                                     random_state=seed),
        "KNN(k=5)": baselines["KNN(k=5)"],
        "IterativeImputer(10 rounds)": lambda: IterativeImputer(random_state=seed),
        "MissForest(ExtraTrees)": baselines["MissForest(ExtraTrees)"],
    }


def run_wide(row_counts: Sequence[int], methods: dict[str, Callable[[], object]],
             budget: float, progress: Callable[[str], None] = print) -> pd.DataFrame:
    """Seconds of ``fit_transform`` and RMSE on the missing entries of wide
    tables; a run projected (linearly in rows from the last) past ``budget``
    seconds is skipped."""
    records = []
    for name, factory in methods.items():
        last = None
        for n_rows in row_counts:
            record: dict = {"method": name, "n_rows": n_rows, "n_columns": WIDE_COLUMNS}
            projected = 0.0 if last is None else last[1] * n_rows / last[0]
            if projected > budget:
                record["skipped"] = f"projected {projected:.0f} s"
            else:
                truth = make_table(n_rows, 3, WIDE_COLUMNS)
                missing = mcar_mask(truth, 0.2, np.random.RandomState(4))
                start = time.perf_counter()
                imputed = factory().fit_transform(np.where(missing, np.nan, truth))
                record["seconds"] = time.perf_counter() - start
                errors = (imputed - truth) / truth.std(axis=0)
                record["rmse"] = float(np.sqrt(np.mean(errors[missing] ** 2)))
                last = (n_rows, record["seconds"])
            progress(f"wide {record}")
            records.append(record)
    return pd.DataFrame.from_records(records)


# ----------------------------------------------------------------- epochs
class _ZukoTrainer(ZukoDensity):
    """A zuko flow built by ``build``, trained by :class:`ZukoDensity`'s loop
    (the minibatch settings of flowimpute's estimators)."""

    def __init__(self, build: Callable[[], torch.nn.Module], epochs: int,
                 batch_size: int) -> None:
        super().__init__(max_epochs=epochs, random_state=0, batch_size=batch_size)
        self.build = build

    def _build(self, n_features: int) -> torch.nn.Module:
        return self.build()


def _n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def epoch_pairs(n_features: int, epochs: int, batch_size: int) -> list[tuple[str, object, str]]:
    """(name, estimator, family) for the per-epoch timing: each flowimpute
    flow in float64 and float32 beside the zuko flow of the same family with
    (within 2%) the same number of parameters on 20 columns. zuko's NAF has
    a monotone MLP per dimension where NAFDensity has a sigmoidal flow, so its
    network is narrowed to (36, 36) to match NAFDensity's 204k parameters."""
    import zuko

    shared = dict(max_epochs=epochs, batch_size=batch_size, validation_fraction=0.0,
                  n_iter_no_change=None, learning_rate=1e-3, clip_grad_norm=10.0,
                  device="cpu", random_state=0)
    hidden = (64, 64)
    ours = [
        ("CouplingFlowDensity (6 layers)", "RealNVP",
         lambda dtype: CouplingFlowDensity(n_layers=6, hidden_dims=hidden, dtype=dtype, **shared)),
        ("NAFDensity dsf (3 flows, 16 units)", "NAF",
         lambda dtype: NAFDensity(n_flows=3, hidden_dims=hidden, n_transformer_units=16,
                                  dtype=dtype, **shared)),
        ("NAFDensity affine (3 flows)", "MAF",
         lambda dtype: NAFDensity(n_flows=3, hidden_dims=hidden, transformer="affine",
                                  dtype=dtype, **shared)),
    ]
    theirs = {
        "RealNVP": ("zuko RealNVP (6 transforms)", lambda: zuko.flows.RealNVP(
            n_features, transforms=6, hidden_features=hidden)),
        "NAF": ("zuko NAF (3 transforms, signal 16, network 36x36)", lambda: zuko.flows.NAF(
            n_features, transforms=3, signal=16, hidden_features=hidden,
            network=dict(hidden_features=(36, 36)))),
        "MAF": ("zuko MAF (3 transforms)", lambda: zuko.flows.MAF(
            n_features, transforms=3, hidden_features=hidden)),
    }
    pairs = []
    for name, family, make in ours:
        zuko_name, build = theirs[family]
        pairs += [(name, make("float64"), family), (f"{name} float32", make("float32"), family),
                  (zuko_name, _ZukoTrainer(build, epochs, batch_size), family)]
    return pairs


def run_epoch_speed(n_rows: int, epochs: int, batch_size: int,
                    progress: Callable[[str], None] = print) -> pd.DataFrame:
    X = make_table(n_rows, 3)
    X = (X - X.mean(0)) / X.std(0)
    records = []
    for name, estimator, family in epoch_pairs(X.shape[1], epochs, batch_size):
        start = time.perf_counter()
        estimator.fit(X)
        seconds = time.perf_counter() - start
        module = getattr(estimator, "module_", None) or estimator.flow_
        record = {"family": family, "method": name, "parameters": _n_parameters(module),
                  "seconds_per_epoch": seconds / epochs}
        progress(f"epoch {record}")
        records.append(record)
    return pd.DataFrame.from_records(records)


# ----------------------------------------------------------------- report
def speedups(throughput: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Rows per second of every method divided by ``reference``'s, by table size."""
    table = throughput.pivot(index="method", columns="n_rows", values="rows_per_second")
    return table / table.loc[reference]


def _plot(throughput: pd.DataFrame, growth: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, frame, column, title in [
        (axes[0], growth, "fit_seconds", "fit (flows: fixed epochs)"),
        (axes[1], throughput, "transform_seconds", "transform (fitted on 10k rows)"),
    ]:
        if column not in frame:
            continue
        for method, rows in frame.dropna(subset=[column]).groupby("method", sort=False):
            ax.plot(rows["n_rows"], rows[column], marker="o", label=method)
        ax.set(xscale="log", yscale="log", xlabel="rows", ylabel="seconds", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["throughput", "growth", "wide", "epoch"],
                        choices=["throughput", "growth", "wide", "epoch"])
    parser.add_argument("--wide-rows", type=int, nargs="+", default=list(WIDE_ROWS))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--methods", nargs="+", help="subset of the imputers")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="skip a run projected to take longer (seconds)")
    parser.add_argument("--epochs", type=int, default=30,
                        help="training epochs of the flows fitted for the throughput part")
    parser.add_argument("--growth-epochs", type=int, default=2)
    parser.add_argument("--epoch-rows", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    throughput = growth = pd.DataFrame()

    def chosen(epochs):
        return {name: factory for name, factory in imputers(0, epochs).items()
                if not args.methods or name in args.methods}

    if "throughput" in args.parts:
        throughput = run_throughput(args.sizes, chosen(args.epochs), args.budget)
        throughput.to_csv(args.output / "scale-throughput.csv", index=False)
        table = throughput.pivot(index="method", columns="n_rows", values="rows_per_second")
        print("\nTransform throughput (rows per second; fitted on 10k rows):\n")
        print(to_markdown(table.round(0)))
        for reference in ("IterativeImputer", "KNN(k=5)"):
            if reference in table.index:
                print(f"\nThroughput / {reference}'s:\n")
                print(to_markdown(speedups(throughput, reference).round(2)))
    if "growth" in args.parts:
        growth = run_growth(args.sizes, chosen(args.growth_epochs), args.budget)
        growth.to_csv(args.output / "scale-growth.csv", index=False)
        print("\nFit seconds by rows:\n")
        print(to_markdown(growth.pivot(index="method", columns="n_rows",
                                       values="fit_seconds").round(2)))
    if not throughput.empty or not growth.empty:
        _plot(throughput, growth, args.output / "scale.png")
    if "wide" in args.parts:
        wide = run_wide(args.wide_rows, {name: factory for name, factory in
                                         wide_imputers(0).items()
                                         if not args.methods or name in args.methods},
                        args.budget)
        wide.to_csv(args.output / "scale-wide.csv", index=False)
        print(f"\nWide tables ({WIDE_COLUMNS} columns): seconds of fit_transform, RMSE:\n")
        print(to_markdown(wide.round(3)))
    if "epoch" in args.parts:
        epochs = run_epoch_speed(args.epoch_rows, 3, 256)
        epochs.to_csv(args.output / "scale-epoch.csv", index=False)
        print("\nSeconds per training epoch:\n")
        print(to_markdown(epochs.round(4)))


if __name__ == "__main__":
    main()
