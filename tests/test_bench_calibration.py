"""The calibration benchmark's closed forms."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from flowimpute.bench.calibration import (
    conditional_gaussian,
    gaussian_covariance,
    gaussian_mixture_marginal,
    interval_coverage,
)


def test_covariance_is_a_fixed_correlation_matrix():
    covariance = gaussian_covariance()
    np.testing.assert_allclose(np.diag(covariance), 1.0)
    assert np.linalg.eigvalsh(covariance).min() > 0
    np.testing.assert_array_equal(covariance, gaussian_covariance())


def test_conditional_of_a_bivariate_gaussian():
    covariance = np.array([[1.0, 0.6], [0.6, 1.0]])
    mean, sd = conditional_gaussian(covariance, np.array([np.nan, 2.0]),
                                    np.array([True, False]))
    np.testing.assert_allclose(mean, [1.2])
    np.testing.assert_allclose(sd, [0.8])
    mean, sd = conditional_gaussian(covariance, np.zeros(2), np.array([True, True]))
    np.testing.assert_allclose(mean, [0, 0])
    np.testing.assert_allclose(sd, [1, 1])


def test_interval_coverage_counts_missing_entries_only():
    draws = np.arange(101.0)[:, None, None] * np.ones((1, 2, 1))
    truth = np.array([[50.0], [99.0]])
    assert interval_coverage(draws, truth, np.array([[True], [False]])) == 1.0
    assert interval_coverage(draws, truth, np.array([[False], [True]])) == 0.0


def test_mixture_marginal_of_one_component_is_the_gaussian_marginal():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([0, 1, 2], [[1, .5, 0], [.5, 1, .3], [0, .3, 1]], 500)
    mixture = GaussianMixture(1, random_state=0).fit(X)
    observed = rng.rand(*X.shape) < 0.7
    scores = gaussian_mixture_marginal(mixture, X, observed)
    for row, mask, score in zip(X[:20], observed[:20], scores[:20], strict=True):
        expected = 0.0 if not mask.any() else multivariate_normal(
            mixture.means_[0][mask], mixture.covariances_[0][np.ix_(mask, mask)]).logpdf(row[mask])
        assert score == pytest.approx(expected)
