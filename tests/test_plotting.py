"""The trust pictures: every panel drawn from the estimator's own results."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from flowimpute import ACFlowImputer, CouplingFlowDensity, FlowImputer, VAEImputer
from flowimpute.datasets import load_mixed
from flowimpute.plotting import plot_imputed_distributions, plot_samples, plot_training_history


@pytest.fixture(scope="module")
def penguins():
    table = load_mixed("penguins")
    holes = table.mask(np.random.RandomState(0).uniform(size=table.shape) < 0.15)
    return table, holes


@pytest.fixture(scope="module")
def imputer(penguins):
    return ACFlowImputer(max_epochs=3, random_state=0).fit(penguins[1])


def _visible(figure: Figure) -> list:
    return [axis for axis in figure.axes if axis.get_visible()]


def test_imputed_distributions_one_panel_per_gapped_column(penguins, imputer):
    _, holes = penguins
    figure = plot_imputed_distributions(imputer, holes)
    gapped = [name for name in holes if holes[name].isna().any()]
    axes = _visible(figure)
    assert [axis.get_title().split(" (")[0] for axis in axes] == gapped
    numeric = axes[gapped.index("bill_length_mm")]
    assert len(numeric.lines) == 2                           # observed and imputed curves
    imputed_curve = numeric.lines[1].get_xydata()
    assert imputed_curve[:, 1].max() > 0 and np.isfinite(imputed_curve).all()
    species = axes[gapped.index("species")]
    assert len(species.patches) == 2 * holes["species"].nunique()
    assert f"({int(holes['bill_length_mm'].isna().sum())} imputed)" in numeric.get_title()


def test_multiple_imputations_draw_one_curve_each(penguins, imputer):
    _, holes = penguins
    figure = plot_imputed_distributions(imputer, holes, n_imputations=4,
                                        columns=["bill_length_mm"], random_state=0)
    (axis,) = _visible(figure)
    assert len(axis.lines) == 5
    curves = [line.get_ydata() for line in axis.lines[1:]]
    assert not np.allclose(curves[0], curves[1])             # the draws differ
    assert "4 draws" in figure._suptitle.get_text()


def test_complete_data_has_nothing_to_plot(penguins, imputer):
    with pytest.raises(ValueError, match="no missing value"):
        plot_imputed_distributions(imputer, penguins[0].dropna())


def test_training_history_of_a_network_and_of_em():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3))   # 10% makes the 50 validation rows of a held-out curve
    X[::5, 1] = np.nan
    vae = VAEImputer(hidden_dims=(8,), max_epochs=4, random_state=0).fit(X)
    (axis,) = _visible(plot_training_history(vae))
    assert len(axis.lines) == 2
    np.testing.assert_allclose(axis.lines[0].get_ydata(), vae.history_["train_loss"])
    flow = FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=3),
                       max_em_iter=2, em_epochs=1, n_gradient_steps=3, random_state=0).fit(X)
    axes = _visible(plot_training_history(flow))
    assert len(axes) == 2 and axes[-1].get_title() == "EM rounds"
    np.testing.assert_allclose(axes[-1].lines[0].get_ydata(), flow.em_history_)


def test_samples_pair_plot(penguins):
    table = penguins[0].dropna()
    density = CouplingFlowDensity(max_epochs=2, random_state=0).fit(table)
    figure = plot_samples(density, table, n_samples=200, random_state=0)
    numeric = [name for name in table if table[name].dtype.kind in "fi"][:6]
    assert len(figure.axes) == len(numeric) ** 2
    off_diagonal = figure.axes[1]
    assert [len(collection.get_offsets()) for collection in off_diagonal.collections] == [
        len(table), 200]
    with pytest.raises(ValueError, match="1 to 6 numeric columns"):
        plot_samples(density, table, columns=[])


def test_vfg_graph_draws_every_node_and_edge():
    from flowimpute import VFGImputer
    from flowimpute.plotting import plot_vfg_graph
    X = pd.DataFrame(np.random.RandomState(0).normal(size=(60, 6)), columns=list("abcdef"))
    imputer = VFGImputer(sections=[["a", "b"], ["c", "d"], ["e", "f"]],
                         graph={"top": ["left", "right"], "left": [0, 1], "right": [1, 2]},
                         max_epochs=1, random_state=0).fit(X)
    axis = plot_vfg_graph(imputer).axes[0]
    arrows = [text for text in axis.texts if isinstance(text, Annotation)]
    labels = [text.get_text() for text in axis.texts if not isinstance(text, Annotation)]
    assert labels == ["a\nb", "c\nd", "e\nf", "left", "right", "top"]
    assert len(arrows) == imputer.graph_.n_edges == 6
    bold = [text.get_text() for text in axis.texts if text.get_fontweight() == "bold"]
    assert bold == ["top"]
    named = VFGImputer(sections={"ab": ["a", "b"], "cd": ["c", "d"], "ef": ["e", "f"]},
                       graph={"top": ["ab", "cd", "ef"]}, max_epochs=1, random_state=0).fit(X)
    labels = [text.get_text() for text in plot_vfg_graph(named).axes[0].texts
              if not isinstance(text, Annotation)]
    assert labels == ["ab\na\nb", "cd\nc\nd", "ef\ne\nf", "top"]
