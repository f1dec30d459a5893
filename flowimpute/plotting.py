"""Pictures that say whether to trust an imputation or a density.

Every function takes fitted estimators and data, draws on a new matplotlib
figure and returns it (save it with ``figure.savefig``); nothing is shown or
written. They work on any flowimpute imputer or density:

- :func:`plot_imputed_distributions`: each column's observed values against
  its imputed ones (one curve per imputation with ``n_imputations``, as
  miceforest draws them); a categorical column as category shares;
- :func:`plot_training_history`: training and validation loss per epoch,
  and for :class:`~flowimpute.FlowImputer` the EM rounds;
- :func:`plot_samples`: a pair plot of a density's samples over the data;
- :func:`plot_vfg_graph`: the sections and aggregation graph of a
  :class:`~flowimpute.VFGImputer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import gaussian_kde

OBSERVED_COLOR, IMPUTED_COLOR = "black", "tab:red"


def _frame(X) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def _grid(n_panels: int, n_columns: int, size: float = 3.2) -> tuple[Figure, np.ndarray]:
    n_columns = max(1, min(n_columns, n_panels))
    n_rows = -(-n_panels // n_columns)
    figure = Figure(figsize=(size * n_columns, 0.8 * size * n_rows), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for axis in axes[n_panels:]:
        axis.set_visible(False)
    return figure, axes[:n_panels]


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _density_curve(axis, values: np.ndarray, grid: np.ndarray, **style) -> None:
    """A kernel density estimate, or a single spike where the values do not vary."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return
    if len(np.unique(values)) < 2:
        axis.axvline(values[0], **style)
        return
    axis.plot(grid, gaussian_kde(values)(grid), **style)


