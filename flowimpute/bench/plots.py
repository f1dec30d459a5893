"""PNG figures of benchmark runs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def imputation_boxplots(runs: pd.DataFrame, path: Path) -> Path:
    """One panel per (data set, mechanism, rate): RMSE of each method over
    masks, as box plots (the layout of the VFG paper's Figure 4)."""
    runs = runs.dropna(subset=["rmse"])
    settings = list(runs.groupby(["dataset", "mechanism", "rate"], sort=False, dropna=False))
    n_columns = min(3, max(1, len(settings)))
    n_rows = -(-len(settings) // n_columns)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(5.5 * n_columns, 3.8 * n_rows),
                                squeeze=False)
    for axis, ((dataset, mechanism, rate), frame) in zip(axes.flat, settings, strict=False):
        methods = list(frame["method"].unique())
        axis.boxplot([frame.loc[frame["method"] == m, "rmse"] for m in methods])
        axis.set_xticks(range(1, len(methods) + 1), methods, rotation=45, ha="right",
                        fontsize=8)
        label = "self-masking" if pd.isna(rate) else f"{rate:.0%}"
        axis.set_title(f"{dataset}, {mechanism} {label}", fontsize=10)
        axis.set_ylabel("RMSE (z-scored)")
    for axis in list(axes.flat)[len(settings):]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def loglik_chart(runs: pd.DataFrame, path: Path) -> Path:
    """Held-out mean log-likelihood per data set and method (mean over seeds,
    bars; error bars: standard deviation)."""
    runs = runs.dropna(subset=["test_loglik"])
    stats = runs.groupby(["dataset", "method"], sort=False)["test_loglik"].agg(["mean", "std"])
    means = stats["mean"].unstack("method")
    spreads = stats["std"].unstack("method").fillna(0.0)
    figure, axis = plt.subplots(figsize=(1.8 + 1.6 * len(means), 4))
    means.plot.bar(yerr=spreads, ax=axis, rot=0)
    axis.set_ylabel("held-out mean log-likelihood")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
