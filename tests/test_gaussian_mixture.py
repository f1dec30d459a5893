import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from flowimpute.inference.gaussian_mixture import IncompleteGaussianMixture

COVARIANCES = np.array([[[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 1.0]],
                        [[0.5, -0.2, 0.1], [-0.2, 0.7, 0.0], [0.1, 0.0, 0.4]]])
MEANS = np.array([[-3.0, 0.0, 1.0], [3.0, 2.0, -1.0]])
WEIGHTS = np.array([0.3, 0.7])


def _mixture() -> IncompleteGaussianMixture:
    mixture = IncompleteGaussianMixture(3, 2).double()
    mixture.log_weights.copy_(torch.as_tensor(np.log(WEIGHTS)))
    mixture.means.copy_(torch.as_tensor(MEANS))
    mixture.covariances.copy_(torch.as_tensor(COVARIANCES))
    return mixture


def _draws(n_rows: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    component = rng.choice(2, n_rows, p=WEIGHTS)
    return np.stack([rng.multivariate_normal(MEANS[k], COVARIANCES[k]) for k in component])


def _as_tensors(X: np.ndarray, observed: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.as_tensor(np.where(observed, X, 0.0)), torch.as_tensor(observed)


@pytest.mark.parametrize("pattern", [[True, True, True], [True, False, True],
                                     [False, True, False]])
def test_log_prob_is_the_marginal_of_the_observed_entries(pattern):
    X = _draws(50, 0)
    observed = np.tile(pattern, (50, 1))
    log_prob = _mixture().log_prob(*_as_tensors(X, observed)).numpy()
    keep = np.array(pattern)
    expected = np.log(sum(
        w * multivariate_normal(m[keep], c[np.ix_(keep, keep)]).pdf(X[:, keep])
        for w, m, c in zip(WEIGHTS, MEANS, COVARIANCES, strict=True)))
    np.testing.assert_allclose(log_prob, expected, rtol=1e-10)


def test_conditional_is_each_components_gaussian_conditional_reweighted():
    X = _draws(40, 1)
    observed = np.tile([True, False, True], (40, 1))
    weights, means = _mixture().conditional(*_as_tensors(X, observed))
    o, u = [0, 2], [1]
    for k in range(2):
        c = COVARIANCES[k]
        expected = MEANS[k, u] + (X[:, o] - MEANS[k, o]) @ np.linalg.solve(
            c[np.ix_(o, o)], c[np.ix_(o, u)])
        np.testing.assert_allclose(means[:, k, u].numpy(), expected, rtol=1e-10)
        np.testing.assert_array_equal(means[:, k, o].numpy(), X[:, o])
    joint = np.stack([w * multivariate_normal(m[o], c[np.ix_(o, o)]).pdf(X[:, o])
                      for w, m, c in zip(WEIGHTS, MEANS, COVARIANCES, strict=True)], axis=1)
    np.testing.assert_allclose(weights.numpy(), joint / joint.sum(1, keepdims=True),
                               rtol=1e-9)


def test_em_on_incomplete_rows_recovers_the_mixture():
    X = _draws(4000, 2)
    observed = np.random.RandomState(3).rand(*X.shape) > 0.3
    fitted = IncompleteGaussianMixture(3, 2).double().fit(*_as_tensors(X, observed),
                                                          ridge=1e-4)
    order = np.argsort(fitted.means[:, 0].numpy())
    np.testing.assert_allclose(fitted.means.numpy()[order], MEANS, atol=0.1)
    np.testing.assert_allclose(fitted.covariances.numpy()[order], COVARIANCES, atol=0.1)
    np.testing.assert_allclose(fitted.log_weights.exp().numpy()[order], WEIGHTS, atol=0.03)
    # The fit's likelihood of the observed entries is the true mixture's, give or take.
    tensors = _as_tensors(X, observed)
    assert fitted.log_prob(*tensors).mean() >= _mixture().log_prob(*tensors).mean() - 0.01


def test_em_without_gaps_matches_complete_data_estimates_for_one_component():
    X = _draws(500, 4)
    fitted = IncompleteGaussianMixture(3, 1).double().fit(
        *_as_tensors(X, np.ones_like(X, dtype=bool)), ridge=0.0)
    np.testing.assert_allclose(fitted.means[0].numpy(), X.mean(0), atol=1e-10)
    np.testing.assert_allclose(fitted.covariances[0].numpy(), np.cov(X.T, bias=True),
                               atol=1e-10)
