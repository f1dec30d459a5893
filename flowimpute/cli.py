"""The ``flowimpute`` command (also ``python -m flowimpute``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .bench.density import density_methods, run_density_benchmark
from .bench.report import mean_std, to_markdown
from .datasets import DATASET_NAMES

PRESETS = {
    # A smoke run for CI: bundled data only, a few epochs.
    "quick": {"datasets": ["wine", "diabetes"], "seeds": [0]},
    # What the README's main command runs.
    "default": {"datasets": ["magic", "california", "wine_quality_white", "diabetes"],
                "seeds": [0, 1, 2]},
}


def _bench(args: argparse.Namespace) -> int:
    preset = PRESETS[args.preset]
    datasets = args.datasets or preset["datasets"]
    seeds = args.seeds or preset["seeds"]
    methods = density_methods(args.preset, args.device)
    if args.methods:
        unknown = sorted(set(args.methods) - set(methods))
        if unknown:
            raise SystemExit(f"Unknown method(s) {unknown}; choose from {sorted(methods)}.")
        methods = {name: methods[name] for name in args.methods}

    start = time.perf_counter()
    runs = run_density_benchmark(datasets, seeds, methods, progress=not args.no_progress)
    elapsed = time.perf_counter() - start

    if "error" not in runs:
        runs["error"] = None
    table = mean_std(runs, ["dataset", "method"], "test_loglik").unstack("method")
    table = table[[m for m in methods if m in table.columns]]
    seconds = mean_std(runs, ["dataset", "method"], "fit_seconds", digits=1).unstack("method")
    seconds = seconds[[m for m in methods if m in seconds.columns]]
    failures = runs[runs["error"].notna()]

    lines = [
        "# flowimpute density benchmark",
        "",
        f"Held-out mean log-likelihood per row (higher is better), features standardized "
        f"with training statistics, 90/10 split, mean ± std over seeds {list(seeds)}; "
        f"preset `{args.preset}`; total {elapsed:.0f} s.",
        "",
        to_markdown(table),
        "",
        "Fit seconds (mean ± std):",
        "",
        to_markdown(seconds),
    ]
    if not failures.empty:
        lines += ["", "Failures:", ""]
        lines += [f"- {r.dataset} / {r.method} / seed {r.seed}: {r.error}"
                  for r in failures.itertuples()]
    report = "\n".join(lines)
    print(report)

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "density.md").write_text(report + "\n")
    runs.to_csv(args.output / "density.csv", index=False)
    print(f"\nWrote {args.output / 'density.md'} and {args.output / 'density.csv'}",
          file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowimpute", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "bench", help="compare flowimpute's estimators with scikit-learn's on real data")
    bench.add_argument("--preset", choices=sorted(PRESETS), default="default")
    bench.add_argument("--datasets", nargs="+", choices=DATASET_NAMES)
    bench.add_argument("--methods", nargs="+")
    bench.add_argument("--seeds", nargs="+", type=int)
    bench.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    bench.add_argument("--output", type=Path, default=Path("flowimpute-report"))
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
