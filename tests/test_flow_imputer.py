"""What is particular to FlowImputer; shared imputer behaviour is in test_imputers."""

import copy

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.mixture import GaussianMixture
from torch.nn.utils import parameters_to_vector

from flowimpute import CouplingFlowDensity, FlowImputer, NAFDensity
from flowimpute.impute import _choices
from flowimpute.impute import flow_imputer as flow_imputer_module
from flowimpute.impute._choices import (
    GRADIENT_STEP_CANDIDATES,
    MEAN_WEIGHT_CANDIDATES,
    chain_starts,
)

COVARIANCE = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])


@pytest.fixture(scope="module")
def gaussian_imputer():
    X = np.random.RandomState(0).multivariate_normal(np.zeros(3), COVARIANCE, size=4000)
    density = CouplingFlowDensity(n_layers=4, hidden_dims=(32,), max_epochs=30)
    return FlowImputer(density, marginal="standard", random_state=0).fit(X)


def _conditional_of_first(x_observed):
    """Mean and standard deviation of x0 given (x1, x2) under COVARIANCE."""
    weights = np.linalg.solve(COVARIANCE[1:, 1:], COVARIANCE[1:, 0])
    variance = COVARIANCE[0, 0] - COVARIANCE[0, 1:] @ weights
    return x_observed @ weights, np.sqrt(variance)


def test_point_imputation_is_the_gaussian_conditional_mean(gaussian_imputer):
    X = np.random.RandomState(1).multivariate_normal(np.zeros(3), COVARIANCE, size=300)
    X_missing = X.copy()
    X_missing[:, 0] = np.nan
    imputed = gaussian_imputer.transform(X_missing)[:, 0]
    mean, sd = _conditional_of_first(X[:, 1:])
    assert np.sqrt(np.mean((imputed - mean) ** 2)) < 0.15 * sd



def test_column_complete_at_fit_starts_from_a_regression(gaussian_imputer):
    # Fitted without gaps, the initial imputer still learned to predict x0.
    start_only = copy.deepcopy(gaussian_imputer).set_params(n_gradient_steps=0)
    X = np.random.RandomState(4).multivariate_normal(np.zeros(3), COVARIANCE, size=300)
    X_missing = X.copy()
    X_missing[:, 0] = np.nan
    mean, sd = _conditional_of_first(X[:, 1:])
    error = np.sqrt(np.mean((start_only.transform(X_missing)[:, 0] - mean) ** 2))
    assert error < 0.25 * sd   # the column mean as the start: about 1.6 sd


def test_auto_gradient_steps_are_chosen_per_column(gaussian_imputer):
    steps = gaussian_imputer.gradient_steps_
    assert steps.shape == (3,)
    assert set(steps) <= set(GRADIENT_STEP_CANDIDATES)
    fixed = FlowImputer(CouplingFlowDensity(n_layers=1, max_epochs=1), n_gradient_steps=7,
                        max_em_iter=0, random_state=0).fit(np.random.RandomState(0).normal(
                            size=(100, 3)))
    assert fixed.gradient_steps_ is None
    with pytest.raises(ValueError, match="refit"):
        fixed.set_params(n_gradient_steps="auto").transform(np.array([[np.nan, 0.0, 0.0]]))


def test_a_column_stops_at_its_own_step_count(gaussian_imputer):
    X = np.random.RandomState(5).multivariate_normal(np.zeros(3), COVARIANCE, size=50)
    X[:, :2] = np.nan
    start_only = copy.deepcopy(gaussian_imputer).set_params(n_gradient_steps=0)
    mixed = copy.deepcopy(gaussian_imputer)
    mixed.gradient_steps_ = np.array([0, 100, 100])
    start, out = start_only.transform(X), mixed.transform(X)
    np.testing.assert_array_equal(out[:, 0], start[:, 0])
    assert np.abs(out[:, 1] - start[:, 1]).max() > 1e-3


