"""Imputation suite: flowimpute's imputers against scikit-learn's on real tables,
under MCAR, MAR and MNAR missingness.

Run with ``python -m flowimpute.bench.imputation``.

- MCAR / MAR: each data set (optionally subsampled to ``--max-rows``) is split
  75/25 and z-scored with the training statistics; entries are removed at the
  same rate in the training and the test rows; every imputer is fitted on the
  incomplete training rows and imputes the test rows.
  MCAR removes each entry independently. MAR keeps a random 30% of the
  columns (at least one) always observed and removes entries of the others
  with a logistic model of the always-observed columns (random weights,
  intercepts solved so each column loses ``rate`` of its entries). The
  routines are public: :mod:`flowimpute.amputation`.
- MNAR (the not-MIWAE protocol): z-scored, in-sample; in the first half of
  the columns every value above the column mean is removed (self-masking);
  every imputer is fitted on the incomplete table and fills it. Here only,
  FlowImputer, ACFlowImputer and VFGImputer also run with their self-masking
  missingness models (:data:`MNAR_ONLY`): they assume that mechanism, as
  not-MIWAE does, and under MCAR they are worse than the defaults (name one
  in ``--methods`` to run it in every setting). FlowImputer's mixed ensemble
  with neighbour-started conditional-mean chains (``mean_chain_start="neighbours"``) runs only when
  named (:data:`NAMED_ONLY`): an option measured against the default; so
  does VFGImputer with a wider latent (``latent_dim=4``, 6 couplings per
  edge), with the paper's imputation (``section_model="paper"``), and the
  averaging tree that VFGImputer fits when given sections
  (``aggregation="weighted"``, "VFGImputer(tree)").

- ``vfg_synthetic`` is the VFG paper's synthetic table (8 columns from 2
  latents, 1,300 rows drawn per mask seed); every other name is a real table
  from :func:`flowimpute.datasets.load_dataset`.

Reported: RMSE and MAE on the removed entries (z-scored scale), median and
range over masks; fit / transform seconds and the peak growth of resident
memory during fit + transform (:func:`flowimpute.bench.memory.peak_memory`);
and, on tables with a regression target (MCAR / MAR only), the downstream
R^2 of a ridge regression fitted on the imputed training rows and scored on
the imputed test rows (a repeated hold-out over the mask seeds).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from ..amputation import mar_mask, mcar_mask, mnar_self_masking_mask
from ..datasets import DATASET_NAMES, load_dataset, make_vfg_synthetic
from ..density import CouplingFlowDensity, NAFDensity
from ..impute import ACFlowImputer, FlowImputer, VAEImputer, VFGImputer
from .baselines import baseline_imputers
from .gain import GAINImputer
from .memory import peak_memory
from .report import to_markdown
from .vfg_paper import WIDER_LATENT

DEFAULT_DATASETS = ["california", "gas_turbine", "wine_quality_white", "letter"]

#: The VFG paper's synthetic table, generated per seed.
SYNTHETIC = "vfg_synthetic"
TABLE_NAMES = [*DATASET_NAMES, SYNTHETIC]

#: Tables whose target is a continuous quantity: these get the downstream R^2.
REGRESSION_TARGETS = frozenset({"california", "diabetes", "wine_quality_red",
                                "wine_quality_white"})


def load_table(name: str, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Features and, for :data:`REGRESSION_TARGETS`, the regression target."""
    if name == SYNTHETIC:
        return make_vfg_synthetic(1300, random_state=seed), None
    bunch = load_dataset(name)
    target = bunch.target.to_numpy(dtype=np.float64) if name in REGRESSION_TARGETS else None
    return bunch.data.to_numpy(), target


# ------------------------------------------------------------------ methods
#: FlowImputer's default ``em_epochs``: an epoch cap below it lowers it too.
_DEFAULT_EM_EPOCHS = FlowImputer().em_epochs


#: GAIN's iterations per epoch of the cap in capped runs (an epoch of a
#: 1,000-row table is about 8 minibatches of 128 for the flows; GAIN takes
#: more, smaller steps, and its paper 10,000 in all).
GAIN_ITERATIONS_PER_EPOCH = 200


