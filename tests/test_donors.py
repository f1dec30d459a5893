"""The nearest-row search behind FlowImputer's neighbour chain starts."""

import numpy as np
import pytest

from flowimpute.inference import donors as _donors
from flowimpute.inference.donors import nearest_rows


def _brute_force(queries, observed, table, k, exclude):
    indices = []
    for query, seen, own in zip(queries, observed, exclude, strict=True):
        distances = [float(np.sum((row[seen] - query[seen]) ** 2)) for row in table]
        if own >= 0:
            distances[own] = np.inf
        # Python's sort is stable: ties keep the lower index first.
        indices.append(sorted(range(len(table)), key=distances.__getitem__)[:k])
    return np.array(indices)


def test_matches_a_brute_force_search_with_ties_and_exclusions(monkeypatch):
    monkeypatch.setattr(_donors, "CHUNK_ELEMENTS", 200)   # many chunks
    rng = np.random.RandomState(0)
    table = rng.randint(0, 3, size=(40, 4)).astype(float)   # many ties
    queries = rng.randint(0, 3, size=(25, 4)).astype(float)
    observed = rng.rand(25, 4) < 0.6
    observed[0] = False                                     # nothing observed
    queries[~observed] = np.nan
    exclude = np.where(rng.rand(25) < 0.5, rng.randint(0, 40, 25), -1)
    found = nearest_rows(queries, observed, table, 5, exclude)
    np.testing.assert_array_equal(found, _brute_force(queries, observed, table, 5, exclude))
    # Nothing observed: every row ties, the first ones come first.
    np.testing.assert_array_equal(found[0], [r for r in range(40) if r != exclude[0]][:5])
    assert not (found == exclude[:, None]).any()


def test_a_query_finds_the_same_rows_alone_or_with_others():
    rng = np.random.RandomState(1)
    table = rng.normal(size=(300, 5))
    queries = rng.normal(size=(60, 5))
    observed = rng.rand(60, 5) < 0.7
    together = nearest_rows(queries, observed, table, 4)
    alone = np.vstack([nearest_rows(queries[[i]], observed[[i]], table, 4) for i in range(60)])
    np.testing.assert_array_equal(together, alone)


def test_asking_for_more_rows_than_there_are_is_an_error():
    table = np.zeros((3, 2))
    with pytest.raises(ValueError, match="k=3 neighbours asked of 2 candidate rows"):
        nearest_rows(np.zeros((1, 2)), np.ones((1, 2), bool), table, 3, np.array([0]))
