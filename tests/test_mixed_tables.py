"""Mixed tables: categorical, integer and boolean columns through every estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flowimpute import (
    ACFlowImputer,
    CouplingFlowDensity,
    FlowImputer,
    NAFDensity,
    VAEImputer,
    VFGImputer,
)
from flowimpute.datasets import load_mixed
from flowimpute.preprocessing.table import MAX_CATEGORIES, TableEncoder

IMPUTERS = {
    "acflow": lambda **kw: ACFlowImputer(max_epochs=15, random_state=0, **kw),
    "flow": lambda **kw: FlowImputer(density=NAFDensity(max_epochs=5), max_em_iter=1,
                                     em_epochs=2, em_gradient_steps=5, n_gradient_steps=10,
                                     n_mcmc_steps=10, n_mean_chains=2, initial_strategy="mean",
                                     random_state=0, **kw),
    "vfg": lambda **kw: VFGImputer(max_epochs=10, n_gap_steps=0, section_size=4,
                                   random_state=0, **kw),
    "vae": lambda **kw: VAEImputer(max_epochs=15, random_state=0, **kw),
}
DENSITIES = {
    "coupling": lambda **kw: CouplingFlowDensity(**{"max_epochs": 30, "random_state": 0, **kw}),
    "naf": lambda **kw: NAFDensity(**{"max_epochs": 30, "random_state": 0, **kw}),
}


def mixed_frame(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Columns of every kind, the categories tied to the numbers."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Lima", "Pune"], n_rows, p=[0.5, 0.3, 0.2])
    shift = pd.Series(city).map({"Oslo": 0.0, "Lima": 2.0, "Pune": 4.0}).to_numpy()
    size = shift + rng.normal(size=n_rows)
    return pd.DataFrame({
        "size": size,
        "rooms": np.clip(np.round(size + 3 + rng.normal(size=n_rows)), 1, 9).astype(np.int64),
        "floors": pd.array(rng.integers(0, 4, n_rows), dtype="Int64"),
        "garden": size + rng.normal(size=n_rows) > 2,
        "grade": pd.Categorical(np.where(size > 3, "high", np.where(size > 1, "mid", "low")),
                                categories=["low", "mid", "high", "top"], ordered=True),
        "city": np.asarray(city, dtype=object),
        "street": pd.array(rng.choice(["main", "side"], n_rows), dtype="string"),
    }, index=pd.RangeIndex(1000, 1000 + n_rows))


def with_gaps(frame: pd.DataFrame, rate: float, seed: int) -> pd.DataFrame:
    """``frame`` with a ``rate`` of its cells set missing, at random (its
    integer and boolean columns made nullable, so that they keep their kind)."""
    frame = frame.astype({name: "Int64" for name in frame.select_dtypes("int64")}
                         | {name: "boolean" for name in frame.select_dtypes(bool)})
    holes = np.random.default_rng(seed).random(frame.shape) < rate
    holes[:, 0] &= holes.sum(axis=1) < frame.shape[1]       # keep a cell in every row
    return frame.mask(holes)


@pytest.fixture(params=list(IMPUTERS))
def make_imputer(request):
    return IMPUTERS[request.param]


@pytest.fixture(params=list(DENSITIES))
def make_density(request):
    return DENSITIES[request.param]


# ---------------------------------------------------------------- the encoder
def test_kinds_are_read_from_dtypes():
    encoder = TableEncoder().fit(mixed_frame())
    assert encoder.kinds_ == ["float", "integer", "integer", "boolean", "categorical",
                              "categorical", "categorical"]
    assert list(encoder.categories_[4]) == ["low", "mid", "high"]     # "top" never seen
    assert list(encoder.categories_[5]) == ["Lima", "Oslo", "Pune"]
    assert encoder.n_coordinates == 4 + 3 + 3 + 2


@pytest.mark.parametrize("named", [[1], ["rooms"], [False, True] + [False] * 5])
def test_categorical_features_override_detection(named):
    encoder = TableEncoder(named).fit(mixed_frame())
    assert encoder.kinds_[1] == "categorical"
    assert list(encoder.categories_[1]) == list(range(1, 10))


def test_encode_then_decode_is_exact():
    frame = with_gaps(mixed_frame(), 0.2, 1)
    encoder = TableEncoder().fit(frame)
    coordinates = encoder.encode(frame)
    observed = frame.notna().to_numpy()
    decoded = encoder.decode(np.nan_to_num(coordinates), range(frame.shape[1]), frame.index)
    assert (decoded.dtypes == frame.dtypes).all()
    for name in frame:
        kept = observed[:, frame.columns.get_loc(name)]
        assert decoded[name][kept].tolist() == frame[name][kept].tolist()
    assert np.isnan(coordinates[~observed[:, 5], 7:10]).all()      # city's three coordinates


def test_decoding_keeps_values_valid():
    frame = mixed_frame()
    encoder = TableEncoder().fit(frame)
    noise = np.random.default_rng(0).normal(scale=5.0, size=(50, encoder.n_coordinates))
    decoded = encoder.decode(noise, range(frame.shape[1]))
    assert decoded["rooms"].between(frame["rooms"].min(), frame["rooms"].max()).all()
    assert set(decoded["city"]) <= set(frame["city"])
    assert set(decoded["grade"]) <= {"low", "mid", "high"}
    assert decoded["garden"].dtype == bool


# ----------------------------------------------------------------- imputers
def test_imputer_keeps_dtypes_observed_cells_and_categories(make_imputer):
    frame = with_gaps(mixed_frame(), 0.2, 2)
    before = frame.copy()
    out = make_imputer().set_output(transform="pandas").fit_transform(frame)
    pd.testing.assert_frame_equal(frame, before)                  # input untouched
    assert isinstance(out, pd.DataFrame) and not out.isna().any().any()
    assert list(out.columns) == list(frame.columns) and out.index.equals(frame.index)
    assert (out.dtypes == frame.dtypes).all()
    observed = frame.notna()
    for name in frame:
        assert out[name][observed[name]].tolist() == frame[name][observed[name]].tolist()
    full = mixed_frame()
    assert out["rooms"].between(full["rooms"].min(), full["rooms"].max()).all()
    assert set(out["city"]) <= set(frame["city"].dropna())
    assert set(out["grade"]) <= set(frame["grade"].dropna())


def test_categories_are_imputed_from_the_other_columns():
    """The city is tied to the size: an imputer that models the table guesses
    it far better than its most frequent value."""
    complete = mixed_frame(800, seed=3)
    frame = with_gaps(complete, 0.2, 4)
    out = IMPUTERS["acflow"]().fit_transform(frame)
    hidden = frame["city"].isna()
    accuracy = (out["city"][hidden] == complete["city"][hidden]).mean()
    most_frequent = (complete["city"][hidden] == frame["city"].mode()[0]).mean()
    assert accuracy > most_frequent + 0.15


def test_pandas_output_of_an_integer_table_keeps_dtypes(make_imputer):
    frame = with_gaps(mixed_frame()[["size", "rooms", "floors", "garden"]], 0.2, 5)
    plain = make_imputer().fit_transform(frame)
    assert isinstance(plain, np.ndarray) and plain.dtype == np.float64
    np.testing.assert_array_equal(plain[:, 1], np.round(plain[:, 1]))
    out = make_imputer().set_output(transform="pandas").fit_transform(frame)
    assert (out.dtypes == frame.dtypes).all() and out.index.equals(frame.index)
    np.testing.assert_array_equal(out.to_numpy(dtype=float), plain)


def test_indicator_is_one_column_per_input_column(make_imputer):
    frame = with_gaps(mixed_frame(), 0.2, 6)
    imputer = make_imputer(add_indicator=True).fit(frame)
    out = imputer.transform(frame)
    assert list(out.columns[7:]) == [f"missingindicator_{name}" for name in frame]
    np.testing.assert_array_equal(out.iloc[:, 7:].to_numpy(), frame.isna().to_numpy())


def test_multiple_imputations_are_valid_frames(make_imputer):
    frame = with_gaps(mixed_frame(), 0.2, 7)
    draws = make_imputer().fit(frame).sample_imputations(frame, 3, random_state=0)
    assert len(draws) == 3
    for draw in draws:
        assert (draw.dtypes == frame.dtypes).all() and not draw.isna().any().any()
        assert set(draw["city"]) <= set(frame["city"].dropna())


def test_numpy_input_with_named_categorical_codes():
    X = mixed_frame()[["size", "rooms"]].to_numpy(dtype=float)
    X[::7, 1] = np.nan
    out = IMPUTERS["acflow"](categorical_features=[1]).fit_transform(X)
    assert set(out.iloc[:, 1]) <= set(np.unique(X[~np.isnan(X[:, 1]), 1]))


REAL_GAPS = ["credit_data", "penguins", "airquality", "helpmiss", "ames"]


@pytest.mark.parametrize("name", REAL_GAPS)
def test_tables_with_real_gaps_are_imputed(name, make_imputer):
    frame = load_mixed(name).iloc[:400]      # the first rows: time, not coverage, grows
    assert frame.isna().any().any()
    out = make_imputer().fit_transform(frame)
    out = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out, columns=frame.columns)
    assert not out.isna().any().any()
    assert list(out.columns) == list(frame.columns)
    if any(frame[column].dtype.kind not in "fiu" for column in frame):
        assert (out.dtypes == frame.dtypes).all()
        for column in frame.select_dtypes(exclude="number"):
            assert set(out[column]) <= set(frame[column].dropna())


# ---------------------------------------------------------------- densities
def test_density_samples_valid_rows(make_density):
    frame = mixed_frame()
    density = make_density().fit(frame)
    sample = density.sample(200, random_state=0)
    assert (sample.dtypes == frame.dtypes).all() and list(sample.columns) == list(frame.columns)
    assert set(sample["city"]) <= set(frame["city"])
    assert sample["rooms"].between(frame["rooms"].min(), frame["rooms"].max()).all()
    assert np.isfinite(density.score_samples(frame)).all()


def test_category_probabilities_sum_to_at_most_one(make_density):
    """Each category is a unit cell of the indicator space: the cells'
    estimated probabilities sum to one at most (the dequantization bound),
    and a fitted density puts nearly all its mass in them, near the
    frequencies of the data."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 2000,
                                               p=[0.6, 0.3, 0.1])})
    density = make_density(max_epochs=100).fit(frame)
    levels = pd.DataFrame({"colour": ["blue", "green", "red"]})
    probabilities = np.exp(density.score_samples(levels))
    assert 0.85 < probabilities.sum() < 1.02
    np.testing.assert_allclose(probabilities, [0.1, 0.3, 0.6], atol=0.1)


