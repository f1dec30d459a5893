"""Behaviour every flowimpute imputer shares: each test runs on every imputer."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import with_gaps

from flowimpute import (
    ACFlowImputer,
    CouplingFlowDensity,
    FlowImputer,
    NAFDensity,
    SIReNVAE,
    VAEImputer,
    VFGImputer,
)

IMPUTERS = {
    "acflow": lambda **kw: ACFlowImputer(**{**dict(
        n_layers=2, hidden_dims=(8,), n_components=2, n_draws=4, max_epochs=4,
        random_state=0), **kw}),
    "acflow_self_masking": lambda **kw: ACFlowImputer(**{**dict(
        n_layers=2, hidden_dims=(8,), n_components=2, n_draws=4, max_epochs=4,
        missing_mechanism="self-masking", random_state=0), **kw}),
    "acflow_spline": lambda **kw: ACFlowImputer(**{**dict(
        n_layers=3, hidden_dims=(8,), transformer="spline", n_bins=4, n_components=1,
        n_draws=3, max_epochs=3, random_state=0), **kw}),
    "vae": lambda **kw: VAEImputer(**{**dict(
        hidden_dims=(8,), n_importance=4, n_draws=6, max_epochs=4, random_state=0), **kw}),
    "vae_planar_student": lambda **kw: VAEImputer(**{**dict(
        hidden_dims=(8,), likelihood="student_t", posterior_flow="planar", n_flow_layers=2,
        n_importance=3, n_draws=5, max_epochs=3, random_state=0), **kw}),
    "vae_self_masking": lambda **kw: VAEImputer(**{**dict(
        hidden_dims=(8,), missing_mechanism="self-masking", n_importance=3, n_draws=5,
        max_epochs=3, random_state=0), **kw}),
    "siren_vae": lambda **kw: SIReNVAE(**{**dict(
        latent_variables=2, structure="complete", flow_hidden_dims=(8,), hidden_dims=(8,),
        n_importance=3, n_draws=5, max_epochs=3, random_state=0), **kw}),
    "vfg": lambda **kw: VFGImputer(**{**dict(max_epochs=4, hidden_dims=(8,), random_state=0,
                                             aggregation="weighted"), **kw}),
    "vfg_self_masking": lambda **kw: VFGImputer(**{**dict(
        max_epochs=4, hidden_dims=(8,), missing_mechanism="self-masking", random_state=0,
        aggregation="weighted"),
        **kw}),
    "vfg_concatenate": lambda **kw: VFGImputer(**{**dict(n_components=3, random_state=0),
                                                  **kw}),
    "vfg_concatenate_self_masking": lambda **kw: VFGImputer(**{**dict(
        n_components=3, missing_mechanism="self-masking", random_state=0), **kw}),
    "flow_coupling": lambda **kw: FlowImputer(**{**dict(
        density=CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=4),
        marginal="yeo-johnson", max_em_iter=1, em_epochs=1, n_mcmc_steps=10,
        random_state=0), **kw}),   # n_gradient_steps="auto": chosen per column
    "flow_coupling_ensemble": lambda **kw: FlowImputer(**{**dict(
        density=CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=4),
        ensemble_size=2, max_em_iter=1, em_epochs=1, n_mcmc_steps=10, point_estimate="mean",
        n_mean_chains=3, random_state=0), **kw}),   # the MALA mean in transform
    "flow_coupling_neighbour_chains": lambda **kw: FlowImputer(**{**dict(
        density=CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=4),
        max_em_iter=1, em_epochs=1, n_mcmc_steps=10, point_estimate="mean",
        mean_chain_start="neighbours", n_mean_chains=3, random_state=0), **kw}),
    "flow_naf_mean_start": lambda **kw: FlowImputer(**{**dict(
        density=NAFDensity(n_flows=1, hidden_dims=(8,), n_transformer_units=4, max_epochs=3),
        initial_strategy="mean", marginal="standard", max_em_iter=1, em_epochs=1,
        n_gradient_steps=10, n_mcmc_steps=10, random_state=0), **kw}),
}


@pytest.fixture(scope="module", params=sorted(IMPUTERS))
def make(request):
    """Factory of a small, seeded imputer: ``make(**overrides)``."""
    return IMPUTERS[request.param]


@pytest.fixture(scope="module")
def fitted(make, correlated):
    return make().fit(with_gaps(correlated, 0.2, 0))


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
    low, high = fitted._imputation_range()   # the training range, or wider under self-masking
    assert imputed[:, 1].min() >= low[1] and imputed[:, 1].max() <= high[1]
    assert high[1] - low[1] <= 3 * (fitted.data_max_[1] - fitted.data_min_[1]) * (1 + 1e-9)


def test_input_is_not_modified(make, correlated):
    X = with_gaps(correlated, 0.3, 2)
    original = X.copy()
    make().fit(X).transform(X)
    np.testing.assert_array_equal(X, original)


def test_same_random_state_same_imputation(make, correlated):
    X = with_gaps(correlated, 0.3, 3)
    a = make().fit_transform(X)
    b = make().fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_transform_is_row_independent(correlated, fitted):
    X = with_gaps(correlated, 0.4, 4)
    whole = fitted.transform(X)
    parts = np.vstack([fitted.transform(X[i:i + 17]) for i in range(0, len(X), 17)])
    np.testing.assert_allclose(whole, parts, rtol=0, atol=_batching_tolerance(fitted))


def _batching_tolerance(imputer) -> float:
    """What may differ between batchings of the same rows: BLAS may sum a
    row's products in another order for another batch size, so round-off of
    the imputer's precision (float64 1e-16, float32 1e-7) and no more."""
    return 1e-12 if imputer.dtype == "float64" else 1e-5



