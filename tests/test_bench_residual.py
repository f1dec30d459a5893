"""The residual-flow benchmark's structure part and tables, on a tiny run."""

import numpy as np
import pytest

from flowimpute.bench.residual import (
    GRAPHS,
    NormflowsResidualFlow,
    graph_for,
    run_structure,
    structure_table,
)
from flowimpute.datasets import load_bayesian_network


def test_structure_run_scores_each_graph_against_the_truth():
    runs = run_structure(["magic-niab"], [2], seeds=[0], max_epochs=2, n_test=200,
                         progress=False)
    assert sorted(runs["graph"]) == sorted(GRAPHS)
    assert (runs["n_train"] == 88).all() and np.isfinite(runs["test_loglik"]).all()
    # The network's own density is the ceiling a two-epoch flow stays under.
    assert (runs["test_loglik"] < runs["true_loglik"]).all()
    table = structure_table(runs)
    assert list(table.columns) == [*GRAPHS, "truth", "best"]
    assert table["best"].iloc[0] == runs.loc[runs["test_loglik"].idxmax(), "graph"]


def test_graph_for_gives_the_true_complete_and_empty_graphs():
    network = load_bayesian_network("ecoli70")
    complete = graph_for(network, "complete")
    assert complete.sum() == 46 * 45 // 2
    assert not (network.adjacency & ~complete).any()      # the truth lies within it
    np.testing.assert_array_equal(graph_for(network, "true"), network.adjacency)
    assert graph_for(network, "empty") == "empty"
    with pytest.raises(ValueError, match="graph must be one of"):
        graph_for(network, "star")


@pytest.mark.slow
def test_normflows_residual_flow_is_scored_exactly():
    """Our exact score is deterministic and agrees with the mean of
    normflows' own stochastic estimate."""
    pytest.importorskip("normflows")
    import torch

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0, 0, 1]])
    model = NormflowsResidualFlow(max_epochs=3).fit(X)
    scores = model.score_samples(X[:50])
    np.testing.assert_array_equal(scores, model.score_samples(X[:50]))
    rows = torch.as_tensor(X[:50])
    estimates = np.mean([model.flow_.log_prob(rows).detach().numpy().mean()
                         for _ in range(8)])
    assert abs(estimates - scores.mean()) < 0.05
