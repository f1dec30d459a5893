import numpy as np
import pytest

from flowimpute.amputation import ampute, mar_mask, mcar_mask, mnar_self_masking_mask


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(4000, 6)) @ rng.normal(size=(6, 6))


def test_mcar_rate_and_no_empty_rows(X):
    hidden = mcar_mask(X, 0.5, random_state=0)
    assert abs(hidden.mean() - 0.5) < 0.02
    assert not hidden.all(axis=1).any()


def test_mar_depends_only_on_always_observed_columns(X):
    X = (X - X.mean(0)) / X.std(0)
    hidden = mar_mask(X, 0.3, random_state=0)
    fixed = np.flatnonzero(~hidden.any(axis=0))
    assert len(fixed) == 1                      # 30% of 6 columns
    others = np.setdiff1d(np.arange(6), fixed)
    np.testing.assert_allclose(hidden[:, others].mean(0), 0.3, atol=0.04)
    # the missingness of a MAR column is predictable from the fixed column
    for column in others:
        gap = X[hidden[:, column], fixed[0]].mean() - X[~hidden[:, column], fixed[0]].mean()
        assert abs(gap) > 0.1


def test_mnar_hides_large_values_of_the_first_half(X):
    hidden = mnar_self_masking_mask(X)
    assert not hidden[:, 3:].any()
    np.testing.assert_array_equal(hidden[:, :3], X[:, :3] > X[:, :3].mean(0))


def test_ampute_copies_and_reproduces(X):
    original = X.copy()
    a = ampute(X, "MCAR", 0.2, random_state=1)
    np.testing.assert_array_equal(X, original)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(ampute(X, "MCAR", 0.2, random_state=1)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(mechanism="MNARX"), "mechanism must be one of"),
    (dict(rate=1.0), "rate must be in"),
])
def test_ampute_rejects_bad_settings(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ampute(X, **kwargs)


def test_ampute_rejects_incomplete_input(X):
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="already contains NaN"):
        ampute(X)