def test_an_ensemble_imputes_the_mean_of_its_densities_searches():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COVARIANCE, size=600)
    X_missing = np.where(rng.rand(*X.shape) < 0.2, np.nan, X)
    ensemble = FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(16,), max_epochs=10),
                           ensemble_size=2, n_gradient_steps=20, max_em_iter=1,
                           random_state=0).fit(X_missing)
    first, second = ensemble.densities_
    weights = [parameters_to_vector(d.module_.parameters()).detach().numpy()
               for d in (first, second)]
    assert not np.allclose(*weights)   # different seeds
    singles = []
    for density in ensemble.densities_:
        single = copy.deepcopy(ensemble)
        single.densities_ = [density]
        singles.append(single.transform(X_missing[:100]))
    assert np.abs(singles[0] - singles[1]).max() > 1e-3
    np.testing.assert_allclose(ensemble.transform(X_missing[:100]), np.mean(singles, axis=0),
                               rtol=0, atol=1e-12)


def test_multiple_imputation_is_calibrated(gaussian_imputer):
    """Draws of x0 | x1, x2 have the closed-form conditional mean and variance."""
    X = np.random.RandomState(2).multivariate_normal(np.zeros(3), COVARIANCE, size=200)
    X_missing = X.copy()
    X_missing[:, 0] = np.nan
    draws = gaussian_imputer.sample_imputations(X_missing, n_imputations=20, random_state=0)
    mean, sd = _conditional_of_first(X[:, 1:])
    z = (draws[:, :, 0] - mean) / sd
    assert abs(z.mean()) < 0.1
    assert 0.8 < z.var() < 1.2
    assert 0.8 < draws[:, :, 0].std(axis=0).mean() / sd < 1.2


def test_sample_posterior_transform_draws_reproducibly(gaussian_imputer):
    X = np.random.RandomState(3).multivariate_normal(np.zeros(3), COVARIANCE, size=50)
    X[:, 2] = np.nan
    mode = gaussian_imputer.transform(X)
    # sample_posterior only acts at transform time: no refit needed.
    sampler = copy.deepcopy(gaussian_imputer).set_params(sample_posterior=True)
    first, second = sampler.transform(X), sampler.transform(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first[:, 2], mode[:, 2])


def _skewed_pair(n_rows: int, rng: np.random.RandomState) -> np.ndarray:
    """x1 = x0 + lognormal(0, 0.75) noise: given x0, x1 - x0 has its mode at
    exp(-0.5625) = 0.57 and its mean at exp(0.28125) = 1.32."""
    x0 = rng.normal(size=n_rows)
    return np.column_stack([x0, x0 + rng.lognormal(0.0, 0.75, size=n_rows)])


def test_point_estimate_mean_follows_a_skewed_conditional():
    rng = np.random.RandomState(0)
    imputer = FlowImputer(CouplingFlowDensity(n_layers=4, hidden_dims=(16,), max_epochs=20),
                          ensemble_size=2, n_gradient_steps=100, point_estimate="auto",
                          n_mcmc_steps=100, random_state=0).fit(_skewed_pair(2000, rng))
    assert imputer.mean_weight_ in MEAN_WEIGHT_CANDIDATES and imputer.mean_weight_ >= 0.75
    X = _skewed_pair(300, rng)
    X_missing = X.copy()
    X_missing[:, 1] = np.nan
    mode = imputer.set_params(point_estimate="mode").transform(X_missing)[:, 1]
    mean = imputer.set_params(point_estimate="mean").transform(X_missing)[:, 1]
    # Seed 0: offsets 0.82 (mode search) and 1.20 (mean); RMSE 1.33 and 1.23.
    assert abs(np.mean(mean - X[:, 0]) - np.exp(0.28125)) < 0.25
    assert np.mean(mode - X[:, 0]) < np.mean(mean - X[:, 0]) - 0.2
    assert np.sqrt(np.mean((mean - X[:, 1]) ** 2)) < np.sqrt(np.mean((mode - X[:, 1]) ** 2))
    np.testing.assert_array_equal(mean, imputer.transform(X_missing)[:, 1])  # deterministic
    halves = np.concatenate([imputer.transform(X_missing[:120]), imputer.transform(
        X_missing[120:])])[:, 1]
    np.testing.assert_allclose(halves, mean, rtol=0, atol=1e-10)   # row-independent