def plot_imputed_distributions(imputer, X, *, n_imputations: int = 0,
                               columns: Sequence | None = None, random_state=None,
                               n_columns: int = 4) -> Figure:
    """Each gapped column's observed values against its imputed values.

    A numeric column shows kernel density estimates: the observed entries
    (black) and the imputed ones (red): from ``transform``, or with
    ``n_imputations`` one thin curve per draw of ``sample_imputations``,
    whose spread is the imputation's uncertainty. A categorical or boolean
    column shows the share of each category among observed and imputed
    cells. Imputed values need not follow the observed ones (under MAR or
    MNAR gaps they should not), but a curve far outside them, or a draw
    that differs wildly from the others, deserves a look.

    Parameters
    ----------
    imputer : fitted flowimpute imputer
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows with gaps, as the imputer takes them.
    n_imputations : int, default=0
        0: the single imputation of ``transform``; otherwise that many
        draws of ``sample_imputations``.
    columns : sequence of column names (or indices), optional
        By default every column with a gap in ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    n_columns : int, default=4
        Panels per row of the figure.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    frame = _frame(X)
    if columns is None:
        columns = [name for name in frame.columns if frame[name].isna().any()]
    if not columns:
        raise ValueError("X has no missing value: there is no imputation to plot.")
    if n_imputations:
        draws = imputer.sample_imputations(X, n_imputations=n_imputations,
                                           random_state=random_state)
    else:
        draws = [imputer.transform(X)]
    draws = [_frame(draw).set_axis(frame.columns, axis=1) for draw in draws]
    figure, axes = _grid(len(columns), n_columns)
    thin = len(draws) > 1
    for axis, name in zip(axes, columns, strict=True):
        gaps = frame[name].isna().to_numpy()
        observed = frame[name][~gaps]
        imputed = [draw[name][gaps] for draw in draws]
        if _is_numeric(frame[name]):
            values = np.concatenate([observed.to_numpy(dtype=float),
                                     *[part.to_numpy(dtype=float) for part in imputed]])
            grid = np.linspace(np.nanmin(values), np.nanmax(values), 200)
            _density_curve(axis, observed.to_numpy(dtype=float), grid, color=OBSERVED_COLOR,
                           linewidth=2, label="observed")
            for index, part in enumerate(imputed):
                _density_curve(axis, part.to_numpy(dtype=float), grid, color=IMPUTED_COLOR,
                               linewidth=0.8 if thin else 2, alpha=0.6 if thin else 1.0,
                               label="imputed" if index == 0 else None)
        else:
            shares = pd.DataFrame({"observed": observed.astype(str).value_counts(normalize=True),
                                   "imputed": pd.concat(imputed).astype(str).value_counts(
                                       normalize=True)}).fillna(0.0)
            positions = np.arange(len(shares))
            axis.bar(positions - 0.2, shares["observed"], 0.4, color=OBSERVED_COLOR,
                     label="observed")
            axis.bar(positions + 0.2, shares["imputed"], 0.4, color=IMPUTED_COLOR,
                     label="imputed")
            axis.set_xticks(positions, shares.index, rotation=30, ha="right", fontsize=7)
        axis.set_title(f"{name} ({int(gaps.sum())} imputed)", fontsize=9)
        axis.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    figure.suptitle(f"{type(imputer).__name__}: observed against imputed"
                    + (f", {len(draws)} draws" if thin else ""), fontsize=10)
    return figure


def plot_training_history(estimator) -> Figure:
    """Training (and validation) loss per epoch of a fitted estimator.

    Reads ``history_`` (the loss each estimator minimizes, per epoch); for
    :class:`~flowimpute.FlowImputer`, the history of each fitted density and
    its EM rounds (``em_history_``). A validation curve that turns up while
    the training curve falls is overfitting; one still falling at the last
    epoch says more epochs would help.

    Parameters
    ----------
    estimator : fitted flowimpute estimator

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    histories = ([(f"density {i}", density.history_)
                  for i, density in enumerate(estimator.densities_)]
                 if hasattr(estimator, "densities_") else [("", estimator.history_)])
    em = getattr(estimator, "em_history_", None)
    figure, axes = _grid(len(histories) + (em is not None and len(em) > 0), 3, size=3.6)
    for axis, (label, history) in zip(axes, histories, strict=False):
        for key, style in (("train_loss", "-"), ("validation_loss", "--")):
            values = history.get(key) or []
            if len(values):
                axis.plot(np.arange(1, len(values) + 1), values, style,
                          label=key.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.set_ylabel("loss")
        axis.set_title(f"{type(estimator).__name__} {label}".strip(), fontsize=9)
        axis.legend(fontsize=7)
    if em is not None and len(em):
        axis = axes[-1]
        axis.plot(np.arange(1, len(em) + 1), em, "o-")
        axis.set_xlabel("EM round")
        axis.set_ylabel("loss")
        axis.set_title("EM rounds", fontsize=9)
    return figure


def plot_samples(density, X, *, n_samples: int = 1000, columns: Sequence | None = None,
                 random_state=None) -> Figure:
    """A pair plot of a density's samples (red) over the data (black).

    Parameters
    ----------
    density : fitted flowimpute density
    X : array-like or DataFrame of shape (n_samples, n_features)
        The data to compare with (the rows it was fitted on, or held-out ones).
    n_samples : int, default=1000
    columns : sequence of column names (or indices), optional
        At most six numeric columns; by default the first numeric ones.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    frame = _frame(X)
    samples = _frame(density.sample(n_samples, random_state=random_state)).set_axis(
        frame.columns, axis=1)
    if columns is None:
        columns = [name for name in frame.columns if _is_numeric(frame[name])][:6]
    columns = list(columns)
    if not 1 <= len(columns) <= 6:
        raise ValueError(f"plot_samples draws 1 to 6 numeric columns, got {len(columns)}.")
    size = len(columns)
    figure = Figure(figsize=(2.4 * size, 2.4 * size), layout="constrained")
    axes = figure.subplots(size, size, squeeze=False)
    data = frame[columns].to_numpy(dtype=float)
    drawn = samples[columns].to_numpy(dtype=float)
    for row in range(size):
        for column in range(size):
            axis = axes[row, column]
            if row == column:
                values = np.concatenate([data[:, row], drawn[:, row]])
                grid = np.linspace(np.nanmin(values), np.nanmax(values), 200)
                _density_curve(axis, data[:, row], grid, color=OBSERVED_COLOR)
                _density_curve(axis, drawn[:, row], grid, color=IMPUTED_COLOR)
            else:
                axis.scatter(data[:, column], data[:, row], s=2, color=OBSERVED_COLOR,
                             alpha=0.4)
                axis.scatter(drawn[:, column], drawn[:, row], s=2, color=IMPUTED_COLOR,
                             alpha=0.4)
            if row == size - 1:
                axis.set_xlabel(str(columns[column]), fontsize=8)
            if column == 0:
                axis.set_ylabel(str(columns[row]), fontsize=8)
            axis.tick_params(labelsize=6)
    figure.suptitle(f"{type(density).__name__}: samples (red) over the data (black)",
                    fontsize=10)
    return figure


def _graph_positions(graph) -> np.ndarray:
    """(x, y) of every node: sections along the bottom in order, each
    aggregation node at its height, above the mean of its children, nodes of
    one level at least 1 apart."""
    heights = graph.heights()
    x = np.zeros(graph.n_nodes)
    x[: graph.n_sections] = np.arange(graph.n_sections, dtype=float)
    for level in range(1, max(heights) + 1):
        nodes = [node for node in range(graph.n_nodes) if heights[node] == level]
        for node in nodes:
            x[node] = np.mean([x[child] for child in graph.children(node)])
        ordered = sorted(nodes, key=lambda node: x[node])
        for left, right in zip(ordered, ordered[1:], strict=False):
            x[right] = max(x[right], x[left] + 1.0)
    return np.column_stack([x, heights])


def plot_vfg_graph(imputer) -> Figure:
    """The sections (bottom) and aggregation nodes of a fitted VFGImputer.

    Each arrow is an invertible edge flow from a child to a parent (the
    encoding direction); a section lists its columns (under its name, where
    the sections were given as a dict), an aggregation node
    its name, and a root (a node with a prior) is drawn in bold. A node
    with several parents shows a DAG.

    Parameters
    ----------
    imputer : fitted :class:`~flowimpute.VFGImputer`

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    graph = imputer.graph_
    names = getattr(imputer, "feature_names_in_", None)
    labels = ["\n".join(str(names[c]) if names is not None else f"x{c}" for c in section)
              for section in imputer.sections_]
    if isinstance(imputer.sections, Mapping):
        labels = [f"{name}\n{label}" for name, label in
                  zip(graph.names[:graph.n_sections], labels, strict=True)]
    labels += list(graph.names[graph.n_sections:])
    position = _graph_positions(graph)
    width = max(4.0, 1.3 * (np.ptp(position[:, 0]) + 1))
    figure = Figure(figsize=(width, 1.4 * (position[:, 1].max() + 1) + 0.6),
                    layout="constrained")
    axis = figure.subplots()
    for child, parent in graph.edges:
        axis.annotate("", xy=position[parent] - (0, 0.12), xytext=position[child] + (0, 0.18),
                      arrowprops={"arrowstyle": "->", "color": "tab:blue"})
    for node, (x, y) in enumerate(position):
        leaf = node < graph.n_sections
        axis.text(x, y, labels[node], ha="center", va="center", fontsize=8,
                  fontweight="bold" if node in graph.roots else "normal",
                  bbox={"boxstyle": "round", "fc": "#f3f3f3" if leaf else "#dde8f5"})
    axis.set_xlim(position[:, 0].min() - 0.7, position[:, 0].max() + 0.7)
    axis.set_ylim(-0.6, position[:, 1].max() + 0.5)
    axis.axis("off")
    return figure
