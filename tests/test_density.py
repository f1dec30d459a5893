import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from flowimpute import CouplingFlowDensity, NAFDensity, PlanarFlowDensity, ResidualFlowDensity
from flowimpute.datasets import ring_of_gaussians_log_density

FAST = dict(n_layers=2, hidden_dims=(16,), max_epochs=5, random_state=0)
NAF_FAST = dict(n_flows=2, hidden_dims=(16,), n_transformer_units=4, max_epochs=5,
                random_state=0)
RESIDUAL_FAST = dict(n_blocks=2, hidden_dims=(16,), learning_rate=1e-3, max_epochs=5,
                     random_state=0)

#: Small settings of every flow density estimator; the tests below that take
#: the ``make`` fixture run on each of them.
DENSITIES = {
    "coupling": (CouplingFlowDensity, FAST),
    "naf_dsf": (NAFDensity, NAF_FAST),
    "naf_ddsf": (NAFDensity, {**NAF_FAST, "transformer": "ddsf"}),
    "naf_affine": (NAFDensity, {**NAF_FAST, "transformer": "affine"}),
    "naf_spline": (NAFDensity, {**NAF_FAST, "transformer": "spline"}),
    "coupling_mixture": (CouplingFlowDensity,
                         {**FAST, "base_distribution": "mixture", "n_components": 3}),
    "residual": (ResidualFlowDensity, RESIDUAL_FAST),
    "residual_estimate": (ResidualFlowDensity, {**RESIDUAL_FAST, "log_det": "estimate"}),
    "residual_graph": (ResidualFlowDensity, {**RESIDUAL_FAST, "adjacency": "complete"}),
    "planar": (PlanarFlowDensity, dict(n_layers=4, max_epochs=5, random_state=0)),
}


@pytest.fixture(params=sorted(DENSITIES))
def make(request):
    """Factory of a small, seeded estimator: ``make(**overrides)``."""
    estimator, settings = DENSITIES[request.param]
    return lambda **overrides: estimator(**{**settings, **overrides})


@pytest.fixture
def gaussian_data():
    rng = np.random.RandomState(0)
    cov = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 0.5]])
    return rng.multivariate_normal([1.0, -2.0, 10.0], cov, size=600)


def test_density_integrates_to_one_on_a_grid(ring):
    X = ring(3000, seed=0)
    flow = CouplingFlowDensity(n_layers=6, max_epochs=60, random_state=0).fit(X)
    edges = np.linspace(-5, 5, 401)
    centers = (edges[:-1] + edges[1:]) / 2
    grid = np.stack(np.meshgrid(centers, centers), axis=-1).reshape(-1, 2)
    mass = np.exp(flow.score_samples(grid)).sum() * (edges[1] - edges[0]) ** 2
    assert abs(mass - 1.0) < 0.02


def test_beats_a_single_gaussian_on_held_out_data(ring):
    X_train, X_test = ring(3000, seed=0), ring(1000, seed=1)
    flow = CouplingFlowDensity(n_layers=6, max_epochs=60, random_state=0).fit(X_train)
    gaussian = GaussianMixture(n_components=1, random_state=0).fit(X_train)
    assert flow.score(X_test) > gaussian.score(X_test) + 0.2


@pytest.mark.parametrize("estimator, settings", [
    (CouplingFlowDensity, dict(n_layers=2)), (NAFDensity, dict(n_flows=1))])
def test_mixture_base_fits_separate_groups_and_integrates_to_one(ring, estimator, settings):
    """Six separate Gaussians: a flow onto one Gaussian must tear the plane
    apart to fit them; a mixture base of six components fits them at once."""
    X_train, X_test = ring(3000, seed=0), ring(1000, seed=1)
    settings = dict(settings, max_epochs=20, random_state=0)
    plain = estimator(**settings).fit(X_train)
    mixture = estimator(base_distribution="mixture", n_components=6, **settings).fit(X_train)
    truth = ring_of_gaussians_log_density(X_test).mean()
    assert mixture.score(X_test) > plain.score(X_test) + 0.3
    assert mixture.score(X_test) > truth - 0.15
    edges = np.linspace(-5, 5, 401)
    centers = (edges[:-1] + edges[1:]) / 2
    grid = np.stack(np.meshgrid(centers, centers), axis=-1).reshape(-1, 2)
    mass = np.exp(mixture.score_samples(grid)).sum() * (edges[1] - edges[0]) ** 2
    assert abs(mass - 1.0) < 0.02


