"""Faithful inversion of a Bayesian network: the structure of an inference network.

An amortized posterior ``q(z | x)`` that follows a Bayesian network's graph
backwards (observed variables as parents of the latent ones that generate
them) can miss dependencies the posterior has: conditioning on a child makes
its parents dependent ("explaining away"). NaMI (Webb et al., 2018, "Faithful
inversion of generative models for effective amortized inference") builds an
inverse graph that encodes no independence the posterior lacks, with few
edges: it simulates variable elimination on the moral graph, latent
variables in an order that takes each only once all its latent parents are
gone, and gives each eliminated variable as parents its not yet eliminated
neighbours (which then become a clique, the fill-in). Observed variables are
never eliminated, so they are parents wherever they neighbour.
"""

from __future__ import annotations

import numpy as np


def moralize(adjacency: np.ndarray) -> np.ndarray:
    """The moral graph: the DAG's edges made undirected, and the parents of
    every node joined. Symmetric boolean matrix, no self-loops."""
    adjacency = np.asarray(adjacency, dtype=bool)
    moral = adjacency | adjacency.T
    for child in range(len(adjacency)):
        parents = np.flatnonzero(adjacency[:, child])
        moral[np.ix_(parents, parents)] = True
    np.fill_diagonal(moral, False)
    return moral


def faithful_inverse(adjacency: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """NaMI's minimally faithful inverse of a DAG over latent and observed nodes.

    Parameters
    ----------
    adjacency : ndarray of bool, shape (n_nodes, n_nodes)
        The generative DAG, ``adjacency[i, j]`` for an edge ``i -> j``.
    latent : ndarray of bool, shape (n_nodes,)
        Which nodes are latent (the others are observed).

    Returns
    -------
    inverse : ndarray of bool, shape (n_nodes, n_nodes)
        A DAG whose edges all end at latent nodes: ``inverse[i, j]`` when
        ``i`` is a parent of latent ``j`` in ``q(z | x)``. Sampling latent
        nodes in a topological order of it, each given its parents, can
        represent the exact posterior.

    Notes
    -----
    Among the latent nodes whose latent parents are all eliminated, the next
    one eliminated is the one whose elimination adds the fewest fill-in edges
    (ties: lowest index), the min-fill heuristic.
    """
    adjacency = np.asarray(adjacency, dtype=bool)
    latent = np.asarray(latent, dtype=bool)
    moral = moralize(adjacency)
    eliminated = np.zeros(len(adjacency), dtype=bool)
    inverse = np.zeros_like(adjacency)
    while not eliminated[latent].all():
        ready = [node for node in np.flatnonzero(latent & ~eliminated)
                 if eliminated[np.flatnonzero(adjacency[:, node] & latent)].all()]
        node = min(ready, key=lambda candidate: _fill_in(moral, eliminated, candidate))
        neighbours = np.flatnonzero(moral[node] & ~eliminated)
        inverse[neighbours, node] = True
        moral[np.ix_(neighbours, neighbours)] = True
        moral[neighbours, neighbours] = False
        eliminated[node] = True
    return inverse


def _fill_in(moral: np.ndarray, eliminated: np.ndarray, node: int) -> int:
    """Edges that eliminating ``node`` would add between its remaining neighbours."""
    neighbours = np.flatnonzero(moral[node] & ~eliminated)
    block = moral[np.ix_(neighbours, neighbours)]
    return int((len(neighbours) * (len(neighbours) - 1) - block.sum()) // 2)
