"""VAEImputer on a Gaussian whose conditionals are known: the conditional
mean, calibrated multiple imputation, the bound on log p(x_obs), the latent
representation."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from flowimpute import VAEImputer

COV = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.5], [0.5, 0.5, 1.0]])


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COV, 2000)
    gaps = rng.rand(*X.shape) < 0.2
    X_missing = np.where(gaps, np.nan, X)
    return X, X_missing, gaps


@pytest.fixture(scope="module")
def fitted(gaussian):
    return VAEImputer(random_state=0).fit(gaussian[1])


def _conditional(x, observed):
    """Mean and sd of each missing entry of one row under the true Gaussian."""
    o, m = observed, ~observed
    if not o.any():
        return np.zeros(m.sum()), np.sqrt(np.diag(COV)[m])
    gain = COV[np.ix_(m, o)] @ np.linalg.inv(COV[np.ix_(o, o)])
    mean = gain @ x[o]
    cov = COV[np.ix_(m, m)] - gain @ COV[np.ix_(o, m)]
    return mean, np.sqrt(np.diag(cov))


def test_imputes_the_conditional_mean(gaussian, fitted):
    X, X_missing, gaps = gaussian
    imputed = fitted.transform(X_missing[:500])
    distances, spreads = [], []
    for row in range(500):
        observed = ~gaps[row]
        if observed.all():
            continue
        mean, sd = _conditional(X[row], observed)
        distances += list(imputed[row, ~observed] - mean)
        spreads += list(sd)
    assert np.sqrt(np.mean(np.square(distances))) < 0.15 * np.mean(spreads) + 0.05


def test_multiple_imputation_is_calibrated(gaussian, fitted):
    X, X_missing, gaps = gaussian
    draws = fitted.sample_imputations(X_missing[:600], n_imputations=60, random_state=0)
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    missing = gaps[:600]
    inside = (X[:600][missing] >= low[missing]) & (X[:600][missing] <= high[missing])
    assert 0.85 < inside.mean() < 0.95
    np.testing.assert_array_equal(draws[:, ~missing], np.broadcast_to(
        X_missing[:600][~missing], (60, (~missing).sum())))


def test_score_is_a_bound_close_to_the_true_marginal(gaussian, fitted):
    X, X_missing, gaps = gaussian
    complete = ~gaps.any(axis=1)
    truth = multivariate_normal(np.zeros(3), COV).logpdf(X[complete]).mean()
    score = fitted.score_samples(X[complete]).mean()
    assert truth - 0.1 < score < truth + 0.02


def test_reconstruction_term_is_in_the_units_of_x():
    """Rescaling the data leaves the standardized model unchanged, so both
    per-row log-likelihoods move by -log(10) per observed entry."""
    rng = np.random.RandomState(1)
    X = rng.multivariate_normal(np.zeros(3), COV, 400)
    X[::3, 1] = np.nan
    settings = dict(hidden_dims=(16,), max_epochs=3, n_draws=20, random_state=0)
    small, large = VAEImputer(**settings).fit(X), VAEImputer(**settings).fit(10 * X)
    n_observed = (~np.isnan(X[:40])).sum(axis=1)
    for method in ("reconstruction_log_likelihood", "score_samples"):
        shift = getattr(small, method)(X[:40]) - getattr(large, method)(10 * X[:40])
        np.testing.assert_allclose(shift, n_observed * np.log(10), rtol=1e-6)
    assert not np.allclose(small.reconstruction_log_likelihood(X[:40]),
                           small.score_samples(X[:40]))


def test_latent_mean_is_a_deterministic_representation(gaussian, fitted):
    _, X_missing, _ = gaussian
    Z = fitted.latent_mean(X_missing[:50])
    assert Z.shape == (50, fitted.latent_dim_) == (50, 2)
    np.testing.assert_array_equal(Z, fitted.latent_mean(X_missing[:50]))
    np.testing.assert_allclose(Z[:10], fitted.latent_mean(X_missing[:10]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("posterior_flow, prior_flow", [
    ("planar", "none"), ("residual", "none"), ("none", "residual"), ("planar", "planar")])
def test_flow_posteriors_and_priors_fit_and_impute(gaussian, posterior_flow, prior_flow):
    X, X_missing, gaps = gaussian
    imputer = VAEImputer(posterior_flow=posterior_flow, prior_flow=prior_flow, n_flow_layers=2,
                         max_epochs=15, random_state=0).fit(X_missing[:800])
    imputed = imputer.transform(X_missing[:800])
    error = np.sqrt(np.mean((imputed[gaps[:800]] - X[:800][gaps[:800]]) ** 2))
    assert error < 0.8          # the mean fill's error is about 1
    assert np.isfinite(imputer.score_samples(X_missing[:20])).all()


def test_self_masking_learns_which_values_go_missing():
    """Values above the mean of the first two columns go missing; the
    learned slopes say so, and the imputations move above the mean where
    an at-random model stays near it."""
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COV, 1500)
    gaps = (X > 0) & (rng.rand(*X.shape) < 0.6) & (np.arange(3) < 2)
    X_missing = np.where(gaps, np.nan, X)
    self_masking = VAEImputer(missing_mechanism="self-masking", max_epochs=60,
                              random_state=0).fit(X_missing)
    coef = self_masking.module_.missingness.coef.detach().numpy()
    assert coef[0] > 0.3 and coef[1] > 0.3 and abs(coef[2]) < 0.2
    at_random = VAEImputer(max_epochs=60, random_state=0).fit(X_missing)
    errors = [np.sqrt(np.mean((imputer.transform(X_missing)[gaps] - X[gaps]) ** 2))
              for imputer in (self_masking, at_random)]
    assert errors[0] < errors[1]


def test_latent_dim_and_bad_settings():
    X = np.random.RandomState(0).normal(size=(60, 4))
    assert VAEImputer(latent_dim=3, max_epochs=1).fit(X).latent_dim_ == 3
    with pytest.raises(ValueError, match="likelihood"):
        VAEImputer(likelihood="poisson").fit(X)
    with pytest.raises(ValueError, match="posterior_flow"):
        VAEImputer(posterior_flow="maf").fit(X)
    with pytest.raises(ValueError, match="needs likelihood='gaussian'"):
        VAEImputer(missing_mechanism="self-masking", likelihood="student_t").fit(X)
