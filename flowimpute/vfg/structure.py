"""Sections of columns and the graph of aggregation nodes above them.

Nodes are numbered leaves first: node ``t < n_sections`` is section ``t``;
aggregation nodes follow in topological order, so every child has a smaller
number than each of its parents. A tree is the graph in which every node but
the root has one parent; a DAG lets a node have several parents and the
graph several roots (source nodes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Most children an automatic tree gives one aggregation node.
MAX_AUTO_CHILDREN = 4


@dataclass(frozen=True)
class Graph:
    """Parents of every node (``()`` for a root) and each node's name.

    Edges are the ``(child, parent)`` pairs, numbered by child and then by
    parent; in a tree edge ``e`` joins node ``e`` to its parent.
    """

    n_sections: int
    parents: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]

    @property
    def n_nodes(self) -> int:
        return len(self.parents)

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return tuple((child, parent) for child, parents in enumerate(self.parents)
                     for parent in parents)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def roots(self) -> tuple[int, ...]:
        return tuple(node for node, parents in enumerate(self.parents) if not parents)

    @property
    def is_tree(self) -> bool:
        return len(self.roots) == 1 and all(len(p) <= 1 for p in self.parents)

    def in_edges(self, node: int) -> list[int]:
        """Edges from the children of ``node``, by child."""
        return [e for e, (_, parent) in enumerate(self.edges) if parent == node]

    def out_edges(self, node: int) -> list[int]:
        """Edges to the parents of ``node``, by parent."""
        return [e for e, (child, _) in enumerate(self.edges) if child == node]

    def children(self, node: int) -> list[int]:
        return [self.edges[e][0] for e in self.in_edges(node)]

    def heights(self) -> list[int]:
        """Longest path down to a leaf (leaves: 0)."""
        height = [0] * self.n_nodes
        for node in range(self.n_sections, self.n_nodes):  # children come first
            height[node] = 1 + max(height[c] for c in self.children(node))
        return height

    def depths(self) -> list[int]:
        """Longest path up to a root (roots: 0)."""
        depth = [0] * self.n_nodes
        for node in reversed(range(self.n_nodes)):  # parents come first
            if self.parents[node]:
                depth[node] = 1 + max(depth[p] for p in self.parents[node])
        return depth


def section_name(section: int) -> str:
    return f"section {section}"


def _section_names(n_sections: int, section_names: Sequence[str] | None) -> list[str]:
    """The given names of the sections, or ``"section t"``."""
    if section_names is None:
        return [section_name(t) for t in range(n_sections)]
    return list(section_names)


def parse_graph(graph, n_sections: int, section_names: Sequence[str] | None = None) -> Graph:
    """Build a :class:`Graph` from the ``graph`` parameter of
    :class:`~flowimpute.VFGImputer`: None (:func:`auto_tree`), a nested list
    (:func:`parse_tree`) or a mapping of node names to children
    (:func:`parse_dag`). With ``section_names`` (sections given as a
    mapping), a section may be named by its name as well as its index."""
    if graph is None:
        tree = auto_tree(n_sections)
        names = _section_names(n_sections, section_names) + list(tree.names[n_sections:])
        return Graph(n_sections, tree.parents, tuple(names))
    if isinstance(graph, Mapping):
        return parse_dag(graph, n_sections, section_names)
    return parse_tree(graph, n_sections, section_names)


def parse_tree(tree, n_sections: int, section_names: Sequence[str] | None = None) -> Graph:
    """Build a tree from a nested list of section indices (or, with
    ``section_names``, section names).

    ``[0, 1, 2]`` is one aggregation node (the root) over sections 0-2;
    ``[[0, 1], [2, 3]]`` two aggregation nodes joined under a root. Every
    section must appear exactly once. Aggregation nodes are numbered in
    post-order (children before parents, left to right).
    """
    parents: list[tuple[int, ...]] = [()] * n_sections
    seen: list[int] = []
    leaf_names = _section_names(n_sections, section_names)

    def visit(node) -> int:
        if isinstance(node, str):
            if section_names is None or node not in leaf_names:
                raise ValueError(f"graph names {node!r}, which is not a section name; "
                                 + ("sections are given by index." if section_names is None
                                    else f"the sections are {leaf_names}."))
            node = leaf_names.index(node)
        if isinstance(node, (int, np.integer)):
            if not 0 <= node < n_sections:
                raise ValueError(
                    f"graph names section {node}, but there are {n_sections} sections.")
            seen.append(int(node))
            return int(node)
        if not isinstance(node, (list, tuple)) or len(node) == 0:
            raise ValueError(
                f"graph entries must be section indices or non-empty lists, got {node!r}.")
        children = [visit(child) for child in node]
        parents.append(())
        index = len(parents) - 1
        for child in children:
            parents[child] = (index,)
        return index

    visit(tree)
    if sorted(seen) != list(range(n_sections)):
        raise ValueError(
            f"a tree must name each of the {n_sections} sections exactly once, got {tree!r}; "
            "a section with several parents needs a graph given as a mapping."
        )
    names = _section_names(n_sections, section_names)
    names += [f"node {node}" for node in range(n_sections, len(parents) - 1)] + ["root"]
    return Graph(n_sections, tuple(parents), tuple(names))


def parse_dag(graph: Mapping, n_sections: int,
              section_names: Sequence[str] | None = None) -> Graph:
    """Build a DAG from a mapping of aggregation-node names to their children.

    Children are section indices (int), section names (with
    ``section_names``) or the names of other aggregation nodes (str); a
    node may be the child of several nodes, and a node that is nobody's
    child is a root. ``{"a": [0, 1], "b": [1, 2]}`` has two roots sharing
    section 1. Aggregation nodes are numbered in post-order from the roots
    in the mapping's order (children before parents), so a tree written as
    a mapping is numbered as its nested list.
    """
    names = list(graph)
    leaf_names = _section_names(n_sections, section_names)
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"graph keys must be node names (str), got {name!r}; sections "
                             "are children, given by their index or name.")
        if section_names is not None and name in leaf_names:
            raise ValueError(f"graph node {name!r} has the name of a section; give "
                             "aggregation nodes names of their own.")
    children: dict[str, list] = {}
    for name in names:
        entries = graph[name]
        if isinstance(entries, (str, int, np.integer)) or len(entries) == 0:
            raise ValueError(f"graph node {name!r} must list one or more children, "
                             f"got {entries!r}.")
        entries = [leaf_names.index(child) if section_names is not None
                   and isinstance(child, str) and child in leaf_names else child
                   for child in entries]
        for child in entries:
            if isinstance(child, str):
                if child not in graph:
                    raise ValueError(f"graph node {name!r} names child {child!r}, which is "
                                     "neither a section nor a node of the graph.")
            elif not (isinstance(child, (int, np.integer)) and 0 <= child < n_sections):
                raise ValueError(f"graph node {name!r} names child {child!r}; sections are "
                                 f"numbered 0 to {n_sections - 1}.")
        if len({str(c) if isinstance(c, str) else int(c) for c in entries}) < len(entries):
            raise ValueError(f"graph node {name!r} names a child twice: {entries!r}.")
        children[name] = entries
    has_parent = {c for entries in children.values() for c in entries}
    orphans = [t for t in range(n_sections) if t not in has_parent]
    if orphans:
        if section_names is not None:
            orphans = [leaf_names[t] for t in orphans]
        raise ValueError(f"sections {orphans} have no parent in graph: every section must be "
                         "the child of an aggregation node, so that it has a path to a root.")
    roots = [name for name in names if name not in has_parent]
    number: dict[str, int] = {}
    on_path: list[str] = []
    parents: list[list[int]] = [[] for _ in range(n_sections)]

    def visit(name: str) -> int:
        if name in on_path:
            cycle = " -> ".join(on_path[on_path.index(name):] + [name])
            raise ValueError(f"graph has a cycle: {cycle}.")
        if name not in number:
            on_path.append(name)
            kids = [visit(c) if isinstance(c, str) else int(c) for c in children[name]]
            on_path.pop()
            parents.append([])
            number[name] = len(parents) - 1
            for kid in kids:
                parents[kid].append(number[name])
        return number[name]

    for name in roots + names:  # a node no root reaches lies on or below a cycle
        visit(name)
    node_names = leaf_names + sorted(number, key=number.get)
    return Graph(n_sections, tuple(tuple(sorted(p)) for p in parents), tuple(node_names))


def auto_tree(n_sections: int, max_children: int = MAX_AUTO_CHILDREN) -> Graph:
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
    """Turn user-given column groups (indices or names; a list of groups or
    a mapping of section names to groups) into index arrays, checking that
    they cover every column exactly once."""
    if isinstance(sections, Mapping):
        for name in sections:
            if not isinstance(name, str):
                raise ValueError(f"sections given as a mapping need names (str) as keys, "
                                 f"got {name!r}.")
        sections = list(sections.values())
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
    """Sections and graph of a VFG fitted on the modelled columns of a table.

    Attributes
    ----------
    local_sections : list of ndarray
        Each section's positions among the modelled columns.
    sections : list of ndarray
        Each section's indices among the input columns.
    graph : Graph
    latent_dim : int
    """

    local_sections: list[np.ndarray]
    sections: list[np.ndarray]
    graph: Graph
    latent_dim: int


def resolve_structure(
    sections, graph, section_size: int, latent_dim: int | None, X_modelled: np.ndarray,
    modelled: np.ndarray, n_features_in: int, feature_names: Sequence[str] | None,
) -> Structure:
    """The sections (given, or grouped from the correlations of
    ``X_modelled``, NaN where missing), the graph and the latent width of a
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
    names = list(sections) if isinstance(sections, Mapping) else None
    return Structure(local, [modelled[group] for group in local],
                     parse_graph(graph, len(local), names), width)