def test_dequantization_array_is_refused_for_a_mixed_table():
    with pytest.raises(ValueError, match="dequantized by their kind"):
        CouplingFlowDensity(dequantization=np.ones(7)).fit(mixed_frame())


# ---------------------------------------------------------------- bad input
def test_datetime_column_is_refused_with_what_to_do(make_imputer):
    frame = mixed_frame().assign(day=pd.date_range("2024-01-01", periods=300))
    with pytest.raises(ValueError, match=r"'day' \(datetime64.*holds dates or durations: "
                                         r"convert them to numbers"):
        make_imputer().fit(frame)


def test_mixed_python_objects_are_refused(make_imputer):
    frame = mixed_frame().assign(code=np.array([1, "a", 2.5] * 100, dtype=object))
    with pytest.raises(ValueError, match=r"'code' \(object.*mixes Python objects of types "
                                         r"float, int, str: make it one kind"):
        make_imputer().fit(frame)


def test_unseen_category_at_transform_is_refused(make_imputer):
    frame = mixed_frame()
    imputer = make_imputer().fit(frame)
    frame.loc[1003, "city"] = "Quito"
    with pytest.raises(ValueError, match=r"Column 'city' holds categories not seen at fit: "
                                         r"'Quito'\. .*set them to missing"):
        imputer.transform(frame)


