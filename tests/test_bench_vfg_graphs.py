import numpy as np

from flowimpute.bench import vfg_graphs
from flowimpute.datasets import SECTION_DAG, make_section_dag


def test_section_dag_data_follow_the_graph():
    X = make_section_dag(3000, noise=0.0, random_state=0)
    assert X.shape == (3000, 8)
    np.testing.assert_array_equal(X, make_section_dag(3000, noise=0.0, random_state=0))
    correlation = np.abs(np.corrcoef(X.T))
    # sections 0 and 3 share no root: nearly uncorrelated; neighbours are not
    assert correlation[:2, 6:].max() < 0.1
    assert correlation[:2, 2:4].max() > 0.3 and correlation[4:6, 6:].max() > 0.3
    assert sorted(SECTION_DAG) == ["a", "b", "c"]


def test_masks_hide_one_whole_section_or_random_entries():
    masks = vfg_graphs.test_masks(400, np.random.RandomState(0))
    per_section = masks["one section"].reshape(400, 4, 2)
    assert (per_section.all(axis=2).sum(axis=1) == 1).all()
    assert (per_section.any(axis=2).sum(axis=1) == 1).all()
    assert 0.25 < masks["MCAR 30%"].mean() < 0.35


def test_a_seed_runs_every_graph(monkeypatch):
    monkeypatch.setattr(vfg_graphs, "TREES", {"tree [0, 1, 2, 3]": [0, 1, 2, 3]})
    records = vfg_graphs.run_seed(0, max_epochs=1, baselines=False)
    assert {r["method"] for r in records} == {"DAG (generating graph)", "tree [0, 1, 2, 3]"}
    assert {r["mask"] for r in records} == {"one section", "MCAR 30%"}
    assert all(np.isfinite(r["mse"]) for r in records)