def test_mixture_base_needs_as_many_rows_as_components():
    with pytest.raises(ValueError, match="8 components needs at least 8 training rows"):
        CouplingFlowDensity(base_distribution="mixture", validation_fraction=0,
                            **FAST).fit(np.random.RandomState(0).normal(size=(5, 2)))


def test_density_is_in_the_units_of_the_data(make, gaussian_data):
    """Scaling the data by c shifts every log-density by -d*log(c)."""
    flow = make().fit(gaussian_data)
    scaled = make().fit(gaussian_data * 10.0)
    np.testing.assert_allclose(
        scaled.score_samples(gaussian_data * 10.0),
        flow.score_samples(gaussian_data) - 3 * np.log(10.0), rtol=1e-6)


def test_score_is_mean_of_score_samples_and_bits_per_dim(make, gaussian_data):
    flow = make().fit(gaussian_data)
    log_density = flow.score_samples(gaussian_data)
    assert flow.score(gaussian_data) == pytest.approx(log_density.mean())
    assert flow.bits_per_dim(gaussian_data) == pytest.approx(
        -log_density.mean() / (3 * np.log(2)))


def test_samples_match_training_moments(gaussian_data):
    flow = CouplingFlowDensity(n_layers=4, max_epochs=40, random_state=0).fit(gaussian_data)
    samples = flow.sample(20000, random_state=1)
    assert samples.shape == (20000, 3) and np.isfinite(samples).all()
    np.testing.assert_allclose(samples.mean(0), gaussian_data.mean(0), atol=0.15)
    np.testing.assert_allclose(np.cov(samples.T), np.cov(gaussian_data.T), atol=0.2)


def test_same_random_state_same_model_and_samples(make, gaussian_data):
    a = make().fit(gaussian_data)
    b = make().fit(gaussian_data)
    np.testing.assert_array_equal(a.score_samples(gaussian_data), b.score_samples(gaussian_data))
    np.testing.assert_array_equal(a.sample(5, random_state=3), b.sample(5, random_state=3))
    c = make(random_state=1).fit(gaussian_data)
    assert not np.array_equal(a.score_samples(gaussian_data), c.score_samples(gaussian_data))


def test_global_random_state_is_untouched(make, gaussian_data):
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    flow = make().fit(gaussian_data)
    flow.sample(10, random_state=0)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert np.array_equal(numpy_state[1], np.random.get_state()[1])  # noqa: NPY002


def test_rows_are_scored_independently_of_their_batch(make, gaussian_data):
    flow = make().fit(gaussian_data)
    full = flow.score_samples(gaussian_data)
    parts = np.concatenate([flow.score_samples(gaussian_data[i:i + 13])
                            for i in range(0, len(gaussian_data), 13)])
    # BLAS may sum a row's products in another order for another batch size:
    # float64 round-off (1e-16 relative) is all that may differ.
    np.testing.assert_allclose(full, parts, rtol=1e-12, atol=0)



def test_float32_computes_in_float32_and_stays_accurate(make, gaussian_data):
    flow = make(dtype="float32").fit(gaussian_data)
    assert {p.dtype for p in flow.module_.parameters()} == {torch.float32}
    in_float32 = flow.score_samples(gaussian_data)
    assert in_float32.dtype == np.float64 and np.isfinite(in_float32).all()
    samples = flow.sample(20, random_state=0)
    assert samples.dtype == np.float64 and np.isfinite(samples).all()
    # The same parameters evaluated in float64: float32 round-off only.
    flow.module_.double()
    flow.dtype_ = torch.float64
    np.testing.assert_allclose(in_float32, flow.score_samples(gaussian_data),
                               rtol=1e-4, atol=1e-4)

