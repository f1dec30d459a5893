import numpy as np
import pytest

from flowimpute.vfg.structure import auto_sections, auto_tree, parse_tree, resolve_sections


def test_parse_tree_numbers_leaves_first_and_root_last():
    tree = parse_tree([[0, 1], [2, 3]], 4)
    assert tree.parents == (4, 4, 5, 5, 6, 6, -1)
    assert tree.root == 6
    assert tree.children(6) == [4, 5]
    assert tree.path_from_root(2) == [6, 5, 2]


def test_flat_list_is_one_aggregation_node():
    assert parse_tree([0, 1, 2], 3).parents == (3, 3, 3, -1)


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
    assert tree.parents[-1] == -1
    for node in range(tree.n_nodes - 1):
        assert tree.parents[node] > node  # children come before parents
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
