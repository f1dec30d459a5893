"""The main job: which imputer on tables like mine, and at what cost.

``flowimpute bench`` (its default preset, ``overview``) runs this in minutes
on a laptop-class CPU: flowimpute's recommended imputers, scikit-learn's and,
where installed, the peers of :mod:`flowimpute.bench.peers`, on several real
tables, one row of results printed per finished table under a progress bar
with the time left, then a short verdict.

Protocol (one mask, seed 0 by default):

- Numeric tables: a random 1,000 rows, split 75/25 and z-scored with the
  training statistics; 20% of the entries hidden completely at random in
  both parts (:func:`flowimpute.bench.imputation.make_setting`); every
  imputer is fitted on the incomplete training rows and imputes the held-out
  rows. Error: RMSE on the hidden held-out entries (z-scored scale). A peer
  that learns only from the rows it fills (HyperImpute's automatic imputer,
  GAIN and Sinkhorn plugins) fills the training and the held-out rows
  together and is labelled "in-sample".
- Mixed tables (text categories, flags, integers, real gaps): a random
  1,000 rows where there are more, 20% of the observed cells hidden
  completely at random, the table filled by one
  ``fit_transform`` (:mod:`flowimpute.bench.mixed`). Errors: RMSE of the
  numeric cells in units of each column's standard deviation, and accuracy
  on the categorical and boolean cells.
- Seconds: fit plus imputation, on the machine's threads.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from ..impute import ACFlowImputer, FlowImputer, VFGImputer
from . import mixed
from .baselines import baseline_imputers
from .imputation import make_setting
from .mixed_baselines import mixed_baseline_imputers
from .peers import peer_imputers
from .report import to_markdown

NUMERIC_TABLES = ("california", "gas_turbine", "wine_quality_white", "letter", "yeast")
MIXED_TABLES = ("penguins", "attrition", "credit_data")
ROWS = 1000
RATE = 0.2

#: RMSE ratios within this of 1 count as level in the verdict: within one
#: mask's noise.
LEVEL = 0.03

#: flowimpute's imputers in the comparison whose score_samples gives the
#: likelihood of incomplete rows.
_SCORES_INCOMPLETE_ROWS = frozenset({"ACFlowImputer"})

FLOWIMPUTE = "flowimpute"
BASELINE = "baseline"
PEER = "peer"

#: Rough seconds per fit and imputation of a 1,000 x 8 table on 2 CPU cores:
#: the progress bar's weights (it learns the machine's speed as it goes).
_EXPECTED_SECONDS = {"ACFlowImputer": 10.0, "FlowImputer": 25.0, "VFGImputer": 3.0,
                     "MissForest": 7.0, "IterativeImputer": 1.5, "miceforest": 5.0,
                     "HyperImpute": 40.0}
_DEFAULT_EXPECTED_SECONDS = 0.2
_PEER_EXPECTED_SECONDS = 10.0


@dataclass(frozen=True)
class Candidate:
    """An imputer in the comparison: its factory and where it comes from."""

    factory: Callable[[], object]
    family: str


def candidates(seed: int, device: str = "auto", *, mixed_table: bool = False,
               peers: bool = True) -> tuple[dict[str, Candidate], list[str]]:
    """The imputers compared on a numeric or a mixed table, and a note per
    peer library that is not installed.

    The baselines keep their names across both kinds of table: "mean" is the
    most frequent category on a mixed table, "KNN(k=5)" works on one-hot
    categories there, and "MissForest" is a chained ExtraTrees regression on
    a numeric table and random forests with classifiers on a mixed one
    (:mod:`flowimpute.bench.mixed_baselines`).
    """
    ours = {"ACFlowImputer": lambda: ACFlowImputer(random_state=seed, device=device),
            "FlowImputer": lambda: FlowImputer(random_state=seed, device=device)}
    if mixed_table:
        pool = mixed_baseline_imputers(seed)
        theirs = {"mean": pool["most frequent + mean"], "KNN(k=5)": pool["KNN(k=5) one-hot"],
                  "MissForest": pool["MissForest(RF)"]}
    else:   # on mixed tables VFGImputer's categories trail (user guide, vfg)
        ours["VFGImputer"] = lambda: VFGImputer(random_state=seed, device=device)
        pool = baseline_imputers(seed)
        theirs = {"mean": pool["mean"], "KNN(k=5)": pool["KNN(k=5)"],
                  "IterativeImputer": pool["IterativeImputer"],
                  "MissForest": pool["MissForest(ExtraTrees)"]}
    chosen = {name: Candidate(f, FLOWIMPUTE) for name, f in ours.items()}
    chosen.update({name: Candidate(f, BASELINE) for name, f in theirs.items()})
    notes: list[str] = []
    if peers:
        factories, notes = peer_imputers(seed)
        # A peer that learns only from the rows it fills is named so everywhere.
        chosen.update({(f"{name} (in-sample)" if getattr(f(), "in_sample", False) else name):
                       Candidate(f, PEER) for name, f in factories.items()})
    return chosen, notes


def expected_centiseconds(method: str, n_cells: int) -> int:
    """The progress bar's weight of one run (at least 1): :data:`_EXPECTED_SECONDS`,
    scaled by the table's cells."""
    base = _EXPECTED_SECONDS.get(method)
    if base is None:
        base = _PEER_EXPECTED_SECONDS if method.startswith("HyperImpute") \
            else _DEFAULT_EXPECTED_SECONDS
    return max(1, round(100 * base * n_cells / 8000))


