"""Sections of columns and the tree of aggregation nodes above them.

Nodes are numbered leaves first: node ``t < n_sections`` is section ``t``;
aggregation nodes follow in bottom-up order, so the root is the last node and
every child has a smaller number than its parent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Most children an automatic tree gives one aggregation node.
MAX_AUTO_CHILDREN = 4


@dataclass(frozen=True)
class Tree:
    """Parent of every node; ``parents[root] == -1``."""

    n_sections: int
    parents: tuple[int, ...]

    @property
    def n_nodes(self) -> int:
        return len(self.parents)

    @property
    def root(self) -> int:
        return self.n_nodes - 1

    def children(self, node: int) -> list[int]:
        return [child for child, parent in enumerate(self.parents) if parent == node]

    def path_from_root(self, node: int) -> list[int]:
        """Nodes from the root down to ``node`` (both included)."""
        path = [node]
        while self.parents[path[-1]] != -1:
            path.append(self.parents[path[-1]])
        return path[::-1]


def parse_tree(tree, n_sections: int) -> Tree:
    """Build a :class:`Tree` from a nested list of section indices.

    ``[0, 1, 2]`` is one aggregation node (the root) over sections 0-2;
    ``[[0, 1], [2, 3]]`` two aggregation nodes joined under a root. Every
    section must appear exactly once. ``None`` builds :func:`auto_tree`.
    """
    if tree is None:
        return auto_tree(n_sections)
    parents: list[int] = [-1] * n_sections
    seen: list[int] = []

    def visit(node) -> int:
        if isinstance(node, (int, np.integer)):
            if not 0 <= node < n_sections:
                raise ValueError(f"tree names section {node}, but there are {n_sections} sections.")
            seen.append(int(node))
            return int(node)
        if not isinstance(node, (list, tuple)) or len(node) == 0:
            raise ValueError(
                f"tree entries must be section indices or non-empty lists, got {node!r}.")
        children = [visit(child) for child in node]
        parents.append(-1)
        index = len(parents) - 1
        for child in children:
            parents[child] = index
        return index

    visit(tree)
    if sorted(seen) != list(range(n_sections)):
        raise ValueError(
            f"tree must name each of the {n_sections} sections exactly once, got {tree!r}."
        )
    return Tree(n_sections, tuple(parents))


def auto_tree(n_sections: int, max_children: int = MAX_AUTO_CHILDREN) -> Tree:
    """One aggregation node over up to ``max_children`` sections, else a
    balanced tree: consecutive nodes grouped ``max_children`` at a time, level
    by level, until one root remains."""
    level: list = list(range(n_sections))
    while True:
        n_groups = math.ceil(len(level) / max_children)
        bounds = np.linspace(0, len(level), n_groups + 1).round().astype(int)
        pairs = zip(bounds, bounds[1:], strict=False)
        level = [level[a:b] if b - a > 1 else level[a] for a, b in pairs]
        if len(level) == 1:
            root = level[0]
            return parse_tree(root if isinstance(root, list) else [root], n_sections)


def auto_sections(X: np.ndarray, section_size: int) -> list[np.ndarray]:
    """Group correlated columns into sections of at most ``section_size`` columns.

    Size-constrained average-linkage clustering on the absolute correlation
    (over the rows where both columns are observed): starting from one
    column per group, the two groups with the highest mean absolute
    correlation between their columns are merged, as long as the merged
    group has at most ``section_size`` columns. The most strongly correlated
    columns therefore always share a section, which cutting a dendrogram's
    leaf order into consecutive groups does not guarantee.
    """
    n_features = X.shape[1]
    groups = [[column] for column in range(n_features)]
    if section_size == 1 or n_features == 1:
        return [np.array(group) for group in groups]
    similarity = np.abs(np.nan_to_num(_pairwise_correlation(X), nan=0.0))
    np.fill_diagonal(similarity, -np.inf)
    sizes = np.ones(n_features)
    while True:
        allowed = sizes[:, None] + sizes[None, :] <= section_size
        candidates = np.where(allowed, similarity, -np.inf)
        if not np.isfinite(candidates).any():
            break
        a, b = np.unravel_index(np.argmax(candidates), candidates.shape)
        a, b = min(a, b), max(a, b)
        # Average linkage: the merged group's mean similarity to every other.
        merged = (sizes[a] * similarity[a] + sizes[b] * similarity[b]) / (sizes[a] + sizes[b])
        similarity[a], similarity[:, a] = merged, merged
        similarity[a, a] = -np.inf
        similarity[b], similarity[:, b] = -np.inf, -np.inf
        sizes[a], sizes[b] = sizes[a] + sizes[b], np.inf
        groups[a], groups[b] = groups[a] + groups[b], []
    return [np.sort(group) for group in groups if group]


def _pairwise_correlation(X: np.ndarray) -> np.ndarray:
    """Pearson correlations from pairwise-complete observations."""
    observed = ~np.isnan(X)
    filled = np.where(observed, X, 0.0)
    counts = observed.T.astype(float) @ observed
    sums = filled.T @ observed
    means = sums / np.maximum(counts, 1)
    products = filled.T @ filled
    squares = (filled**2).T @ observed
    covariance = products / np.maximum(counts, 1) - means * means.T
    variance_i = squares / np.maximum(counts, 1) - means**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return covariance / np.sqrt(variance_i * variance_i.T)


def resolve_sections(
    sections, n_features: int, feature_names: Sequence[str] | None
) -> list[np.ndarray]:
    """Turn user-given column groups (indices or names) into index arrays,
    checking that they cover every column exactly once."""
    resolved = []
    for group in sections:
        group = [group] if isinstance(group, (str, int, np.integer)) else list(group)
        if not group:
            raise ValueError("sections must not contain an empty group.")
        indices = []
        for column in group:
            if isinstance(column, str):
                if feature_names is None or column not in list(feature_names):
                    raise ValueError(f"sections names column {column!r}, which X does not have.")
                indices.append(list(feature_names).index(column))
            elif isinstance(column, (int, np.integer)) and 0 <= column < n_features:
                indices.append(int(column))
            else:
                raise ValueError(f"sections names column {column!r}; X has {n_features} columns.")
        resolved.append(np.array(indices))
    flat = np.concatenate(resolved)
    counts = np.bincount(flat, minlength=n_features)
    if (counts != 1).any():
        missing = np.flatnonzero(counts == 0).tolist()
        repeated = np.flatnonzero(counts > 1).tolist()
        raise ValueError(
            "sections must cover every column exactly once; "
            f"missing columns {missing}, repeated columns {repeated}."
        )
    return resolved


@dataclass(frozen=True)
class Structure:
    """Sections and tree of a VFG fitted on the modelled columns of a table.

    Attributes
    ----------
    local_sections : list of ndarray
        Each section's positions among the modelled columns.
    sections : list of ndarray
        Each section's indices among the input columns.
    tree : Tree
    latent_dim : int
    """

    local_sections: list[np.ndarray]
    sections: list[np.ndarray]
    tree: Tree
    latent_dim: int


def resolve_structure(
    sections, tree, section_size: int, latent_dim: int | None, X_modelled: np.ndarray,
    modelled: np.ndarray, n_features_in: int, feature_names: Sequence[str] | None,
) -> Structure:
    """The sections (given, or grouped from the correlations of
    ``X_modelled``, NaN where missing), the tree and the latent width of a
    VFG over the ``modelled`` input columns; clear errors for sections of
    unobserved columns only and for a latent narrower than a section."""
    position = {column: i for i, column in enumerate(modelled)}
    if sections is None:
        local = auto_sections(X_modelled, section_size)
    else:
        full = resolve_sections(sections, n_features_in, feature_names)
        local = [np.array([position[c] for c in group if c in position]) for group in full]
        if any(group.size == 0 for group in local):
            raise ValueError("A section holds only columns without any observed value or "
                             "with a single one (not modelled); remove those columns or give "
                             "other sections.")
    widest = max(group.size for group in local)
    width = latent_dim if latent_dim is not None else max(2, widest)
    if width < widest:
        raise ValueError(f"latent_dim={latent_dim} is smaller than the widest "
                         f"section ({widest} columns).")
    if width < 2:
        raise ValueError("latent_dim must be at least 2 for coupling layers.")
    return Structure(local, [modelled[group] for group in local],
                     parse_tree(tree, len(local)), width)
