import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from flowimpute import VFGImputer

FAST = dict(max_epochs=4, hidden_dims=(8,), random_state=0)


@pytest.fixture(scope="module")
def correlated():
    """Six columns driven by two latent factors, plus noise."""
    rng = np.random.RandomState(0)
    z = rng.normal(size=(400, 2))
    loadings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.7, 0.7], [1.0, -1.0]])
    return z @ loadings.T + 0.1 * rng.normal(size=(400, 6))


def _with_gaps(X, fraction, seed):
    X = X.copy()
    X[np.random.RandomState(seed).rand(*X.shape) < fraction] = np.nan
    return X


@pytest.fixture(scope="module")
def fitted(correlated):
    return VFGImputer(**FAST).fit(_with_gaps(correlated, 0.2, 0))


def test_observed_entries_unchanged_and_no_nan_for_random_patterns(correlated, fitted):
    rng = np.random.RandomState(1)
    for trial in range(25):
        X = correlated[rng.choice(len(correlated), 30)].copy()
        X[rng.rand(*X.shape) < rng.uniform(0.05, 0.95)] = np.nan
        X[0] = np.nan                                   # a row with everything missing
        X[:, trial % 6] = np.nan if trial % 5 == 0 else X[:, trial % 6]  # a column missing only now
        imputed = fitted.transform(X)
        observed = ~np.isnan(X)
        assert not np.isnan(imputed).any()
        np.testing.assert_array_equal(imputed[observed], X[observed])


def test_imputed_values_stay_in_the_training_range(correlated, fitted):
    X = correlated.copy()
    X[:, 0] = 1e6  # wildly out-of-range observed values push the encoder far away
    X[:, 1] = np.nan
    imputed = fitted.transform(X)
    assert imputed[:, 1].min() >= fitted.data_min_[1] and imputed[:, 1].max() <= fitted.data_max_[1]


def test_input_is_not_modified(correlated):
    X = _with_gaps(correlated, 0.3, 2)
    original = X.copy()
    VFGImputer(**FAST).fit(X).transform(X)
    np.testing.assert_array_equal(X, original)


def test_same_random_state_same_imputation(correlated):
    X = _with_gaps(correlated, 0.3, 3)
    a = VFGImputer(**FAST).fit_transform(X)
    b = VFGImputer(**FAST).fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_transform_is_row_independent(correlated, fitted):
    X = _with_gaps(correlated, 0.4, 4)
    whole = fitted.transform(X)
    parts = np.vstack([fitted.transform(X[i:i + 17]) for i in range(0, len(X), 17)])
    np.testing.assert_array_equal(whole, parts)


def _mcar_errors(correlated, **params):
    """Test-set MSE of VFG and of the column means on 30% MCAR gaps."""
    X_train = _with_gaps(correlated[:300], 0.2, 5)
    X_test = correlated[300:]
    hidden = np.random.RandomState(6).rand(*X_test.shape) < 0.3
    X_missing = np.where(hidden, np.nan, X_test)
    vfg = VFGImputer(max_epochs=30, random_state=0, **params).fit(X_train).transform(X_missing)
    mean = SimpleImputer().fit(X_train).transform(X_missing)
    return (np.mean((vfg[hidden] - X_test[hidden]) ** 2),
            np.mean((mean[hidden] - X_test[hidden]) ** 2))


def test_learns_more_than_the_column_means(correlated):
    vfg_error, mean_error = _mcar_errors(correlated, sections=[[0, 1], [2, 3], [4, 5]])
    assert vfg_error < 0.6 * mean_error


@pytest.mark.xfail(strict=True, reason=(
    "known weakness: the automatic grouping here, [[0, 4], [1, 5], [2, 3]], mixes both "
    "factors in two sections and the model then does no better than the column means; "
    "the same grouping given by hand fails the same way, so it is the structure, not the "
    "mapping"))
def test_learns_more_than_the_column_means_with_automatic_sections(correlated):
    vfg_error, mean_error = _mcar_errors(correlated)
    assert vfg_error < 0.6 * mean_error


def test_structure_attributes_and_named_sections(correlated):
    frame = pd.DataFrame(correlated, columns=list("abcdef"))
    imputer = VFGImputer(sections=[["a", "b"], ["c", "d"], ["e", "f"]], tree=[0, [1, 2]],
                         **FAST).fit(frame)
    assert [s.tolist() for s in imputer.sections_] == [[0, 1], [2, 3], [4, 5]]
    assert imputer.tree_.parents == (4, 3, 3, 4, -1)
    assert imputer.latent_dim_ == 2


def test_unequal_sections_are_padded(correlated):
    X = _with_gaps(correlated, 0.2, 7)
    imputer = VFGImputer(sections=[[0], [1, 2, 3], [4, 5]], **FAST).fit(X)
    assert imputer.latent_dim_ == 3
    assert not np.isnan(imputer.transform(X)).any()


