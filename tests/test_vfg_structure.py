import numpy as np
import pytest

from flowimpute.vfg.structure import (
    auto_sections,
    auto_tree,
    parse_dag,
    parse_graph,
    parse_tree,
    resolve_sections,
)


def test_parse_tree_numbers_leaves_first_and_root_last():
    tree = parse_tree([[0, 1], [2, 3]], 4)
    assert tree.parents == ((4,), (4,), (5,), (5,), (6,), (6,), ())
    assert tree.roots == (6,)
    assert tree.is_tree
    assert tree.children(6) == [4, 5]
    assert tree.edges == tuple((node, tree.parents[node][0]) for node in range(6))
    assert tree.depths() == [2, 2, 2, 2, 1, 1, 0]
    assert tree.heights() == [0, 0, 0, 0, 1, 1, 2]


def test_flat_list_is_one_aggregation_node():
    assert parse_tree([0, 1, 2], 3).parents == ((3,), (3,), (3,), ())


@pytest.mark.parametrize("tree, message", [
    ([[0, 1], [1, 2]], "exactly once"),
    ([0, 1], "exactly once"),
    ([0, 5], "names section 5"),
    ([0, []], "non-empty lists"),
])
def test_bad_trees_are_explained(tree, message):
    with pytest.raises(ValueError, match=message):
        parse_tree(tree, 3)


@pytest.mark.parametrize("n_sections", [1, 2, 4, 5, 9, 17, 40])
def test_auto_tree_is_a_valid_tree_with_bounded_fan_in(n_sections):
    tree = auto_tree(n_sections)
    assert tree.is_tree and tree.roots == (tree.n_nodes - 1,)
    for node in range(tree.n_nodes - 1):
        assert tree.parents[node][0] > node  # children come before parents
    assert all(len(tree.children(node)) <= 4 for node in range(tree.n_sections, tree.n_nodes))
    if n_sections <= 4:
        assert tree.n_nodes == n_sections + 1


def test_auto_sections_groups_correlated_columns():
    rng = np.random.RandomState(0)
    a, b, c = rng.normal(size=(3, 500))
    X = np.column_stack([a, b, c, a + 0.1 * rng.normal(size=500),
                         -b + 0.1 * rng.normal(size=500), c + 0.1 * rng.normal(size=500)])
    X[::5, 0] = np.nan
    sections = auto_sections(X, 2)
    assert sorted(map(tuple, sections)) == [(0, 3), (1, 4), (2, 5)]



@pytest.mark.parametrize("section_size", [1, 2, 3, 5])
def test_auto_sections_cover_every_column_once_within_the_size(section_size):
    X = np.random.RandomState(1).normal(size=(200, 7)) @ np.random.RandomState(2).normal(
        size=(7, 7))
    sections = auto_sections(X, section_size)
    assert sorted(np.concatenate(sections).tolist()) == list(range(7))
    assert max(len(s) for s in sections) <= section_size


def test_auto_sections_keep_the_most_correlated_pair_together():
    rng = np.random.RandomState(0)
    a, b, c, d = rng.normal(size=(4, 400))
    # Column order puts the strongly correlated pair (1, 3) apart.
    X = np.column_stack([a, b, a + 0.5 * c, b + 0.05 * d, c])
    assert any(set(s) == {1, 3} for s in auto_sections(X, 2))

def test_resolve_sections_by_name_and_coverage_errors():
    names = ["a", "b", "c"]
    assert [s.tolist() for s in resolve_sections([["a", "c"], ["b"]], 3, names)] == [[0, 2], [1]]
    with pytest.raises(ValueError, match=r"missing columns \[2\], repeated columns \[0\]"):
        resolve_sections([[0, 1], [0]], 3, None)
    with pytest.raises(ValueError, match="'z'"):
        resolve_sections([["a", "z"], ["b", "c"]], 3, names)


@pytest.mark.parametrize("tree", [[[0, 1], [2, 3]], [0, [1, [2, 3]]], [[[0, 1], 2], 3]])
def test_a_tree_written_as_a_mapping_is_the_same_graph(tree):
    def as_mapping(node, mapping):
        if isinstance(node, int):
            return node
        name = f"n{len(mapping)}"
        mapping[name] = None  # reserve the name before the children's
        mapping[name] = [as_mapping(child, mapping) for child in node]
        return name

    mapping = {}
    as_mapping(tree, mapping)
    reordered = dict(reversed(list(mapping.items())))
    for written in (mapping, reordered):
        assert parse_graph(written, 4).parents == parse_tree(tree, 4).parents


def test_a_dag_numbers_children_first_and_lists_every_parent():
    graph = parse_dag({"top": ["a", "b"], "a": [0, 1], "b": [1, 2], "c": [3, "b"]}, 4)
    # post-order from the roots in the mapping's order: a, b, top, then c
    assert graph.names[4:] == ("a", "b", "top", "c")
    assert graph.parents == ((4,), (4, 5), (5,), (7,), (6,), (6, 7), (), ())
    assert graph.roots == (6, 7)
    assert not graph.is_tree
    for child, parent in graph.edges:
        assert child < parent
    assert graph.depths() == [2, 2, 2, 1, 1, 1, 0, 0]
    assert graph.heights() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert graph.in_edges(5) == [2, 3]  # from sections 1 and 2
    assert graph.out_edges(1) == [1, 2]  # to a and b


@pytest.mark.parametrize("graph, message", [
    ({"a": ["b", 2], "b": ["a", 0, 1]}, "cycle: a -> b -> a"),
    ({"r": [0, 1], "a": ["b"], "b": ["c"], "c": ["a", 2]}, "cycle"),
    ({"c": [2], "r": [0, 1], "a": ["b"], "b": ["a", "c"]}, "cycle"),
    ({"a": [0, 1]}, r"sections \[2\] have no parent"),
    ({"a": [0, 1, 2, 3]}, "numbered 0 to 2"),
    ({"a": [0, 1, "z"], "b": [2]}, "names child 'z'"),
    ({"a": [0, 1, 1], "b": [2]}, "names a child twice"),
    ({"a": [], "b": [0, 1, 2]}, "one or more children"),
    ({0: [1, 2]}, "keys must be node names"),
])
def test_bad_graphs_are_explained(graph, message):
    with pytest.raises(ValueError, match=message):
        parse_graph(graph, 3)