def test_mean_weight_is_chosen_on_a_bounded_number_of_entries(monkeypatch):
    chosen_on = []
    hide = flow_imputer_module.hide_observed_entries

    def recording_hide(X, observed, rng, max_rows=_choices.SELECTION_ROWS):
        held = hide(X, observed, rng, max_rows)
        chosen_on.append(len(held.rows))
        return held

    monkeypatch.setattr(flow_imputer_module, "hide_observed_entries", recording_hide)
    X = np.random.RandomState(0).normal(size=(1500, 10))
    X[::3, 0] = np.nan
    FlowImputer(CouplingFlowDensity(n_layers=1, hidden_dims=(8,), max_epochs=1),
                point_estimate="auto", max_em_iter=0, n_mcmc_steps=4, n_mean_chains=1,
                random_state=0).fit(X)
    # The gap-noise scale and the step counts: up to 2,000 rows each; the
    # weight: rows holding ~6,000 observed entries.
    entries_per_row = 10 - 1 / 3
    assert chosen_on == [1500, 1500,
                         int(np.ceil(_choices.MEAN_WEIGHT_ENTRIES / entries_per_row))]


def test_mean_weight_is_chosen_only_under_auto(gaussian_imputer):
    assert gaussian_imputer.mean_weight_ is None   # fitted with point_estimate="mode"
    with pytest.raises(ValueError, match="refit"):
        copy.deepcopy(gaussian_imputer).set_params(point_estimate="auto").transform(
            np.array([[np.nan, 0.0, 0.0]]))
    X = np.random.RandomState(5).multivariate_normal(np.zeros(3), COVARIANCE, size=300)
    X[X[:, 0] > 0.5, 0] = np.nan
    self_masking = FlowImputer(CouplingFlowDensity(n_layers=1, hidden_dims=(8,), max_epochs=2),
                               missing_mechanism="self-masking", point_estimate="auto",
                               max_em_iter=0, random_state=0).fit(X)
    assert self_masking.mean_weight_ == 0.0   # hidden entries cannot show the mechanism


@pytest.mark.parametrize("density", [
    CouplingFlowDensity(n_layers=4, hidden_dims=(32,), max_epochs=40),
    NAFDensity(n_flows=2, hidden_dims=(32,), n_transformer_units=8, max_epochs=40),
])
def test_learns_from_incomplete_data_better_than_the_means(density):
    rng = np.random.RandomState(0)
    z = rng.normal(size=(1500, 2))
    X = np.column_stack([z[:, 0], np.tanh(2 * z[:, 0]) + 0.1 * rng.normal(size=1500),
                         z[:, 1], z[:, 1] ** 2 + 0.1 * rng.normal(size=1500),
                         z[:, 0] + z[:, 1]])
    hidden = rng.rand(*X.shape) < 0.2
    X_missing = np.where(hidden, np.nan, X)
    imputer = FlowImputer(density, max_em_iter=2, random_state=0).fit(X_missing)
    flow_error = np.mean((imputer.transform(X_missing)[hidden] - X[hidden]) ** 2)
    mean_error = np.mean((SimpleImputer().fit_transform(X_missing)[hidden] - X[hidden]) ** 2)
    assert flow_error < 0.5 * mean_error
    assert 1 <= len(imputer.em_history_) <= 2 and np.isfinite(imputer.em_history_).all()


def test_heavy_tailed_column_does_not_blow_up():
    rng = np.random.RandomState(0)
    base = rng.normal(size=(800, 1))
    X = np.hstack([base, np.exp(3 * base + rng.normal(size=(800, 1)))])  # lognormal tail
    X_missing = X.copy()
    X_missing[::3, 1] = np.nan
    for marginal in ("standard", "yeo-johnson"):
        imputer = FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(16,), max_epochs=10),
                              marginal=marginal, max_em_iter=1, random_state=0).fit(X_missing)
        imputed = imputer.transform(X_missing)[::3, 1]
        assert np.isfinite(imputed).all() and imputed.min() >= X[:, 1].min()
        assert imputed.max() <= X[:, 1].max()
        assert (imputer.codec_.power_ is not None) == (marginal == "yeo-johnson")


def test_density_must_be_a_density():
    with pytest.raises(ValueError, match="'density' parameter of FlowImputer"):
        FlowImputer(density="naf").fit(np.random.RandomState(0).normal(size=(50, 2)))


