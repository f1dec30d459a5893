"""Directed acyclic graphs over features, and linear Gaussian Bayesian networks.

A graph over ``d`` features is a boolean adjacency matrix of shape (d, d) in
the usual convention: ``adjacency[i, j]`` is true when there is an edge
``i -> j``, so feature ``i`` is a parent of feature ``j``. Graphical flows
let each feature's update depend on the feature itself and its parents only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def topological_order(adjacency: np.ndarray) -> np.ndarray:
    """A topological order of a DAG (parents before children; ties by index).

    Raises
    ------
    ValueError
        If the graph has a directed cycle, naming the features left on it.
    """
    adjacency = np.asarray(adjacency, dtype=bool)
    in_degree = adjacency.sum(axis=0)
    ready = sorted(np.flatnonzero(in_degree == 0).tolist())
    order: list[int] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in np.flatnonzero(adjacency[node]):
            in_degree[child] -= 1
            if in_degree[child] == 0:
                ready.append(int(child))
        ready.sort()
    if len(order) < len(adjacency):
        cyclic = sorted(set(range(len(adjacency))) - set(order))
        raise ValueError(f"the graph must be acyclic; features {cyclic[:10]} lie on or "
                         "after a directed cycle.")
    return np.asarray(order)


def check_adjacency(adjacency, feature_names: Sequence[str] | None, n_features: int
                    ) -> np.ndarray:
    """A DAG given as a matrix, as edges or by name, checked and returned as a matrix.

    Parameters
    ----------
    adjacency : "complete", "empty", array-like of shape (n_features, n_features), \
            or sequence of pairs
        "complete": every column is a parent of all later ones; "empty": no
        edges. A square matrix of 0/1 or bool, ``adjacency[i, j]`` for an
        edge ``i -> j`` (a square array of other values is read as edges);
        or edges ``(parent, child)`` given by column index or, when the data
        had column names, by name.
    feature_names : sequence of str or None
        The data's column names, for edges given by name.
    n_features : int

    Returns
    -------
    adjacency : ndarray of bool, shape (n_features, n_features)
    """
    if isinstance(adjacency, str):
        if adjacency == "complete":
            return complete_dag(range(n_features))
        if adjacency == "empty":
            return np.zeros((n_features, n_features), dtype=bool)
        raise ValueError(f"adjacency must be 'complete', 'empty', a matrix or a list of edges; "
                         f"got {adjacency!r}.")
    if isinstance(adjacency, pd.DataFrame):
        adjacency = adjacency.to_numpy()
    array = np.asarray(adjacency, dtype=object)
    if array.shape == (n_features, n_features) and _is_boolean(array):
        matrix = array.astype(bool)
    elif (array.ndim == 2 and array.shape[1] == 2) or array.size == 0:
        matrix = np.zeros((n_features, n_features), dtype=bool)
        for parent, child in array.reshape(-1, 2):
            matrix[_feature_index(parent, feature_names, n_features),
                   _feature_index(child, feature_names, n_features)] = True
    else:
        raise ValueError(
            f"adjacency must be a ({n_features}, {n_features}) matrix of 0/1 or a list of "
            f"(parent, child) edges; got an array of shape {array.shape}.")
    if np.diag(matrix).any():
        raise ValueError("adjacency has self-loops (a feature as its own parent); each "
                         "feature's update always depends on the feature itself.")
    topological_order(matrix)
    return matrix


def _is_boolean(array: np.ndarray) -> bool:
    return all(isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating))
               and value in (0, 1) for value in array.ravel())


def _feature_index(feature, feature_names: Sequence[str] | None, n_features: int) -> int:
    if isinstance(feature, str):
        if feature_names is None or feature not in list(feature_names):
            known = "the data has no column names" if feature_names is None else (
                f"columns are {list(feature_names)[:8]}...")
            raise ValueError(f"edge endpoint {feature!r} is not a column ({known}).")
        return list(feature_names).index(feature)
    if isinstance(feature, (int, np.integer)) and 0 <= feature < n_features:
        return int(feature)
    raise ValueError(f"edge endpoint {feature!r} is neither a column name nor an index "
                     f"in [0, {n_features}).")


def complete_dag(order: Sequence[int]) -> np.ndarray:
    """The fully connected DAG along ``order``: every feature is a parent of all later ones."""
    n_features = len(order)
    adjacency = np.zeros((n_features, n_features), dtype=bool)
    for position, node in enumerate(order):
        adjacency[node, list(order[position + 1:])] = True
    return adjacency


@dataclass(frozen=True)
class LinearGaussianNetwork:
    """A linear Gaussian Bayesian network: ``x_j = b_j + sum_i w_ij x_i + e_j``
    over the parents ``i`` of ``j``, with ``e_j ~ N(0, variances[j])``.

    Attributes
    ----------
    nodes : list of str
    adjacency : ndarray of bool, shape (n_nodes, n_nodes)
        ``adjacency[i, j]``: an edge ``i -> j``.
    weights : ndarray of shape (n_nodes, n_nodes)
        ``weights[i, j]``: the coefficient of parent ``i`` in node ``j``.
    intercepts, variances : ndarray of shape (n_nodes,)
    """

    nodes: list[str]
    adjacency: np.ndarray
    weights: np.ndarray
    intercepts: np.ndarray
    variances: np.ndarray

    def sample(self, n_samples: int, random_state=None) -> pd.DataFrame:
        """Rows drawn node by node in topological order."""
        rng = np.random.RandomState(random_state) if not isinstance(
            random_state, np.random.RandomState) else random_state
        noise = rng.normal(size=(n_samples, len(self.nodes))) * np.sqrt(self.variances)
        X = np.zeros((n_samples, len(self.nodes)))
        for node in topological_order(self.adjacency):
            X[:, node] = self.intercepts[node] + X @ self.weights[:, node] + noise[:, node]
        return pd.DataFrame(X, columns=self.nodes)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """The joint Gaussian's mean and covariance: ``x = A (b + e)`` with
        ``A = (I - weights^T)^-1``."""
        mixing = np.linalg.inv(np.eye(len(self.nodes)) - self.weights.T)
        return mixing @ self.intercepts, (mixing * self.variances) @ mixing.T

    def log_density(self, X) -> np.ndarray:
        """The true log-density of each row: the sum of its nodes' Gaussian conditionals."""
        X = np.asarray(X, dtype=np.float64)
        residuals = X - self.intercepts - X @ self.weights
        return -0.5 * (residuals ** 2 / self.variances
                       + np.log(2 * np.pi * self.variances)).sum(axis=1)