def imputers(seed: int, epochs: int | None,
             device: str = "auto") -> dict[str, Callable[[], object]]:
    """Factories of every compared imputer. ``epochs`` caps the flows'
    training epochs, FlowImputer's epochs per EM round and GAIN's iterations
    (:data:`GAIN_ITERATIONS_PER_EPOCH` per epoch; None: each estimator's
    default)."""
    cap = {} if epochs is None else {"max_epochs": epochs}
    gain_cap = {} if epochs is None else {
        "n_iterations": min(GAINImputer().n_iterations, GAIN_ITERATIONS_PER_EPOCH * epochs)}
    em_cap = {} if epochs is None else {"em_epochs": min(epochs, _DEFAULT_EM_EPOCHS)}
    return {
        "ACFlowImputer": lambda: ACFlowImputer(device=device, random_state=seed, **cap),
        "ACFlowImputer(no mixture)": lambda: ACFlowImputer(
            n_mixture_components=0, device=device, random_state=seed, **cap),
        "ACFlowImputer(mixture)": lambda: ACFlowImputer(
            n_mixture_components=10, device=device, random_state=seed, **cap),
        "ACFlowImputer(self-masking)": lambda: ACFlowImputer(
            missing_mechanism="self-masking", device=device, random_state=seed, **cap),
        "ACFlowImputer(self-masking, 32 draws)": lambda: ACFlowImputer(
            missing_mechanism="self-masking", n_draws=32, device=device, random_state=seed,
            **cap),
        "ACFlowImputer(spline)": lambda: ACFlowImputer(
            transformer="spline", device=device, random_state=seed, **cap),
        "FlowImputer(NAF)": lambda: FlowImputer(
            NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap), device=device,
            random_state=seed, **em_cap),
        "FlowImputer(Coupling)": lambda: FlowImputer(
            CouplingFlowDensity(n_layers=6, hidden_dims=(64, 64), **cap), device=device,
            random_state=seed, **em_cap),
        "FlowImputer(NAF+Coupling x3)": lambda: FlowImputer(
            [NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap),
             CouplingFlowDensity(n_layers=6, hidden_dims=(64, 64), **cap)], ensemble_size=3,
            point_estimate="auto", device=device, random_state=seed, **em_cap),
        "FlowImputer(NAF+Coupling x3, neighbour starts)": lambda: FlowImputer(
            [NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap),
             CouplingFlowDensity(n_layers=6, hidden_dims=(64, 64), **cap)], ensemble_size=3,
            point_estimate="auto", mean_chain_start="neighbours", device=device,
            random_state=seed, **em_cap),
        "FlowImputer(NAF, self-masking)": lambda: FlowImputer(
            NAFDensity(n_flows=3, hidden_dims=(64, 64), **cap),
            missing_mechanism="self-masking", device=device, random_state=seed, **em_cap),
        "VFGImputer": lambda: VFGImputer(random_state=seed, device=device),
        "VAEImputer": lambda: VAEImputer(device=device, random_state=seed, **cap),
        "VAEImputer(self-masking)": lambda: VAEImputer(
            missing_mechanism="self-masking", device=device, random_state=seed, **cap),
        "VFGImputer(self-masking)": lambda: VFGImputer(
            missing_mechanism="self-masking", random_state=seed, device=device),
        "VFGImputer(tree)": lambda: VFGImputer(
            aggregation="weighted", random_state=seed, device=device, **cap),
        "VFGImputer(tree, self-masking)": lambda: VFGImputer(
            aggregation="weighted", missing_mechanism="self-masking", random_state=seed,
            device=device, **cap),
        "VFGImputer(latent_dim=4, 6 couplings)": lambda: VFGImputer(
            aggregation="weighted", **WIDER_LATENT, random_state=seed, device=device, **cap),
        "VFGImputer(paper)": lambda: VFGImputer(
            aggregation="weighted", section_model="paper", random_state=seed, device=device,
            **cap),
        **baseline_imputers(seed),
        "GAIN": lambda: GAINImputer(random_state=seed, **gain_cap),
    }