@pytest.mark.parametrize("marginal", ["standard", "yeo-johnson"])
def test_self_masking_keeps_the_imputer_invariants(marginal):
    rng = np.random.RandomState(3)
    X = rng.multivariate_normal(np.zeros(3), COVARIANCE, size=400)
    X_missing = X.copy()
    X_missing[X[:, 0] > 0.5, 0] = np.nan
    X_missing[rng.rand(400) < 0.1, 2] = np.nan
    before = X_missing.copy()
    imputer = FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=3),
                          missing_mechanism="self-masking", marginal=marginal, max_em_iter=1,
                          em_epochs=1, random_state=0).fit(X_missing)
    np.testing.assert_array_equal(X_missing, before)   # input not modified
    low, high = imputer._imputation_range()
    assert high[0] > imputer.data_max_[0] and high[1] == imputer.data_max_[1]
    for _ in range(5):
        Z = X[rng.choice(400, 30)].copy()
        Z[rng.rand(*Z.shape) < 0.4] = np.nan
        Z[0] = np.nan
        imputed = imputer.transform(Z)
        observed = ~np.isnan(Z)
        assert not np.isnan(imputed).any()
        np.testing.assert_array_equal(imputed[observed], Z[observed])
        assert ((imputed >= low) & (imputed <= high)).all()
    np.testing.assert_array_equal(imputer.transform(Z), clone(imputer).fit(
        X_missing).transform(Z))   # same random_state, same output


def _integer_and_continuous(n_rows: int = 600) -> np.ndarray:
    rng = np.random.RandomState(0)
    codes = rng.randint(0, 6, n_rows).astype(float)
    return np.column_stack([codes, codes + rng.normal(scale=0.5, size=n_rows),
                            rng.normal(size=n_rows)])


def test_dequantization_widths_are_the_grid_steps_in_the_flow_space():
    X = _integer_and_continuous()
    X_missing = X.copy()
    X_missing[::5, 0] = np.nan
    density = CouplingFlowDensity(n_layers=2, hidden_dims=(16,), max_epochs=2)
    imputer = FlowImputer(density, max_em_iter=0, random_state=0).fit(X_missing)
    expected = [1.0 / imputer.scale_[0], 0.0, 0.0]
    np.testing.assert_allclose(imputer.densities_[0].dequantization_widths_, expected)
    plain = FlowImputer(density, dequantize=False, max_em_iter=0, random_state=0).fit(X_missing)
    np.testing.assert_array_equal(plain.densities_[0].dequantization_widths_, 0.0)
    yeo_johnson = FlowImputer(density, marginal="yeo-johnson", max_em_iter=0,
                              random_state=0).fit(X_missing)
    widths = yeo_johnson.densities_[0].dequantization_widths_
    assert widths[0] > 0 and widths[1] == widths[2] == 0


def test_a_list_of_densities_is_an_ensemble_of_each_kind():
    X = _integer_and_continuous(300)
    X[::4, 2] = np.nan
    kinds = [CouplingFlowDensity(n_layers=1, hidden_dims=(8,), max_epochs=2),
             NAFDensity(n_flows=1, hidden_dims=(8,), n_transformer_units=4, max_epochs=2)]
    imputer = FlowImputer(kinds, ensemble_size=2, max_em_iter=1, n_gradient_steps=5,
                          random_state=0).fit(X)
    assert [type(d).__name__ for d in imputer.densities_] == [
        "CouplingFlowDensity", "NAFDensity", "CouplingFlowDensity", "NAFDensity"]
    assert imputer.densities_[0].random_state != imputer.densities_[2].random_state
    assert not np.isnan(imputer.transform(X)).any()
    with pytest.raises(ValueError, match="empty list"):
        FlowImputer([]).fit(X)
    with pytest.raises(TypeError, match="element of the density list"):
        FlowImputer([kinds[0], SimpleImputer()]).fit(X)
    # A density estimator that is not a flowimpute flow is named, not run.
    with pytest.raises(TypeError, match="element of the density list.*GaussianMixture"):
        FlowImputer([kinds[0], GaussianMixture()]).fit(X)
    with pytest.raises(TypeError, match="flowimpute flow density.*GaussianMixture"):
        FlowImputer(GaussianMixture()).fit(X)