def test_float32_keeps_the_invariants(make, correlated):
    X = with_gaps(correlated, 0.3, 5)
    imputer = make(dtype="float32").fit(X)
    module = imputer.module_ if hasattr(imputer, "module_") else imputer.densities_[0].module_
    trained = {p.dtype for p in module.parameters()}
    assert trained == {torch.float32} or not trained   # a mixture fitted by EM has none
    imputed = imputer.transform(X)
    observed = ~np.isnan(X)
    assert imputed.dtype == np.float64 and not np.isnan(imputed).any()
    np.testing.assert_array_equal(imputed[observed], X[observed])
    np.testing.assert_array_equal(imputed, make(dtype="float32").fit(X).transform(X))

def test_set_output_pandas_keeps_index_and_columns(make, correlated):
    frame = pd.DataFrame(with_gaps(correlated, 0.2, 8), columns=list("abcdef"),
                         index=pd.RangeIndex(100, 500))
    out = make().set_output(transform="pandas").fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list("abcdef")
    assert out.index.equals(frame.index)
    assert not out.isna().any().any()


def test_missing_values_marker_and_indicator(make, correlated):
    X = correlated.copy()
    X[::4, 2] = -999.0
    imputer = make(missing_values=-999.0, add_indicator=True).fit(X)
    out = imputer.transform(X)
    assert out.shape == (len(X), 7)
    np.testing.assert_array_equal(out[:, 6], X[:, 2] == -999.0)
    assert (out[::4, 2] != -999.0).all()
    assert imputer.get_feature_names_out()[-1] == "missingindicator_x2"


def test_empty_feature_is_dropped_or_kept(make, correlated):
    X = correlated.copy()
    X[:, 3] = np.nan
    with pytest.warns(UserWarning, match=r"without any observed values: \[3\]"):
        dropped = make().fit(X)
    assert dropped.transform(X).shape == (len(X), 5)
    assert list(dropped.get_feature_names_out()) == ["x0", "x1", "x2", "x4", "x5"]
    kept = make(keep_empty_features=True).fit(X).transform(X)
    assert kept.shape == (len(X), 6) and (kept[:, 3] == 0).all()


def test_pickle_round_trip(correlated, fitted):
    X = with_gaps(correlated, 0.3, 10)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X),
                                  fitted.transform(X))


def test_every_fitted_torch_module_moves_with_the_pickle(fitted):
    """A model fitted on a GPU loads on a machine without one only if every
    fitted module is moved to the CPU when pickled."""
    modules = {name for name, value in vars(fitted).items()
               if name.endswith("_") and isinstance(value, torch.nn.Module)}
    assert modules <= set(type(fitted)._module_attributes)


# ---------------------------------------------------------------- bad input
def test_infinite_values_are_rejected(make, correlated):
    X = correlated.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        make().fit(X)


@pytest.mark.parametrize("dtype", [object, "string"])
def test_numbers_written_as_text_get_the_one_line_fix(make, correlated, dtype):
    frame = pd.DataFrame(correlated[:, :2], columns=["a", "b"])
    frame["price"] = pd.Series([f"{v:.2f}" for v in correlated[:, 2]], dtype=dtype)
    with pytest.raises(ValueError, match=r"'price' \((object|string), e.g. '[-0-9.]+'.*\) "
                       r"holds numbers written as text: convert it with "
                       r"X\['price'\] = pd.to_numeric\(X\['price'\]\), or name it in "
                       r"categorical_features"):
        make().fit(frame)


def test_dates_are_refused_with_what_to_do(make, correlated):
    frame = pd.DataFrame(correlated[:, :2], columns=["a", "b"]).assign(
        day=pd.date_range("2024-01-01", periods=len(correlated)))
    with pytest.raises(ValueError, match=r"cannot model column\(s\): 'day' "
                       r"\(datetime64\[\w+\].*\) holds dates or durations: convert them"):
        make().fit(frame)