#: Methods that assume missingness not at random: run in MNAR settings only,
#: unless named in ``methods``.
MNAR_ONLY = frozenset({"FlowImputer(NAF, self-masking)", "VAEImputer(self-masking)",
                       "ACFlowImputer(self-masking)", "ACFlowImputer(self-masking, 32 draws)",
                       "VFGImputer(self-masking)", "VFGImputer(tree, self-masking)"})
#: Methods run only when named in ``methods``: options measured against the
#: defaults, not part of the report.
NAMED_ONLY = frozenset({"ACFlowImputer(spline)", "ACFlowImputer(no mixture)",
                        "ACFlowImputer(mixture)",
                        "ACFlowImputer(self-masking, 32 draws)",
                        "VAEImputer", "VAEImputer(self-masking)",
                        "FlowImputer(NAF+Coupling x3, neighbour starts)",
                        "VFGImputer(latent_dim=4, 6 couplings)", "VFGImputer(paper)",
                        "VFGImputer(tree)", "VFGImputer(tree, self-masking)"})


def _score(factory, X_fit, X_apply, X_true, hidden, y_fit=None, y_apply=None) -> dict:
    """Fit on ``X_fit``, impute ``X_apply``; errors on the ``hidden`` entries of
    ``X_true``; with targets, the R^2 of a ridge regression on the imputed rows."""
    record = {}
    try:
        def fit_and_impute():
            start = time.perf_counter()
            imputer = factory().fit(X_fit)
            fitted = time.perf_counter()
            imputed = imputer.transform(X_apply)
            record["fit_seconds"] = fitted - start
            record["transform_seconds"] = time.perf_counter() - fitted
            return imputer, imputed

        (imputer, imputed), record["peak_memory_mib"] = peak_memory(fit_and_impute)
        errors = imputed[hidden] - X_true[hidden]
        record["rmse"] = float(np.sqrt(np.mean(errors ** 2)))
        record["mae"] = float(np.mean(np.abs(errors)))
        if y_fit is not None:
            regression = Ridge(alpha=1.0).fit(imputer.transform(X_fit), y_fit)
            record["downstream_r2"] = float(r2_score(y_apply, regression.predict(imputed)))
    except Exception as error:  # recorded, not fatal
        record["error"] = f"{type(error).__name__}: {error}"
    return record


#: flowimpute's imputers: a method is theirs when its name is one of them,
#: with or without options in parentheses.
FLOWIMPUTE_IMPUTERS = frozenset({"ACFlowImputer", "FlowImputer", "VFGImputer", "VAEImputer",
                                 "SIReNVAE"})


def is_flowimpute(method: str) -> bool:
    """Whether ``method`` names one of flowimpute's imputers."""
    return method.split("(")[0] in FLOWIMPUTE_IMPUTERS


def jobs_for(datasets: Sequence[str], mechanisms: Sequence[str], rates: Sequence[float],
             mnar_dataset: str) -> list[tuple[str, str, float]]:
    """(data set, mechanism, rate) settings: every data set under MCAR / MAR at
    every rate, and MNAR self-masking (which has no rate) on ``mnar_dataset``."""
    settings = [(d, m, r) for d in datasets for m in mechanisms if m != "MNAR" for r in rates]
    if "MNAR" in mechanisms:
        settings.append((mnar_dataset, "MNAR", np.nan))
    return settings


def is_selected(name: str, mechanism: str, methods: Sequence[str] | None) -> bool:
    """Whether method ``name`` runs in a ``mechanism`` setting: when named in
    ``methods``; with ``methods=None``, unless it is in :data:`NAMED_ONLY`, or
    in :data:`MNAR_ONLY` outside MNAR."""
    if methods is not None:
        return name in methods
    return name not in NAMED_ONLY and (mechanism == "MNAR" or name not in MNAR_ONLY)