class _RecordingDensity(CouplingFlowDensity):
    """A coupling flow that keeps a copy of every table it trains on."""

    def fit(self, X, y=None):
        self.trained_on = [np.array(X, copy=True)]
        return super().fit(X, y)

    def train_more(self, X, n_epochs, seed):
        self.trained_on.append(np.array(X, copy=True))
        return super().train_more(X, n_epochs, seed)


def test_flows_train_on_noisy_gaps_and_exact_observed_entries():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COVARIANCE, size=600)
    gaps = rng.rand(*X.shape) < 0.2
    X_missing = np.where(gaps, np.nan, X)
    density = _RecordingDensity(n_layers=1, hidden_dims=(8,), max_epochs=2)
    # No refill steps: every round trains on the initial fill (plus noise).
    settings = dict(max_em_iter=2, em_epochs=1, em_tol=0.0, em_gradient_steps=0,
                    n_gradient_steps=0, random_state=0)
    noisy = FlowImputer(density, gap_noise=1.0, **settings).fit(X_missing)
    half = FlowImputer(density, gap_noise=0.5, **settings).fit(X_missing)
    hard = FlowImputer(density, gap_noise=0.0, **settings).fit(X_missing)

    # The noise scale is the initial fill's error: a regression's residual
    # here (conditional sds 0.53, 0.59, 0.85), below the columns' unit spread
    # on average; proportional to gap_noise.
    assert ((noisy.gap_noise_std_ > 0.4) & (noisy.gap_noise_std_ < 1.3)).all()
    assert noisy.gap_noise_std_.mean() < 0.9
    np.testing.assert_allclose(half.gap_noise_std_, 0.5 * noisy.gap_noise_std_)
    np.testing.assert_array_equal(hard.gap_noise_std_, 0.0)

    observed_scaled = (X - noisy.mean_) / noisy.scale_
    tables = noisy.densities_[0].trained_on
    assert len(tables) == 3
    for table in tables:   # observed entries as given, never noised
        np.testing.assert_array_equal(table[~gaps], observed_scaled[~gaps])
    # Hard EM trains on the fill itself; the noise moves it by about its
    # scale, drawn afresh for every round.
    hard_tables = hard.densities_[0].trained_on
    np.testing.assert_array_equal(hard_tables[0], hard_tables[2])
    noise = [(table - hard_tables[0])[gaps] for table in tables]
    for draw in noise:
        assert 0.5 * noisy.gap_noise_std_.min() < draw.std() < 1.5 * noisy.gap_noise_std_.max()
    assert abs(np.corrcoef(noise[1], noise[2])[0, 1]) < 0.2


def test_no_gaps_no_noise():
    X = np.random.RandomState(0).multivariate_normal(np.zeros(3), COVARIANCE, size=300)
    imputer = FlowImputer(CouplingFlowDensity(n_layers=1, hidden_dims=(8,), max_epochs=1),
                          random_state=0).fit(X)
    np.testing.assert_array_equal(imputer.gap_noise_std_, 0.0)


def _small_neighbour_imputer(**overrides) -> FlowImputer:
    settings = dict(max_em_iter=1, em_epochs=1, n_gradient_steps=5, point_estimate="mean",
                    mean_chain_start="neighbours", n_mean_chains=3, n_mcmc_steps=4,
                    random_state=0)
    return FlowImputer(CouplingFlowDensity(n_layers=2, hidden_dims=(8,), max_epochs=3),
                       **{**settings, **overrides})


def test_neighbour_chains_start_at_the_nearest_completed_training_rows(monkeypatch):
    rng = np.random.RandomState(0)
    X = np.where(rng.rand(300, 3) < 0.2, np.nan,
                 rng.multivariate_normal(np.zeros(3), COVARIANCE, size=300))
    imputer = _small_neighbour_imputer().fit(X)
    fill, observed = imputer.training_fill_, ~np.isnan(X)
    assert fill.shape == X.shape and np.isfinite(fill).all()
    np.testing.assert_allclose(fill[observed], ((X - imputer.mean_) / imputer.scale_)[observed])

    queries = np.random.RandomState(1).multivariate_normal(np.zeros(3), COVARIANCE, size=20)
    query_observed = np.ones_like(queries, dtype=bool)
    query_observed[:, 0] = False
    mode = imputer._mode(imputer._scaled(queries, query_observed), query_observed)
    distances = ((fill[None, :, 1:] - mode[:, None, 1:]) ** 2).sum(axis=2)
    donors = np.argsort(distances, axis=1, kind="stable")[:, :3]

    def second_start():
        return chain_starts(imputer._conditional(), mode, query_observed, fill, 3, None)(1)

    moved = second_start()
    monkeypatch.setattr(_choices, "CHAIN_START_STEPS", 0)
    start = second_start()
    np.testing.assert_array_equal(start[:, 0], fill[donors[:, 1], 0])
    np.testing.assert_array_equal(start[:, 1:], mode[:, 1:])
    np.testing.assert_array_equal(moved[:, 1:], mode[:, 1:])
    assert np.abs(moved[:, 0] - start[:, 0]).max() > 1e-3   # moved under the chain's flow