def test_too_many_categories_are_refused(make_imputer):
    frame = pd.DataFrame({"x": np.arange(10_000.0),
                          "id": [f"customer-{i}" for i in range(10_000)]})
    with pytest.raises(ValueError, match=rf"'id': it has 10000 distinct categories, more "
                                         rf"than {MAX_CATEGORIES}.*drop it, or group rare"):
        make_imputer().fit(frame)


def test_marker_other_than_nan_is_refused_with_categories(make_imputer):
    with pytest.raises(ValueError, match="cannot mark gaps in a table with boolean or "
                                         "categorical columns"):
        make_imputer(missing_values=-1).fit(mixed_frame())


def test_unknown_categorical_feature_name(make_imputer):
    with pytest.raises(ValueError, match="categorical_features names 'zone', which is not"):
        make_imputer(categorical_features=["zone"]).fit(mixed_frame())


def test_text_at_transform_of_a_numeric_fit_is_refused(make_imputer):
    frame = mixed_frame()[["size", "rooms"]].astype(float)
    imputer = make_imputer().fit(frame)
    with pytest.raises(ValueError, match=r"'rooms' holds categories, but the columns were "
                                         r"all numeric at fit"):
        imputer.transform(frame.assign(rooms=frame["rooms"].astype(str) + "x"))
