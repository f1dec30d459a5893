"""Faithful inversion (NaMI): the inverse graph misses no posterior dependence."""

import numpy as np
import pytest

from flowimpute.datasets import load_bayesian_network
from flowimpute.structure.graphs import LinearGaussianNetwork, topological_order
from flowimpute.structure.inversion import faithful_inverse, moralize


def _random_network(n_nodes: int, edge_probability: float, seed: int) -> LinearGaussianNetwork:
    rng = np.random.RandomState(seed)
    adjacency = np.triu(rng.uniform(size=(n_nodes, n_nodes)) < edge_probability, k=1)
    weights = adjacency * rng.uniform(0.5, 1.5, size=adjacency.shape) * rng.choice([-1, 1],
                                                                                 adjacency.shape)
    return LinearGaussianNetwork([f"v{i}" for i in range(n_nodes)], adjacency, weights,
                                 rng.normal(size=n_nodes), rng.uniform(0.5, 2.0, n_nodes))


def _leaves(adjacency: np.ndarray) -> np.ndarray:
    return ~adjacency.any(axis=1)


def _assert_posterior_factorizes(network: LinearGaussianNetwork, latent: np.ndarray,
                                 inverse: np.ndarray) -> None:
    """With the observed nodes first and the latent ones in a topological
    order of the inverse, every latent node's Gaussian regression on all
    earlier nodes has zero weight outside its inverse parents."""
    _, covariance = network.moments()
    order = [node for node in topological_order(inverse) if not latent[node]]
    order += [node for node in topological_order(inverse) if latent[node]]
    for position, node in enumerate(order):
        if not latent[node]:
            assert not inverse[:, node].any()
            continue
        earlier = np.asarray(order[:position])
        coefficients = np.linalg.solve(covariance[np.ix_(earlier, earlier)],
                                       covariance[earlier, node])
        outside = ~inverse[earlier, node]
        np.testing.assert_allclose(coefficients[outside], 0.0, atol=1e-8)


def test_moral_graph_marries_parents():
    adjacency = np.zeros((4, 4), dtype=bool)
    adjacency[0, 2] = adjacency[1, 2] = adjacency[2, 3] = True
    moral = moralize(adjacency)
    assert moral[0, 1] and moral[1, 0]
    assert moral[0, 2] and moral[2, 3] and not moral[0, 3]
    assert not moral.diagonal().any()


def test_collider_inverse_explains_away():
    """z0 -> x <- z1: the parents are independent a priori but not given x,
    so the inverse must join them; the plain reversed graph would not."""
    adjacency = np.zeros((3, 3), dtype=bool)
    adjacency[0, 2] = adjacency[1, 2] = True
    inverse = faithful_inverse(adjacency, np.array([True, True, False]))
    assert inverse[2, 0] and inverse[2, 1]
    assert inverse[0, 1] != inverse[1, 0]
    assert not inverse[:, 2].any()


def test_chain_inverse_has_no_extra_edges():
    """z0 -> z1 -> x: given x, z0 depends on z1 only."""
    adjacency = np.zeros((3, 3), dtype=bool)
    adjacency[0, 1] = adjacency[1, 2] = True
    inverse = faithful_inverse(adjacency, np.array([True, True, False]))
    expected = np.zeros((3, 3), dtype=bool)
    expected[2, 1] = expected[1, 0] = True
    np.testing.assert_array_equal(inverse, expected)


@pytest.mark.parametrize("seed", range(5))
def test_inverse_of_random_networks_is_faithful(seed):
    network = _random_network(12, 0.3, seed)
    latent = ~_leaves(network.adjacency)
    inverse = faithful_inverse(network.adjacency, latent)
    topological_order(inverse)
    _assert_posterior_factorizes(network, latent, inverse)


@pytest.mark.parametrize("name", ["ecoli70", "magic-irri"])
def test_inverse_of_the_benchmark_networks_is_faithful_and_sparse(name):
    network = load_bayesian_network(name)
    latent = ~_leaves(network.adjacency)
    inverse = faithful_inverse(network.adjacency, latent)
    _assert_posterior_factorizes(network, latent, inverse)
    n_latent = int(latent.sum())
    assert inverse.sum() < n_latent * (n_latent - 1) / 2 + n_latent * (~latent).sum()
