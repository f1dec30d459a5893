"""Summaries and markdown tables of benchmark runs."""

from __future__ import annotations

import pandas as pd


def mean_std(frame: pd.DataFrame, by: list[str], value: str, digits: int = 3) -> pd.Series:
    """``"mean ± std (n)"`` of ``value`` per group; std is over runs (seeds)."""
    grouped = frame.groupby(by, sort=False)[value]

    def describe(values: pd.Series) -> str:
        values = values.dropna()
        if values.empty:
            return "failed"
        if len(values) == 1:
            return f"{values.iloc[0]:.{digits}f}"
        return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"

    return grouped.apply(describe)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (index included when named)."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