def test_object_column_of_numbers_and_pd_na_is_read_as_numbers(make, correlated):
    X = with_gaps(correlated, 0.2, 3)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    frame["b"] = pd.Series([pd.NA if np.isnan(v) else v for v in X[:, 1]], dtype=object)
    before = frame.copy()
    imputed = make().fit(frame).transform(frame)
    pd.testing.assert_frame_equal(frame, before)            # the caller's frame is untouched
    np.testing.assert_array_equal(imputed, make().fit(X).transform(X))


def test_values_beyond_the_square_root_of_the_float_range_are_imputed(make, correlated):
    """Squares of 1e200 overflow; the scaling must not (it once gave NaN)."""
    X = with_gaps(correlated, 0.2, 4)
    imputed = make().fit(X * 1e200).transform(X * 1e200)
    assert np.isfinite(imputed).all()
    np.testing.assert_allclose(imputed / 1e200, make().fit(X).transform(X), rtol=1e-5, atol=1e-6)


def test_wrong_feature_count_at_transform(correlated, fitted):
    expected = f"X has 5 features, but {type(fitted).__name__} is expecting 6"
    with pytest.raises(ValueError, match=expected):
        fitted.transform(correlated[:, :5])


def test_all_columns_missing(make, correlated):
    with pytest.raises(ValueError, match="entirely missing"):
        make().fit(np.full((10, 3), np.nan))


def test_multiple_imputation_draws_vary_only_the_gaps(correlated, fitted):
    X = with_gaps(correlated[:50], 0.4, 12)
    draws = fitted.sample_imputations(X, n_imputations=4, random_state=0)
    observed = ~np.isnan(X)
    assert draws.shape == (4, 50, 6) and not np.isnan(draws).any()
    for draw in draws:
        np.testing.assert_array_equal(draw[observed], X[observed])
    assert draws[:, ~observed].std(axis=0).mean() > 0
    np.testing.assert_array_equal(
        draws, fitted.sample_imputations(X, n_imputations=4, random_state=0))


def test_multiple_imputation_of_complete_rows_returns_them(correlated, fitted):
    draws = fitted.sample_imputations(correlated[:20], n_imputations=3, random_state=0)
    np.testing.assert_array_equal(draws, np.broadcast_to(correlated[:20], (3, 20, 6)))



def test_inference_batch_size_changes_memory_not_results(correlated, fitted):
    """Transform, scoring and draws work through the rows in chunks of
    ``inference_batch_size``; the chunk size must not change the numbers."""
    X = with_gaps(correlated, 0.3, 13)
    chunked = pickle.loads(pickle.dumps(fitted)).set_params(inference_batch_size=7)
    tolerance = _batching_tolerance(fitted)
    np.testing.assert_allclose(chunked.transform(X), fitted.transform(X), rtol=0,
                               atol=tolerance)
    if hasattr(fitted, "score_samples"):
        np.testing.assert_allclose(chunked.score_samples(X), fitted.score_samples(X),
                                   rtol=tolerance, atol=0)
    draws = chunked.sample_imputations(X[:40], n_imputations=2, random_state=3)
    assert draws.shape == (2, 40, X.shape[1]) and not np.isnan(draws).any()
    observed = ~np.isnan(X[:40])
    np.testing.assert_array_equal(draws[:, observed], np.broadcast_to(X[:40][observed],
                                                                     (2, observed.sum())))


@pytest.mark.parametrize("single_value", [False, True])
def test_a_constant_column_is_filled_with_its_value_not_modelled(make, correlated,
                                                                 single_value):
    X = with_gaps(correlated, 0.2, 5)
    X[:, 2] = 7.5
    X[::4, 2] = np.nan
    if single_value:   # one observed value, every other entry missing
        X[:, 2] = np.nan
        X[3, 2] = -1.25
    imputer = make().fit(X)
    assert imputer.constant_features_.tolist() == [2]
    assert 2 not in imputer.modelled_features_
    imputed = imputer.transform(X)
    value = -1.25 if single_value else 7.5
    np.testing.assert_array_equal(imputed[:, 2], value)
    others = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(imputed[:, others][~np.isnan(X[:, others])],
                                  X[:, others][~np.isnan(X[:, others])])
    assert not np.isnan(imputed).any()
    draws = imputer.sample_imputations(X[:20], n_imputations=2, random_state=0)
    np.testing.assert_array_equal(draws[:, :, 2], value)


def test_a_table_of_constant_columns_has_nothing_to_learn(make):
    X = np.tile([1.0, 2.0], (30, 1))
    X[::3, 0] = np.nan
    with pytest.raises(ValueError, match="takes a single value; there is nothing to learn"):
        make().fit(X)