def _numeric_run(imputer, setting) -> tuple[dict, str]:
    """Fit and impute one numeric setting; the record and the protocol."""
    X_fit, X_apply, X_true, hidden = setting[:4]
    if getattr(imputer, "in_sample", False):
        both = np.vstack([X_fit, X_apply])
        imputed = imputer.fit(both).transform(both)[len(X_fit):]
        protocol = "in-sample"
    else:
        imputed = imputer.fit(X_fit).transform(X_apply)
        protocol = "held-out"
    errors = imputed[hidden] - X_true[hidden]
    return {"rmse": float(np.sqrt(np.mean(errors ** 2)))}, protocol


def _numeric_table(name: str, seed: int):
    setting = make_setting(name, "MCAR", RATE, seed, ROWS)
    return setting, (setting.n_rows, setting.X_true.shape[1])


def _mixed_table(name: str, seed: int):
    truth = mixed.load_table(name)
    if len(truth) > ROWS:
        truth = truth.sample(ROWS, random_state=seed).reset_index(drop=True)
    frame, hidden = mixed.hide_cells(truth, RATE, seed)
    return (truth, frame, hidden), truth.shape


def _mixed_run(imputer, data) -> tuple[dict, str]:
    truth, frame, hidden = data
    imputed = imputer.fit_transform(frame)
    scores = mixed.errors(truth, imputed, hidden)
    return {"rmse": scores["numeric_rmse"], "accuracy": scores["categorical_accuracy"],
            "fitted": (imputer, frame)}, "in-sample"