def test_inference_batch_size_changes_memory_not_results(make, gaussian_data):
    flow = make().fit(gaussian_data)
    chunked = pickle.loads(pickle.dumps(flow)).set_params(inference_batch_size=11)
    np.testing.assert_allclose(chunked.score_samples(gaussian_data),
                               flow.score_samples(gaussian_data), rtol=1e-12, atol=0)
    samples = chunked.sample(50, random_state=0)
    assert samples.shape == (50, 3) and np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, chunked.sample(50, random_state=0))


def _pickle_round_trip(model, tmp_path):
    return pickle.loads(pickle.dumps(model))


def _joblib_round_trip(model, tmp_path):
    joblib.dump(model, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


@pytest.mark.parametrize("round_trip", [_pickle_round_trip, _joblib_round_trip])
def test_persistence_round_trip(make, gaussian_data, tmp_path, round_trip):
    flow = make().fit(gaussian_data)
    restored = round_trip(flow, tmp_path)
    np.testing.assert_array_equal(flow.score_samples(gaussian_data),
                                  restored.score_samples(gaussian_data))


def test_history_and_early_stopping(gaussian_data):
    flow = CouplingFlowDensity(n_layers=2, max_epochs=500, n_iter_no_change=3, tol=0.05,
                               random_state=0).fit(gaussian_data)
    assert flow.n_iter_ < 500
    assert len(flow.history_["train_loss"]) == flow.n_iter_
    assert len(flow.history_["validation_loss"]) == flow.n_iter_
    assert flow.history_["train_loss"][-1] < flow.history_["train_loss"][0]


@pytest.mark.parametrize("n_rows, held_out", [(499, False), (500, True)])
def test_a_table_too_small_for_a_useful_hold_out_trains_on_every_row(gaussian_data, n_rows,
                                                                    held_out):
    """A tenth of 499 rows is 49, under MIN_VALIDATION_ROWS: nothing is held
    out, and early stopping watches the training loss (it still stops)."""
    flow = CouplingFlowDensity(n_layers=2, max_epochs=500, n_iter_no_change=3, tol=0.05,
                               random_state=0).fit(gaussian_data[:n_rows])
    assert flow.n_iter_ < 500
    assert len(flow.history_["validation_loss"]) == (flow.n_iter_ if held_out else 0)


def test_verbose_shows_progress(make, gaussian_data, capsys):
    make(verbose=1).fit(gaussian_data)
    assert type(make()).__name__ in capsys.readouterr().err


def test_masks(gaussian_data):
    parity = CouplingFlowDensity(**FAST).fit(gaussian_data)
    np.testing.assert_array_equal(parity.masks_, [[0, 1, 0], [1, 0, 1]])
    random = CouplingFlowDensity(**{**FAST, "n_layers": 5, "mask": "random"}).fit(gaussian_data)
    assert random.masks_.shape == (5, 3)
    assert ((random.masks_ == 0).sum(axis=1) == 1).all()
    explicit = [[1, 1, 0], [0, 1, 1]]
    fitted = CouplingFlowDensity(**{**FAST, "mask": explicit}).fit(gaussian_data)
    np.testing.assert_array_equal(fitted.masks_, explicit)


@pytest.mark.parametrize("mask, message", [
    ([[1, 0, 1]], r"shape \(n_layers, n_features\) = \(2, 3\)"),
    ([[1, 1, 1], [0, 1, 0]], "mask row 0 must contain both"),
    ([[1, 2, 0], [0, 1, 0]], "must be 0"),
])
def test_bad_masks_are_named(gaussian_data, mask, message):
    with pytest.raises(ValueError, match=message):
        CouplingFlowDensity(**{**FAST, "mask": mask}).fit(gaussian_data)


def test_single_feature_data(make):
    X = np.random.RandomState(0).exponential(size=(300, 1))
    flow = make().fit(X)
    assert np.isfinite(flow.score_samples(X)).all()


def test_pandas_input_records_feature_names(make, gaussian_data):
    frame = pd.DataFrame(gaussian_data, columns=["a", "b", "c"])
    flow = make().fit(frame)
    np.testing.assert_array_equal(flow.feature_names_in_, ["a", "b", "c"])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = flow.score_samples(gaussian_data)
    np.testing.assert_array_equal(flow.score_samples(frame), from_array)


def test_pipeline_and_grid_search_with_default_scoring(gaussian_data):
    pipeline = make_pipeline(StandardScaler(), CouplingFlowDensity(**FAST))
    assert np.isfinite(pipeline.fit(gaussian_data).score(gaussian_data))
    search = GridSearchCV(CouplingFlowDensity(**FAST), {"n_layers": [1, 2]}, cv=2)
    search.fit(gaussian_data)
    assert search.best_params_["n_layers"] in (1, 2)
    assert np.isfinite(search.best_score_)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad_value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_input_is_rejected(make, gaussian_data, bad_value, message):
    X = gaussian_data.copy()
    X[3, 1] = bad_value
    with pytest.raises(ValueError, match=message):
        make().fit(X)
    flow = make().fit(gaussian_data)
    with pytest.raises(ValueError, match=message):
        flow.score_samples(X)


def test_one_dimensional_input_is_rejected(make):
    with pytest.raises(ValueError, match="Expected 2D array"):
        make().fit(np.arange(10.0))


def test_wrong_feature_count_is_rejected(make, gaussian_data):
    flow = make().fit(gaussian_data)
    with pytest.raises(ValueError, match=f"X has 2 features, but {type(flow).__name__} is "
                                         "expecting 3 features"):
        flow.score_samples(gaussian_data[:, :2])


def test_too_few_rows_are_rejected(make):
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        make().fit(np.ones((1, 3)))


def test_constant_column_is_named(make):
    frame = pd.DataFrame({"x": np.arange(10.0), "flat": 4.0, "y": np.arange(10.0) ** 2})
    with pytest.raises(ValueError, match=r"constant column\(s\): 1 \('flat'\)"):
        make().fit(frame)


def test_values_beyond_the_square_root_of_the_float_range(make, gaussian_data):
    """Squares of 1e200 overflow; the scaling must not (it once gave an infinite scale)."""
    flow = make().fit(gaussian_data * 1e200)
    expected = make().fit(gaussian_data).score_samples(gaussian_data)
    scores = flow.score_samples(gaussian_data * 1e200)
    np.testing.assert_allclose(scores, expected - gaussian_data.shape[1] * np.log(1e200),
                               rtol=1e-6)


def test_input_is_not_modified(make, gaussian_data):
    X = gaussian_data.copy()
    flow = make().fit(X)
    flow.score_samples(X)
    np.testing.assert_array_equal(X, gaussian_data)


def test_unavailable_device_is_a_clear_error(make, gaussian_data):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        make(device="cuda").fit(gaussian_data)
    with pytest.raises(ValueError, match="Invalid device 'gpu0'"):
        make(device="gpu0").fit(gaussian_data)


@pytest.mark.gpu
def test_fits_on_gpu_and_loads_on_cpu(gaussian_data):
    flow = CouplingFlowDensity(**{**FAST, "device": "cuda"}).fit(gaussian_data)
    assert flow.device_.type == "cuda"
    restored = pickle.loads(pickle.dumps(flow))
    cpu = CouplingFlowDensity(**{**FAST, "device": "cpu"}).fit(gaussian_data)
    assert np.isfinite(restored.score_samples(gaussian_data)).all()
    np.testing.assert_allclose(restored.score_samples(gaussian_data),
                               cpu.score_samples(gaussian_data), rtol=1e-6)


def test_model_marked_as_fitted_on_cuda_loads_on_cpu(make, gaussian_data):
    """The unpickling fallback a GPU-fitted model takes on a machine without CUDA."""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    flow = make().fit(gaussian_data)
    expected = flow.score_samples(gaussian_data)
    flow.device_ = torch.device("cuda")
    payload = pickle.dumps(flow)
    with pytest.warns(UserWarning, match="fitted on cuda, which is not available here"):
        restored = pickle.loads(payload)
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.score_samples(gaussian_data), expected)