def test_the_mean_weight_is_not_chosen_from_the_rows_own_fill(monkeypatch):
    """Hidden training entries are in the training fill: a row may not start
    chains from its own completed values."""
    calls = []
    search = _choices.nearest_rows

    def recording(queries, observed, table, k, exclude=None):
        calls.append((queries, observed, table, exclude))
        return search(queries, observed, table, k, exclude)

    monkeypatch.setattr(_choices, "nearest_rows", recording)
    rng = np.random.RandomState(2)
    X = np.where(rng.rand(200, 3) < 0.2, np.nan,
                 rng.multivariate_normal(np.zeros(3), COVARIANCE, size=200))
    imputer = _small_neighbour_imputer(point_estimate="auto").fit(X)
    assert imputer.mean_weight_ in MEAN_WEIGHT_CANDIDATES
    ((queries, observed, table, own_rows),) = calls
    assert own_rows is not None and len(np.unique(own_rows)) == len(own_rows)
    np.testing.assert_array_equal(table[own_rows][observed], queries[observed])


def test_neighbour_chains_reach_the_modes_one_search_misses():
    """x1 is -2 or +2 (small noise) whatever x0: its conditional mean is 0,
    but chains started at one mode stay there."""
    rng = np.random.RandomState(0)
    x0 = rng.normal(size=1500)
    X = np.column_stack([x0, rng.choice([-2.0, 2.0], 1500) + 0.1 * rng.normal(size=1500)])
    X[rng.rand(1500) < 0.2, 1] = np.nan
    imputer = FlowImputer(NAFDensity(n_flows=2, hidden_dims=(16,), n_transformer_units=8,
                                     max_epochs=30),
                          max_em_iter=1, n_gradient_steps=100, point_estimate="mean",
                          n_mean_chains=6, n_mcmc_steps=100, random_state=0)
    X_test = np.column_stack([rng.normal(size=100), np.full(100, np.nan)])
    from_mode = imputer.set_params(mean_chain_start="neighbours").fit(X).set_params(
        mean_chain_start="mode").transform(X_test)[:, 1]
    from_neighbours = imputer.set_params(mean_chain_start="neighbours").transform(X_test)[:, 1]
    # Seed 0: RMS distance from the true mean 1.73 (mode starts) and 0.93;
    # six chains split at random between the modes would give about 0.82.
    assert np.sqrt(np.mean(from_mode ** 2)) > 1.5
    assert np.sqrt(np.mean(from_neighbours ** 2)) < 1.2


def test_neighbour_starts_need_the_training_fill_kept_at_fit(gaussian_imputer):
    assert gaussian_imputer.training_fill_ is None   # fitted with mean_chain_start="mode"
    with pytest.raises(ValueError, match="refit"):
        copy.deepcopy(gaussian_imputer).set_params(
            point_estimate="mean", mean_chain_start="neighbours").transform(
                np.array([[np.nan, 0.0, 0.0]]))


def test_the_initial_regressions_read_at_most_the_nearest_columns_of_a_wide_table():
    from flowimpute.impute._em import NEAREST_FEATURES, InitialFill
    rng = np.random.RandomState(0)
    for width, expected in [(NEAREST_FEATURES + 1, None), (40, NEAREST_FEATURES)]:
        Z = np.where(rng.rand(30, width) < 0.1, np.nan, rng.normal(size=(30, width)))
        fill = InitialFill("iterative").fit(Z, np.random.RandomState(0))
        assert fill.imputer_.n_nearest_features == expected
        assert not np.isnan(fill.transform(Z)).any()