def run(numeric_tables: Sequence[str] = NUMERIC_TABLES,
        mixed_tables: Sequence[str] = MIXED_TABLES, seed: int = 0, device: str = "auto",
        methods: Sequence[str] | None = None, peers: bool = True, progress: bool = True,
        on_table: Callable[[pd.DataFrame], None] | None = None,
        checkpoint: Path | None = None) -> tuple[pd.DataFrame, list[str], dict]:
    """Every candidate on every table; see the module docstring.

    Returns the records (one per table and method), the notes on peers that
    are not installed, and flowimpute's fitted imputers of the mixed tables
    with the table they filled, by (table, method), for pictures.
    ``on_table`` is called with a table's records as soon as it is done;
    ``checkpoint``, a CSV of the records so far, is rewritten after every
    table, so a stopped run keeps what it measured.
    """
    tables = [(name, False) for name in numeric_tables] + [(name, True) for name in mixed_tables]
    plans, notes = [], []
    for name, is_mixed in tables:
        chosen, notes = candidates(seed, device, mixed_table=is_mixed, peers=peers)
        if methods is not None:
            chosen = {m: c for m, c in chosen.items() if m in methods}
        data, shape = (_mixed_table if is_mixed else _numeric_table)(name, seed)
        weights = {m: expected_centiseconds(m, shape[0] * shape[1]) for m in chosen}
        plans.append((name, is_mixed, data, shape, chosen, weights))
    total = sum(sum(plan[-1].values()) for plan in plans)
    records, fitted = [], {}
    bar = tqdm(total=total, disable=not progress, desc="overview",
               bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} elapsed, "
                          "about {remaining} left")
    with bar:
        for name, is_mixed, data, shape, chosen, weights in plans:
            bar.set_description(f"overview ({name})", refresh=True)
            table_records = []
            for method, candidate in chosen.items():
                record = {"table": name, "kind": "mixed" if is_mixed else "numeric",
                          "rows": shape[0], "columns": shape[1], "method": method,
                          "family": candidate.family, "rmse": np.nan, "accuracy": np.nan,
                          "protocol": None, "error": None}
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():   # a baseline's, mid-progress bar
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        scores, record["protocol"] = (
                            _mixed_run if is_mixed else _numeric_run)(candidate.factory(), data)
                    imputer = scores.pop("fitted", None)
                    if imputer is not None and candidate.family == FLOWIMPUTE:
                        fitted[name, method] = imputer
                    record.update(scores)
                except Exception as error:  # recorded and reported, not fatal
                    record["error"] = f"{type(error).__name__}: {error}"
                record["seconds"] = time.perf_counter() - start
                table_records.append(record)
                bar.update(weights[method])
            records += table_records
            if checkpoint is not None:
                pd.DataFrame.from_records(records).to_csv(checkpoint, index=False)
            if on_table is not None:
                on_table(pd.DataFrame.from_records(table_records))
    return pd.DataFrame.from_records(records), notes, fitted


def table_line(records: pd.DataFrame) -> str:
    """One finished table as a line: each method's error, best first."""
    first = records.iloc[0]
    done = records.dropna(subset=["rmse"]).sort_values("rmse")
    parts = []
    for row, name in zip(done.itertuples(), done["method"], strict=True):
        accuracy = "" if pd.isna(row.accuracy) else f"/{row.accuracy:.2f}"
        parts.append(f"{name} {row.rmse:.3f}{accuracy}")
    failed = records["rmse"].isna().sum()
    tail = f" ({failed} failed)" if failed else ""
    metric = "RMSE/accuracy" if first.kind == "mixed" else "RMSE"
    return (f"{first.table} ({first.kind}, {first.rows} x {first.columns}, {metric}, "
            f"{records['seconds'].sum():.0f} s): " + ", ".join(parts) + tail)