def test_set_output_pandas_keeps_index_and_columns(correlated):
    frame = pd.DataFrame(_with_gaps(correlated, 0.2, 8), columns=list("abcdef"),
                         index=pd.RangeIndex(100, 500))
    out = VFGImputer(**FAST).set_output(transform="pandas").fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list("abcdef")
    assert out.index.equals(frame.index)
    assert not out.isna().any().any()


def test_missing_values_marker_and_indicator(correlated):
    X = correlated.copy()
    X[::4, 2] = -999.0
    imputer = VFGImputer(missing_values=-999.0, add_indicator=True, **FAST).fit(X)
    out = imputer.transform(X)
    assert out.shape == (len(X), 7)
    np.testing.assert_array_equal(out[:, 6], X[:, 2] == -999.0)
    assert (out[::4, 2] != -999.0).all()
    assert imputer.get_feature_names_out()[-1] == "missingindicator_x2"


def test_empty_feature_is_dropped_or_kept(correlated):
    X = correlated.copy()
    X[:, 3] = np.nan
    with pytest.warns(UserWarning, match=r"without any observed values: \[3\]"):
        dropped = VFGImputer(**FAST).fit(X)
    assert dropped.transform(X).shape == (len(X), 5)
    assert list(dropped.get_feature_names_out()) == ["x0", "x1", "x2", "x4", "x5"]
    kept = VFGImputer(keep_empty_features=True, **FAST).fit(X).transform(X)
    assert kept.shape == (len(X), 6) and (kept[:, 3] == 0).all()


def test_pipeline_grid_search_over_depth(correlated):
    X = _with_gaps(correlated[:, :5], 0.2, 9)
    y = correlated[:, 5]
    pipeline = Pipeline([("impute", VFGImputer(**FAST)), ("model", Ridge())])
    search = GridSearchCV(pipeline, {"impute__n_coupling_layers": [1, 2]}, cv=2).fit(X, y)
    assert search.best_params_["impute__n_coupling_layers"] in (1, 2)


def test_pickle_round_trip(correlated, fitted):
    X = _with_gaps(correlated, 0.3, 10)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X),
                                  fitted.transform(X))


@pytest.mark.parametrize("aggregation, distribution, decode_from", [
    ("mean", "gaussian", "root"), ("weighted", "laplace", "ancestor")])
def test_model_variants_run(correlated, aggregation, distribution, decode_from):
    X = _with_gaps(correlated, 0.3, 11)
    out = VFGImputer(aggregation=aggregation, latent_distribution=distribution,
                     decode_from=decode_from, tree=[[0, 1], 2], **FAST).fit_transform(X)
    assert not np.isnan(out).any()


# ---------------------------------------------------------------- bad input
def test_infinite_values_are_rejected(correlated):
    X = correlated.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        VFGImputer(**FAST).fit(X)


def test_non_numeric_columns_are_rejected(correlated):
    frame = pd.DataFrame(correlated[:, :2], columns=["a", "b"]).assign(city="x")
    with pytest.raises(ValueError, match="could not convert"):
        VFGImputer(**FAST).fit(frame)


def test_wrong_feature_count_at_transform(correlated, fitted):
    with pytest.raises(ValueError, match="X has 5 features, but VFGImputer is expecting 6"):
        fitted.transform(correlated[:, :5])


def test_sections_must_cover_columns_exactly_once(correlated):
    with pytest.raises(ValueError, match="exactly once"):
        VFGImputer(sections=[[0, 1], [1, 2, 3, 4, 5]], **FAST).fit(correlated)


def test_latent_dim_smaller_than_a_section(correlated):
    with pytest.raises(ValueError, match="smaller than the widest section"):
        VFGImputer(sections=[[0, 1, 2], [3, 4, 5]], latent_dim=2, **FAST).fit(correlated)


def test_all_columns_missing(correlated):
    with pytest.raises(ValueError, match="entirely missing"):
        VFGImputer(**FAST).fit(np.full((10, 3), np.nan))


def test_multiple_imputation_draws_vary_only_the_gaps(correlated, fitted):
    X = _with_gaps(correlated[:50], 0.4, 12)
    draws = fitted.sample_imputations(X, n_imputations=4, random_state=0)
    observed = ~np.isnan(X)
    assert draws.shape == (4, 50, 6) and not np.isnan(draws).any()
    for draw in draws:
        np.testing.assert_array_equal(draw[observed], X[observed])
    assert draws[:, ~observed].std(axis=0).mean() > 0
    np.testing.assert_array_equal(
        draws, fitted.sample_imputations(X, n_imputations=4, random_state=0))


def test_score_samples_is_finite_and_ranks_outliers_low(correlated, fitted):
    scores = fitted.score_samples(correlated[:100])
    assert scores.shape == (100,) and np.isfinite(scores).all()
    outlier = correlated[:1].copy()
    outlier[0, 0] = correlated[:, 0].max() + 5 * correlated[:, 0].std()
    outlier[0, 2] = correlated[:, 2].min() - 5 * correlated[:, 2].std()
    assert fitted.score_samples(outlier)[0] < np.percentile(scores, 5)
    assert np.isfinite(fitted.score_samples(_with_gaps(correlated[:20], 0.3, 13))).all()
