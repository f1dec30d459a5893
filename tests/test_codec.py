"""ColumnCodec: a table's columns to model coordinates and back."""

import numpy as np
import pytest

from flowimpute.preprocessing import ColumnCodec


@pytest.fixture
def table():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(5, 2, 300), rng.lognormal(0, 1, 300),
                         rng.randint(0, 4, 300).astype(float)])
    X[rng.rand(*X.shape) < 0.2] = np.nan
    return X


@pytest.mark.parametrize("power", [None, "yeo-johnson"])
def test_round_trip_through_model_coordinates(table, power):
    codec = ColumnCodec(power=power).fit(table)
    observed = ~np.isnan(table)
    Z = codec.to_model(codec.standardize(table), observed)
    assert np.isnan(Z[~observed]).all() and np.isfinite(Z[observed]).all()
    back = codec.unstandardize(codec.from_model(np.where(observed, Z, 0.0)))
    np.testing.assert_allclose(back[observed], table[observed], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(codec.coordinate_columns_, [0, 1, 2])


def test_log_jacobian_is_that_of_the_standardization(table):
    codec = ColumnCodec().fit(table)
    assert codec.log_jacobian == pytest.approx(-np.log(np.nanstd(table, axis=0)).sum())


def test_constant_columns_are_refused_by_name_or_scaled_by_one():
    X = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    with pytest.raises(ValueError, match=r"constant column\(s\): 1 \('b'\)"):
        ColumnCodec().fit(X, feature_names=["a", "b"], estimator="NAFDensity")
    codec = ColumnCodec(constant_columns="unit-scale").fit(X)
    assert codec.scale_[1] == 1.0 and codec.standardize(X)[0, 1] == 0.0


@pytest.mark.parametrize("magnitude", [1e-300, 1e-13, 1e200])
def test_columns_in_tiny_or_huge_units_are_standardized_not_called_constant(magnitude):
    """Float rounding is relative: a column in units of 1e-300 is as
    informative as one in ordinary units; its variance must not underflow."""
    X = np.random.RandomState(0).randn(50, 2) * magnitude
    codec = ColumnCodec().fit(X)
    np.testing.assert_allclose(codec.scale_, (X / magnitude).std(axis=0) * magnitude,
                               rtol=1e-10)
    standardized = codec.standardize(X)
    np.testing.assert_allclose(standardized.std(axis=0), 1.0, rtol=1e-10)


def test_a_spread_below_float_precision_is_constant_and_the_error_says_why():
    X = np.column_stack([1e15 + np.random.RandomState(0).randn(30), np.arange(30.0)])
    with pytest.raises(ValueError, match=r"constant column\(s\): 0 \(spread 1\.09 around "
                                         r"1e\+15\).*subtract an offset"):
        ColumnCodec().fit(X)


def test_bounds_widen_only_for_columns_with_gaps(table):
    complete = np.nan_to_num(table[:, :2], nan=1.0)
    X = np.column_stack([complete[:, 0], table[:, 1]])
    codec = ColumnCodec(widen_gapped=True).fit(X)
    low, high = codec.standardize(codec.data_min_), codec.standardize(codec.data_max_)
    np.testing.assert_allclose(codec.model_low_[0], low[0])
    np.testing.assert_allclose(codec.model_low_[1], low[1] - (high[1] - low[1]))
    beyond = codec.to_model(np.array([[100.0, 100.0]]), np.ones((1, 2), bool))
    np.testing.assert_allclose(beyond[0], codec.model_high_)


def test_grid_widths_of_discrete_columns(table):
    codec = ColumnCodec().fit(table)
    widths = codec.lattice_widths(table)
    assert widths[0] == 0 and widths[1] == 0 and widths[2] == 1.0
    model_widths = codec.model_lattice_widths(codec.standardize(table))
    np.testing.assert_allclose(model_widths[2], 1.0 / codec.scale_[2])
