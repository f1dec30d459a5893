"""``flowimpute impute``: fill the gaps of a CSV or Parquet file from the command line.

The table is read with pandas' nullable dtypes, so integer, boolean and text
columns keep their kind through their gaps, and written back with the same
columns in the same order; observed cells are never changed. What was done
(rows, cells imputed per column, time) goes to standard error, so standard
output can carry the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from .impute import ACFlowImputer, FlowImputer, VAEImputer, VFGImputer

#: The imputers the command offers; "auto" is the recommended one.
METHODS = {
    "acflow": ACFlowImputer,
    "flow": FlowImputer,
    "vae": VAEImputer,
    "vfg": VFGImputer,
}
RECOMMENDED = "acflow"
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")


class InputError(Exception):
    """A file or table the command cannot impute; the message says why."""


def _kind(path: str) -> str:
    """"parquet" or "csv" from a file name (standard streams are CSV)."""
    if path == "-":
        return "csv"
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in PARQUET_SUFFIXES:
        return "parquet"
    if suffixes and suffixes[-1] in CSV_SUFFIXES:
        return "csv"
    raise InputError(f"{path}: unsupported file type {''.join(Path(path).suffixes) or '(none)'}"
                     f"; use CSV ({', '.join(CSV_SUFFIXES)}, optionally compressed) or "
                     f"Parquet ({', '.join(PARQUET_SUFFIXES)}).")


def _separator(path: str) -> str:
    return "\t" if ".tsv" in [suffix.lower() for suffix in Path(path).suffixes] else ","


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file (``-``: CSV on standard input) with nullable dtypes."""
    kind = _kind(path)
    try:
        if kind == "parquet":
            return pd.read_parquet(path, dtype_backend="numpy_nullable")
        source = sys.stdin if path == "-" else path
        return pd.read_csv(source, sep=_separator(path), dtype_backend="numpy_nullable")
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow "
                         "(pip install 'flowimpute[parquet]').") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            ValueError) as error:
        raise InputError(f"{path}: cannot read it as {kind.upper()}: {error}") from None


def write_table(table: pd.DataFrame, path: str) -> None:
    """Write ``table`` as its name's kind says (``-``: CSV on standard output)."""
    if _kind(path) == "parquet":
        try:
            table.to_parquet(path, index=False)
        except ImportError:
            raise InputError(f"{path}: writing Parquet needs pyarrow "
                             "(pip install 'flowimpute[parquet]').") from None
        return
    table.to_csv(sys.stdout if path == "-" else path, sep=_separator(path), index=False)


def imputation_paths(output: str, n_imputations: int) -> list[str]:
    """``out.csv`` -> ``out-1.csv``, ..., ``out-N.csv`` (compression suffix kept)."""
    path = Path(output)
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    return [str(path.with_name(f"{stem}-{k}{suffixes}")) for k in range(1, n_imputations + 1)]


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``impute`` among the ``flowimpute`` commands."""
    parser = commands.add_parser(
        "impute", help="fill the missing cells of a CSV or Parquet file",
        description=__doc__.splitlines()[0])
    parser.add_argument("input", help="CSV or Parquet file; - reads CSV from standard input")
    parser.add_argument("-o", "--output", required=True,
                        help="where to write the completed table (CSV or Parquet by its name; "
                             "- writes CSV to standard output)")
    parser.add_argument("--method", choices=["auto", *METHODS], default="auto",
                        help=f'the imputer; "auto" is {METHODS[RECOMMENDED].__name__}, '
                             "one pass per row, the best numeric error on mixed tables of "
                             "a few thousand rows in our benchmarks")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help='"auto", "cpu" or "cuda"')
    parser.add_argument("--max-epochs", type=int, help="cap the training epochs (faster, "
                        "less accurate; not for --method flow)")
    parser.add_argument("--multiple", type=int, metavar="N",
                        help="draw N completed tables (multiple imputation): files "
                             "OUTPUT-1 ... OUTPUT-N, or with --long one table")
    parser.add_argument("--long", action="store_true",
                        help="with --multiple: one table, the draws stacked, numbered in a "
                             "first column 'imputation'")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The command's body: read, fit, impute, write, report; exit code 2 on bad input."""
    try:
        return _run(args)
    except InputError as error:
        print(f"flowimpute impute: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # standard output closed early (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.multiple is not None and args.multiple < 1:
        raise InputError(f"--multiple must be at least 1, got {args.multiple}.")
    if args.long and args.multiple is None:
        raise InputError("--long goes with --multiple N.")
    if args.output == "-" and args.multiple is not None and not args.long:
        raise InputError("several imputations go to standard output only as one table: "
                         "add --long.")
    table = read_table(args.input)
    if table.empty:
        raise InputError(f"{args.input}: the table has no rows or no columns.")
    method = RECOMMENDED if args.method == "auto" else args.method
    settings = {"random_state": args.seed, "device": args.device}
    if args.max_epochs is not None:
        settings["max_epochs"] = args.max_epochs
    imputer = _make(method, settings)
    start = time.perf_counter()
    try:
        imputer.fit(table)
        if args.multiple is None:
            completed = [imputer.transform(table)]
        else:
            completed = list(imputer.sample_imputations(table, n_imputations=args.multiple,
                                                        random_state=args.seed))
    except ValueError as error:
        raise InputError(f"{args.input}: {error}") from None
    elapsed = time.perf_counter() - start
    completed = [_restore_columns(draw, table) for draw in completed]
    if args.multiple is None:
        write_table(completed[0], args.output)
        written = [args.output]
    elif args.long:
        stacked = pd.concat([draw.assign(imputation=k).pipe(_imputation_first)
                             for k, draw in enumerate(completed, start=1)], ignore_index=True)
        write_table(stacked, args.output)
        written = [args.output]
    else:
        written = imputation_paths(args.output, args.multiple)
        for draw, path in zip(completed, written, strict=True):
            write_table(draw, path)
    _report(table, type(imputer).__name__, elapsed, written)
    return 0


def _make(method: str, settings: dict):
    if method == "flow" and "max_epochs" in settings:
        raise InputError("--max-epochs applies to acflow, vae and vfg; FlowImputer's "
                         "training is set by its density (Python API).")
    return METHODS[method](**settings)


def _restore_columns(draw, table: pd.DataFrame) -> pd.DataFrame:
    """The completed table with the input's columns, order and index; a
    column with no observed cell, which no imputer can fill, stays empty."""
    draw = draw.set_axis(table.index)
    return pd.DataFrame({name: draw[name] if name in draw.columns else table[name]
                         for name in table.columns})


def _imputation_first(draw: pd.DataFrame) -> pd.DataFrame:
    return draw[["imputation", *[c for c in draw.columns if c != "imputation"]]]


def _report(table: pd.DataFrame, imputer: str, seconds: float, written: list[str]) -> None:
    gaps = table.isna().sum()
    gapped = gaps[gaps > 0]
    per_column = ", ".join(f"{name}: {count:,}" for name, count in gapped.items()) or "none"
    destination = "standard output" if written == ["-"] else ", ".join(written)
    print(f"flowimpute impute: {imputer} filled {int(gaps.sum()):,} cells in "
          f"{int(table.isna().any(axis=1).sum()):,} of {len(table):,} rows "
          f"({len(table.columns)} columns) in {seconds:.1f} s; per column: {per_column}; "
          f"wrote {destination}.", file=sys.stderr)