class Setting(NamedTuple):
    """One imputation task: fit on ``X_fit``, impute ``X_apply``, score the
    ``hidden`` entries against ``X_true``; ``y_fit`` / ``y_apply`` are the
    regression targets of the fitted and imputed rows (None where the table
    has none, and under MNAR)."""

    X_fit: np.ndarray
    X_apply: np.ndarray
    X_true: np.ndarray
    hidden: np.ndarray
    y_fit: np.ndarray | None
    y_apply: np.ndarray | None

    @property
    def n_rows(self) -> int:
        """Rows of the table the setting was drawn from."""
        return len(self.X_true) if self.X_fit is self.X_apply else \
            len(self.X_fit) + len(self.X_apply)


def make_setting(dataset: str, mechanism: str, rate: float, seed: int,
                 max_rows: int | None) -> Setting:
    """The table ``dataset`` (a random ``max_rows`` of it), z-scored and
    amputated by ``mechanism`` at ``rate`` with mask ``seed``, as the module
    docstring describes."""
    X, y = load_table(dataset, seed)
    rng = np.random.RandomState(seed)
    if max_rows is not None and len(X) > max_rows:
        rows = rng.choice(len(X), max_rows, replace=False)
        X, y = X[rows], (None if y is None else y[rows])
    if mechanism == "MNAR":
        X = (X - X.mean(0)) / X.std(0)
        hidden = mnar_self_masking_mask(X)
        X_gaps = np.where(hidden, np.nan, X)
        return Setting(X_gaps, X_gaps, X, hidden, None, None)
    y_fit = y_apply = None
    if y is None:
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    else:
        X_train, X_test, y_fit, y_apply = train_test_split(X, y, test_size=0.25,
                                                           random_state=seed)
    mean, std = X_train.mean(0), X_train.std(0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    draw = mcar_mask if mechanism == "MCAR" else mar_mask
    X_fit = np.where(draw(X_train, rate, rng), np.nan, X_train)
    hidden = draw(X_test, rate, rng)
    return Setting(X_fit, np.where(hidden, np.nan, X_test), X_test, hidden, y_fit, y_apply)


def run(settings: Sequence[tuple[str, str, float]], seeds: Sequence[int],
        max_rows: int | None, epochs: int | None, methods: Sequence[str] | None,
        progress: bool = True, device: str = "auto",
        checkpoint: Path | None = None) -> pd.DataFrame:
    """One record per (setting, seed, method); see the module docstring.

    ``checkpoint``: a CSV rewritten after every (setting, seed), so a long run
    that is stopped keeps what it measured.
    """
    jobs = [(dataset, mechanism, rate, seed) for dataset, mechanism, rate in settings
            for seed in seeds]
    records = []
    for dataset, mechanism, rate, seed in tqdm(jobs, desc="imputation suite",
                                               disable=not progress):
        chosen = {name: factory for name, factory in imputers(seed, epochs, device).items()
                  if is_selected(name, mechanism, methods)}
        setting = make_setting(dataset, mechanism, rate, seed, max_rows)
        for name, factory in chosen.items():
            records.append({"dataset": dataset, "mechanism": mechanism, "rate": rate,
                            "seed": seed, "method": name, "n_rows": setting.n_rows,
                            **_score(factory, *setting)})
        if checkpoint is not None:
            pd.DataFrame.from_records(records).to_csv(checkpoint, index=False)
    return pd.DataFrame.from_records(records)


def _labelled(runs: pd.DataFrame) -> pd.DataFrame:
    rate = runs["rate"].astype(object).where(runs["rate"].notna(), "self-masking")
    return runs.assign(rate=rate)


def summary(runs: pd.DataFrame, value: str = "rmse") -> pd.DataFrame:
    """Median ``value`` (min-max over masks) per setting, one column per method."""
    def describe(values: pd.Series) -> str:
        values = values.dropna()
        if values.empty:
            return "failed"
        return f"{values.median():.3f} ({values.min():.3f}-{values.max():.3f})"

    table = _labelled(runs).groupby(["dataset", "mechanism", "rate", "method"],
                                    sort=False)[value]
    # "-": a method not run in that setting (see MNAR_ONLY).
    return table.apply(describe).unstack("method").fillna("-")


def verdict(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting: the best method by median RMSE, flowimpute's best imputer,
    the best other imputer, the ratio of their median RMSEs (< 1: a
    flowimpute imputer wins), and on how many of the masks both ran the
    flowimpute imputer had the lower RMSE ("masks won": the paired view; the
    medians of two methods may come from different masks)."""
    by_mask = _labelled(runs).pivot_table(index=["dataset", "mechanism", "rate", "seed"],
                                          columns="method", values="rmse", sort=False)
    medians = by_mask.groupby(level=["dataset", "mechanism", "rate"], sort=False).median()
    ours = [m for m in medians.columns if is_flowimpute(m)]
    theirs = [m for m in medians.columns if not is_flowimpute(m)]
    rows = []
    for setting, row in medians.iterrows():
        best_ours = row[ours].idxmin() if row[ours].notna().any() else None
        best_theirs = row[theirs].idxmin() if row[theirs].notna().any() else None
        masks_won = "-"
        if best_ours and best_theirs:
            pair = by_mask.loc[setting, [best_ours, best_theirs]].dropna()
            masks_won = f"{int((pair[best_ours] < pair[best_theirs]).sum())}/{len(pair)}"
        rows.append({
            "dataset": setting[0], "mechanism": setting[1], "rate": setting[2],
            "best": row.idxmin(),
            "best flowimpute": f"{best_ours} {row[best_ours]:.3f}" if best_ours else "-",
            "best other": f"{best_theirs} {row[best_theirs]:.3f}" if best_theirs else "-",
            "ratio": (round(row[best_ours] / row[best_theirs], 3)
                      if best_ours and best_theirs else float("nan")),
            "masks won": masks_won,
        })
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=TABLE_NAMES)
    parser.add_argument("--mechanisms", nargs="+", default=["MCAR", "MAR", "MNAR"],
                        choices=["MCAR", "MAR", "MNAR"])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-rows", type=int, default=None,
                        help="subsample each data set to this many rows (per mask)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="cap the training epochs of every flow-based imputer "
                             "(FlowImputer's epochs per EM round too)")
    parser.add_argument("--methods", nargs="+", help="subset of the methods to run")
    parser.add_argument("--mnar-dataset", default="wine_quality_white")
    parser.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="CSV",
                        help="run nothing: print the tables of the imputation.csv files "
                             "of earlier runs, taken together")
    args = parser.parse_args(argv)
    if args.summarize:
        runs = pd.concat([pd.read_csv(path) for path in args.summarize], ignore_index=True)
        print(f"\nRMSE on the removed entries (z-scored), median (min-max) over masks, "
              f"from {len(args.summarize)} run(s)\n")
    else:
        args.output.mkdir(parents=True, exist_ok=True)
        settings = jobs_for(args.datasets, args.mechanisms, args.rates, args.mnar_dataset)
        runs = run(settings, args.seeds, args.max_rows, args.epochs, args.methods,
                   checkpoint=args.output / "imputation.csv")
        print(f"\nRMSE on the removed entries (z-scored), median (min-max) over masks "
              f"{args.seeds}; rows per data set: {args.max_rows or 'all'}; flow epochs: "
              f"{args.epochs or 'defaults'}\n")
    print(to_markdown(summary(runs)))
    print("\nBest flowimpute imputer against the best other one:\n")
    print(to_markdown(verdict(runs)))
    seconds = runs.groupby("method", sort=False)[["fit_seconds", "transform_seconds"]].mean()
    print("\nMean seconds per fit / transform:\n")
    print(to_markdown(seconds.round(2)))
    if "error" in runs:
        for failure in runs[runs["error"].notna()].itertuples():
            print(f"- {failure.dataset} {failure.mechanism} seed {failure.seed} "
                  f"{failure.method}: {failure.error}")


if __name__ == "__main__":
    main()