def _chunks(X, n_chunks=3):
    return np.array_split(X, n_chunks)


def test_partial_fit_streams_chunks_reproducibly(make, gaussian_data):
    train, test = gaussian_data[:480], gaussian_data[480:]
    scores = []
    for _ in range(2):
        flow = make()
        for epoch in range(6):
            for chunk in _chunks(train):
                flow.partial_fit(chunk)
            if epoch == 0:
                first_pass = flow.score(test)
        scores.append(flow.score(test))
        assert flow.n_iter_ == 18 and len(flow.history_["train_loss"]) == 18
    assert scores[0] == scores[1]
    assert scores[0] > first_pass + 0.05 and np.isfinite(scores[0])


def test_partial_fit_survives_pickling_mid_stream(gaussian_data):
    chunks = _chunks(gaussian_data)
    straight = CouplingFlowDensity(**FAST)
    resumed = CouplingFlowDensity(**FAST)
    for chunk in chunks:
        straight.partial_fit(chunk)
        resumed.partial_fit(chunk)
    resumed = pickle.loads(pickle.dumps(resumed))   # optimizer state travels with it
    for chunk in chunks:
        straight.partial_fit(chunk)
        resumed.partial_fit(chunk)
    np.testing.assert_array_equal(straight.score_samples(gaussian_data),
                                  resumed.score_samples(gaussian_data))