def standings(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method: geometric mean over tables of its RMSE relative to the
    best on that table, tables where it was best, tables it filled (a failed
    run is left out here and listed among the failures), mean accuracy on
    the mixed tables and mean seconds per table."""
    done = runs.dropna(subset=["rmse"])
    relative = done["rmse"] / done.groupby("table")["rmse"].transform("min")
    best = done.loc[done.groupby("table")["rmse"].idxmin(), "method"].value_counts()
    grouped = done.assign(log_relative=np.log(relative)).groupby("method", sort=False)
    table = pd.DataFrame({
        "family": grouped["family"].first(),
        "relative RMSE": np.exp(grouped["log_relative"].mean()).round(3),
        "best on": best.reindex(grouped.size().index).fillna(0).astype(int),
        "tables": grouped.size(),
        "accuracy (mixed)": grouped["accuracy"].mean().round(3),
        "seconds per table": grouped["seconds"].mean().round(1),
    })
    return table.sort_values("relative RMSE")


def verdict(runs: pd.DataFrame) -> list[str]:
    """A few sentences that answer "which imputer, at what cost", derived
    from :func:`standings`."""
    ranks = standings(runs)
    n_tables = runs["table"].nunique()
    if ranks.empty:
        return ["Every run failed; see the failures below."]
    # A method run on few of the tables (IterativeImputer takes no categories)
    # is not ranked on them.
    full = ranks[2 * ranks["tables"] >= n_tables]
    top = full.index[0]
    lines = [f"- Most accurate over the {n_tables} tables: **{top}** (best on "
             f"{ranks.at[top, 'best on']} of its {ranks.at[top, 'tables']}, RMSE "
             f"{ranks.at[top, 'relative RMSE']:.3f} x the best per table on average), "
             f"{ranks.at[top, 'seconds per table']:.1f} s per table."]
    ours = full[full["family"] == FLOWIMPUTE]
    theirs = full[full["family"] != FLOWIMPUTE]
    if not ours.empty and not theirs.empty:
        mine, other = ours.index[0], theirs.index[0]
        pair = runs.pivot_table(
            index="table", columns="method", values="rmse")[[mine, other]].dropna()
        ratio = float(np.exp(np.mean(np.log(pair[mine] / pair[other]))))
        cost = ranks.at[mine, "seconds per table"] / max(ranks.at[other, "seconds per table"],
                                                          1e-3)
        lines.append(
            f"- flowimpute's best, **{mine}**, against the best other imputer, {other}: "
            f"RMSE ratio {ratio:.3f} (below 1: flowimpute wins), lower on "
            f"{int((pair[mine] < pair[other]).sum())} of {len(pair)} tables, at "
            f"{cost:.1f}x its time ({ranks.at[mine, 'seconds per table']:.1f} s against "
            f"{ranks.at[other, 'seconds per table']:.1f} s per table).")
        likelihood = " and the likelihood of incomplete rows" \
            if mine in _SCORES_INCOMPLETE_ROWS else ""
        adds = (f"{mine} adds multiple imputations drawn from a fitted model{likelihood} "
                f"(see \"Which estimator when\" in the user guide)")
        if ratio < 1 - LEVEL:
            lines.append(f"- On tables like these, use {mine}.")
        elif ratio <= 1 + LEVEL:
            cheaper = other if cost > 1 else mine
            lines.append(f"- The two are level here (within {LEVEL:.0%}); {cheaper} is the "
                         f"cheaper; {adds}.")
        else:
            lines.append(f"- On tables like these, {other} gives the lower point-imputation "
                         f"error; {adds}.")
    close = full[full["relative RMSE"] <= 1.05 * full["relative RMSE"].iloc[0]]
    cheapest = close["seconds per table"].idxmin()
    if cheapest != top:
        lines.append(f"- Cheapest within 5% of the most accurate: {cheapest} "
                     f"({ranks.at[cheapest, 'seconds per table']:.1f} s per table).")
    accuracy = ranks["accuracy (mixed)"].dropna()
    if not accuracy.empty:
        ours_accuracy = accuracy[ranks.loc[accuracy.index, "family"] == FLOWIMPUTE]
        line = f"- Categories (mixed tables): best accuracy {accuracy.idxmax()} " \
               f"{accuracy.max():.3f}"
        if not ours_accuracy.empty:
            line += f"; flowimpute's best {ours_accuracy.idxmax()} {ours_accuracy.max():.3f}"
        lines.append(line + ".")
    return lines


def error_table(runs: pd.DataFrame) -> pd.DataFrame:
    """RMSE per table (rows) and method (columns), best in bold; on mixed
    tables "RMSE / accuracy"."""
    order = list(standings(runs).index)
    cells = {}
    for table, group in runs.groupby("table", sort=False):
        best = group["rmse"].min()
        for row in group.itertuples():
            if pd.isna(row.rmse):
                text = "failed"
            else:
                text = f"{row.rmse:.3f}"
                if row.rmse == best:
                    text = f"**{text}**"
                if not pd.isna(row.accuracy):
                    text += f" / {row.accuracy:.2f}"
            cells[table, row.method] = text
    frame = pd.Series(cells).unstack().reindex(runs["table"].unique())
    frame = frame[[m for m in order if m in frame.columns]
                  + [m for m in frame.columns if m not in order]]
    shapes = runs.groupby("table", sort=False)[["rows", "columns"]].first()
    frame.insert(0, "rows x columns", [f"{r} x {c}" for r, c in shapes.loc[frame.index].values])
    frame.index.name = "table"
    return frame.fillna("-")


def cost_accuracy_chart(runs: pd.DataFrame, path: Path) -> Path:
    """Each method's mean seconds per table (log scale) against its RMSE
    relative to the best per table: the lower left is what to pick."""
    from .plots import plt

    ranks = standings(runs)
    colours = {FLOWIMPUTE: "tab:red", BASELINE: "tab:blue", PEER: "tab:green"}
    figure, axis = plt.subplots(figsize=(7.5, 4.8))
    for family, group in ranks.groupby("family"):
        axis.scatter(group["seconds per table"].clip(lower=0.01), group["relative RMSE"],
                     color=colours.get(family, "grey"), label=family, s=40)
    # Labels alternate above and below their points, so neighbours stay legible.
    for index, (method, row) in enumerate(ranks.sort_values("seconds per table").iterrows()):
        axis.annotate(method, (max(row["seconds per table"], 0.01), row["relative RMSE"]),
                      fontsize=7, xytext=(4, 4 if index % 2 == 0 else -11),
                      textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel("seconds per table (fit + impute, log scale)")
    axis.set_ylabel("RMSE / best RMSE per table (geometric mean)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def imputed_distributions_chart(fitted: dict, path: Path, seed: int = 0) -> Path | None:
    """:func:`flowimpute.plotting.plot_imputed_distributions` of ACFlowImputer
    on the credit table (else the first fitted mixed table), five drawn
    imputations per column; None when nothing was fitted."""
    from ..plotting import plot_imputed_distributions
    from .plots import plt

    if not fitted:
        return None
    key = ("credit_data", "ACFlowImputer")
    if key not in fitted:
        key = next(iter(fitted))
    imputer, frame = fitted[key]
    figure = plot_imputed_distributions(imputer, frame, n_imputations=5, random_state=seed)
    figure.suptitle(f"{key[1]} on {key[0]}: observed (black) against five drawn "
                    f"imputations (red)", fontsize=10)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def report(runs: pd.DataFrame, notes: Sequence[str], elapsed: float, seed: int,
           figures: Sequence[Path]) -> list[str]:
    """The overview's markdown: the verdict and the error table first (the
    first screen), then each method's standing, the protocol and the
    figures."""
    tables = ", ".join(runs["table"].unique())
    lines = [
        "## Which imputer on tables like yours, at what cost",
        "",
        *verdict(runs),
        f"- One mask per table (seed {seed}): differences of a few percent are within the "
        f"spread between masks (`--preset suite` runs five).",
        "",
        "RMSE on the hidden cells (lower is better; best in bold; mixed tables: "
        "numeric RMSE / categorical accuracy):",
        "",
        to_markdown(error_table(runs)),
        "",
        "Each method over the tables (relative RMSE: geometric mean of its RMSE over the "
        "best on each table, 1 is best everywhere):",
        "",
        to_markdown(standings(runs).fillna("-")),
        "",
        f"Tables {tables}; mask seed {seed}; {elapsed:.0f} s. Numeric tables: a random "
        f"{ROWS:,} rows, split 75/25 and z-scored, {RATE:.0%} of the entries hidden at "
        f"random; each imputer fitted on the incomplete training rows imputes the held-out "
        f"rows (\"in-sample\": a peer that learns only from the rows it fills filled both "
        f"together). Mixed tables: at most {ROWS:,} random rows, {RATE:.0%} of the observed "
        f"cells hidden at random, real "
        f"gaps left in place and not scored, one fit_transform; numeric RMSE in units of "
        f"each column's standard deviation. Seconds: fit and imputation together. "
        f"Longer runs: `flowimpute bench --preset report` (more tables, three masks, "
        f"density estimation), `--preset suite`, `--preset full`.",
    ]
    if notes:
        lines += ["", "Peers not in this run: " + " ".join(notes)]
    for figure in figures:
        lines += ["", f"![{figure.stem}]({figure.name})"]
    return lines
