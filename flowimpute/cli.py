"""The ``flowimpute`` command (also ``python -m flowimpute``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .bench import imputation
from .bench.density import density_methods, run_density_benchmark
from .bench.plots import imputation_boxplots, loglik_chart
from .bench.report import mean_std, to_markdown
from .datasets import DATASET_NAMES

PRESETS = {
    # A smoke run for CI: bundled data only, a few epochs, small tables.
    "quick": {
        "density": {"datasets": ["wine", "diabetes"], "seeds": [0]},
        "imputation": {"datasets": ["diabetes", "wine"], "mechanisms": ["MCAR", "MNAR"],
                       "rates": [0.2], "seeds": [0], "max_rows": 400, "epochs": 5,
                       "mnar_dataset": "wine"},
    },
    # What the README's main command runs.
    "default": {
        "density": {"datasets": ["magic", "california", "wine_quality_white", "diabetes"],
                    "seeds": [0, 1, 2]},
        "imputation": {"datasets": ["california", "wine_quality_white", "gas_turbine",
                                    "letter", "diabetes", "wine"],
                       "mechanisms": ["MCAR", "MAR", "MNAR"], "rates": [0.2, 0.5],
                       "seeds": [0, 1, 2], "max_rows": 1000, "epochs": 30,
                       "mnar_dataset": "wine_quality_white"},
    },
}


def _density_part(args: argparse.Namespace, preset: dict) -> tuple[list[str], list[str]]:
    datasets = args.datasets or preset["datasets"]
    seeds = args.seeds or preset["seeds"]
    methods = density_methods(args.preset, args.device)
    if args.methods:
        methods = {name: f for name, f in methods.items() if name in args.methods}
    if not methods:
        return [], []
    start = time.perf_counter()
    runs = run_density_benchmark(datasets, seeds, methods, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    if "error" not in runs:
        runs["error"] = None
    runs.to_csv(args.output / "density.csv", index=False)
    table = mean_std(runs, ["dataset", "method"], "test_loglik").unstack("method")
    table = table[[m for m in methods if m in table.columns]]
    seconds = mean_std(runs, ["dataset", "method"], "fit_seconds", digits=1).unstack("method")
    seconds = seconds[[m for m in methods if m in seconds.columns]]
    lines = [
        "## Density estimation",
        "",
        f"Held-out mean log-likelihood per row (higher is better), features standardized "
        f"with training statistics, 90/10 split, mean ± std over seeds {list(seeds)}; "
        f"{elapsed:.0f} s.",
        "",
        to_markdown(table),
        "",
        "Fit seconds (mean ± std):",
        "",
        to_markdown(seconds),
    ]
    failures = [f"- density: {r.dataset} / {r.method} / seed {r.seed}: {r.error}"
                for r in runs[runs["error"].notna()].itertuples()]
    if runs["test_loglik"].notna().any():
        loglik_chart(runs, args.output / "density.png")
    return lines, failures


def _imputation_part(args: argparse.Namespace, preset: dict) -> tuple[list[str], list[str]]:
    datasets = args.datasets or preset["datasets"]
    seeds = args.seeds or preset["seeds"]
    known = imputation.imputers(0, None, args.device)
    methods = [m for m in known if not args.methods or m in args.methods]
    if not methods:
        return [], []
    mnar_dataset = preset["mnar_dataset"] if not args.datasets else args.datasets[0]
    start = time.perf_counter()
    runs = imputation.run(datasets, preset["mechanisms"], preset["rates"], seeds,
                          preset["max_rows"], preset["epochs"], methods, mnar_dataset,
                          progress=not args.no_progress, device=args.device)
    elapsed = time.perf_counter() - start
    if "error" not in runs:
        runs["error"] = None
    runs.to_csv(args.output / "imputation.csv", index=False)
    seconds = runs.groupby("method", sort=False)[["fit_seconds", "transform_seconds"]].mean()
    lines = [
        "## Imputation",
        "",
        f"RMSE on the removed entries (z-scored scale, lower is better), median "
        f"(min-max) over masks {list(seeds)}; MCAR/MAR: fitted on the incomplete "
        f"training rows, imputing held-out rows; MNAR: self-masking, in-sample; tables "
        f"subsampled to {preset['max_rows']} rows, flows trained at most "
        f"{preset['epochs']} epochs; {elapsed:.0f} s.",
        "",
        "Where flowimpute wins and loses (ratio = best flowimpute imputer / best other "
        "imputer, median RMSE; below 1 is a win):",
        "",
        to_markdown(imputation.verdict(runs)),
        "",
        to_markdown(imputation.summary(runs)),
        "",
        "MAE, median (min-max):",
        "",
        to_markdown(imputation.summary(runs, "mae")),
        "",
        "Mean seconds per fit / transform:",
        "",
        to_markdown(seconds.round(2)),
    ]
    failures = [f"- imputation: {r.dataset} / {r.mechanism} / {r.method} / seed {r.seed}: "
                f"{r.error}" for r in runs[runs["error"].notna()].itertuples()]
    if runs["rmse"].notna().any():
        imputation_boxplots(runs, args.output / "imputation.png")
    return lines, failures


def _bench(args: argparse.Namespace) -> int:
    preset = PRESETS[args.preset]
    if args.methods:
        known = set(density_methods(args.preset)) | set(imputation.imputers(0, None))
        unknown = sorted(set(args.methods) - known)
        if unknown:
            raise SystemExit(f"Unknown method(s) {unknown}; choose from {sorted(known)}.")
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections, failures = [], []
    parts = {"density": _density_part, "imputation": _imputation_part}
    for task in args.tasks:
        lines, failed = parts[task](args, preset[task])
        sections += lines + [""]
        failures += failed
    lines = [f"# flowimpute benchmark report (preset `{args.preset}`, "
             f"{time.perf_counter() - start:.0f} s)", "", *sections]
    if failures:
        lines += ["Failures:", "", *failures]
    report = "\n".join(lines).rstrip() + "\n"
    print(report)
    (args.output / "report.md").write_text(report)
    written = sorted(p.name for p in args.output.iterdir())
    print(f"Wrote {', '.join(written)} in {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowimpute", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "bench", help="compare flowimpute's estimators with the usual alternatives on real data")
    bench.add_argument("--preset", choices=sorted(PRESETS), default="default")
    bench.add_argument("--tasks", nargs="+", choices=["density", "imputation"],
                       default=["density", "imputation"])
    bench.add_argument("--datasets", nargs="+", choices=DATASET_NAMES)
    bench.add_argument("--methods", nargs="+")
    bench.add_argument("--seeds", nargs="+", type=int)
    bench.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    bench.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