def test_partial_fit_continues_a_fit_and_checks_the_width(make, gaussian_data):
    flow = make().fit(gaussian_data)
    before, epochs = flow.score(gaussian_data), flow.n_iter_
    flow.partial_fit(gaussian_data[:200])
    assert flow.n_iter_ == epochs + 1 and flow.score(gaussian_data) != before
    with pytest.raises(ValueError, match="3 features"):
        flow.partial_fit(gaussian_data[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        make().partial_fit(np.where(gaussian_data == gaussian_data[0, 0], np.nan, gaussian_data))


def _codes_and_noise(n_rows: int, seed: int) -> np.ndarray:
    """Codes 0-4, uniformly, beside an independent standard normal column."""
    rng = np.random.RandomState(seed)
    return np.column_stack([rng.randint(0, 5, n_rows).astype(float), rng.normal(size=n_rows)])


def test_dequantization_spreads_a_discrete_column_over_its_cells():
    X = _codes_and_noise(2000, seed=0)
    cell_offsets = np.random.RandomState(1).uniform(-0.5, 0.5, len(X))
    X_dequantized = X + np.column_stack([cell_offsets, np.zeros(len(X))])
    spikes = {}
    for dequantization in ("auto", "none"):
        flow = NAFDensity(n_flows=2, hidden_dims=(32,), n_transformer_units=16, max_epochs=100,
                          dequantization=dequantization, random_state=0).fit(X)
        spikes[dequantization] = flow.score(X) - flow.score(X + np.array([0.4, 0.0]))
        if dequantization == "auto":
            np.testing.assert_array_equal(flow.dequantization_widths_, [1.0, 0.0])
            # The dequantized data's density: uniform over [-0.5, 4.5) times N(0, 1).
            true_score = -np.log(5) - 0.5 * np.log(2 * np.pi * np.e)
            assert abs(flow.score(X_dequantized) - true_score) < 0.1
    assert abs(spikes["auto"]) < 0.3   # about flat across a cell
    assert spikes["none"] > 5          # without: spikes at the codes


def test_training_noise_is_reproducible_and_changes_the_fit(make):
    X = _codes_and_noise(300, seed=1)
    noisy = [make(dequantization="auto", noise_std=0.2).fit(X).score_samples(X[:20])
             for _ in range(2)]
    np.testing.assert_array_equal(*noisy)
    assert not np.allclose(noisy[0], make().fit(X).score_samples(X[:20]))


@pytest.mark.parametrize("widths", [[1.0], [1.0, -1.0], [np.nan, 0.0]])
def test_bad_dequantization_widths_are_named(make, widths):
    with pytest.raises(ValueError, match="dequantization must be"):
        make(dequantization=widths).fit(_codes_and_noise(50, seed=0))
