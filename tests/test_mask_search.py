"""The evolutionary coupling-mask search and CouplingFlowDensity(mask="search")."""

import numpy as np
import pytest
from sklearn.base import clone

from flowimpute import CouplingFlowDensity, MaskSearch
from flowimpute.structure.mask_search import modify_masks

FAST_SEARCH = dict(search_iter=6, search_steps=5)
FAST_FLOW = dict(n_layers=3, hidden_dims=(8,), max_epochs=2, random_state=0)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(300, 7)) @ rng.normal(size=(7, 7))


def test_modify_keeps_the_number_of_conditioning_features():
    rng = np.random.RandomState(0)
    masks = np.array([[1, 1, 0, 0, 1], [0, 1, 1, 1, 0], [1, 0, 1, 0, 1]])
    for _ in range(50):
        offspring, n_modified = modify_masks(masks, rng)
        assert 1 <= n_modified <= 3
        np.testing.assert_array_equal(offspring.sum(1), masks.sum(1))
        assert (offspring != masks).any(axis=1).sum() <= n_modified


def test_number_of_modified_layers_is_geometric():
    rng = np.random.RandomState(0)
    counts = np.bincount([modify_masks(np.eye(20, 6, dtype=int), rng)[1]
                          for _ in range(4000)], minlength=4)
    np.testing.assert_allclose(counts[1:4] / 4000, [0.5, 0.25, 0.125], atol=0.03)


def test_searched_masks_condition_on_half_the_features(data):
    flow = CouplingFlowDensity(mask=MaskSearch(**FAST_SEARCH), **FAST_FLOW).fit(data)
    assert flow.masks_.shape == (3, 7)
    np.testing.assert_array_equal((flow.masks_ == 0).sum(1), [3, 3, 3])
    history = flow.search_history_
    assert len(history["loss"]) == len(history["accepted"]) == 1 + FAST_SEARCH["search_iter"]
    assert history["accepted"][0] and np.isfinite(history["loss"]).all()
    accepted_losses = np.array(history["loss"])[history["accepted"]]
    assert (np.diff(accepted_losses) <= 0).all()
    assert flow.search_seconds_ > 0


def test_search_is_reproducible_for_a_fixed_random_state(data):
    a = CouplingFlowDensity(mask="search", **FAST_FLOW)
    a.set_params(mask=MaskSearch(**FAST_SEARCH)).fit(data)
    b = clone(a).fit(data)
    np.testing.assert_array_equal(a.masks_, b.masks_)
    assert a.search_history_ == b.search_history_
    c = clone(a).set_params(random_state=1).fit(data)
    assert a.search_history_["loss"] != c.search_history_["loss"]


def test_result_does_not_depend_on_n_jobs(data):
    search = dict(search_iter=4, search_steps=3, n_offspring=2)
    one = CouplingFlowDensity(mask=MaskSearch(n_jobs=1, **search), **FAST_FLOW).fit(data)
    two = CouplingFlowDensity(mask=MaskSearch(n_jobs=2, **search), **FAST_FLOW).fit(data)
    np.testing.assert_array_equal(one.masks_, two.masks_)
    assert one.search_history_ == two.search_history_


def test_patience_stops_the_search(data):
    flow = CouplingFlowDensity(
        mask=MaskSearch(search_iter=200, search_steps=2, search_patience=3), **FAST_FLOW,
    ).fit(data)
    assert len(flow.search_history_["loss"]) < 201


def test_last_batch_evaluation(data):
    flow = CouplingFlowDensity(mask=MaskSearch(evaluation="last_batch", **FAST_SEARCH),
                               **FAST_FLOW).fit(data)
    assert np.isfinite(flow.search_history_["loss"]).all()


def test_grid_search_reaches_nested_search_parameters(data):
    flow = CouplingFlowDensity(mask=MaskSearch(**FAST_SEARCH), **FAST_FLOW)
    flow.set_params(mask__search_steps=2)
    assert flow.mask.search_steps == 2
    assert clone(flow).mask is not flow.mask


def test_bad_search_settings_are_named(data):
    with pytest.raises(ValueError, match="'evaluation' parameter of MaskSearch"):
        CouplingFlowDensity(mask=MaskSearch(evaluation="train"), **FAST_FLOW).fit(data)
