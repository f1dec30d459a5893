import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from flowimpute.flows.distributions import (
    GaussianMixtureBase,
    StandardLaplace,
    StandardNormal,
    make_base_distribution,
)


@pytest.mark.parametrize("base, reference", [
    (StandardNormal(), stats.norm), (StandardLaplace(), stats.laplace)])
def test_log_prob_matches_scipy(base, reference):
    z = torch.linspace(-6, 6, 30, dtype=torch.float64).reshape(10, 3)
    expected = reference.logpdf(z.numpy()).sum(axis=1)
    torch.testing.assert_close(base.log_prob(z), torch.as_tensor(expected))


@pytest.mark.parametrize("base, reference", [
    (StandardNormal(), stats.norm), (StandardLaplace(), stats.laplace)])
def test_samples_follow_the_distribution(base, reference):
    draws = base.sample(20000, 2, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 2) and draws.dtype == torch.float64
    assert torch.isfinite(draws).all()
    # Kolmogorov-Smirnov at a strict level: a wrong scale or location fails by far.
    assert stats.kstest(draws[:, 0].numpy(), reference.cdf).pvalue > 1e-3
    assert stats.kstest(draws[:, 1].numpy(), reference.cdf).pvalue > 1e-3


def test_same_generator_seed_same_draws():
    a = StandardLaplace().sample(5, 2, torch.Generator().manual_seed(3))
    b = StandardLaplace().sample(5, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_unknown_base_is_named():
    with pytest.raises(ValueError, match="'cauchy'"):
        make_base_distribution("cauchy")
    assert math.isclose(float(make_base_distribution("laplace").log_prob(
        torch.zeros(1, 1, dtype=torch.float64))), -math.log(2))


def _mixture(means, scales, weights) -> GaussianMixtureBase:
    base = GaussianMixtureBase(len(means[0]), len(means))
    with torch.no_grad():
        base.means.copy_(torch.tensor(means, dtype=torch.float64))
        base.log_scales.copy_(torch.tensor(scales, dtype=torch.float64).log())
        base.logits.copy_(torch.tensor(weights, dtype=torch.float64).log())
    return base


def test_mixture_log_prob_matches_scipy():
    base = _mixture([[-2.0, 0.0], [1.0, 3.0]], [[0.5, 1.0], [2.0, 0.3]], [0.3, 0.7])
    z = torch.linspace(-5, 5, 40, dtype=torch.float64).reshape(20, 2)
    expected = np.log(
        0.3 * stats.norm.pdf(z[:, 0], -2, 0.5) * stats.norm.pdf(z[:, 1], 0, 1.0)
        + 0.7 * stats.norm.pdf(z[:, 0], 1, 2.0) * stats.norm.pdf(z[:, 1], 3, 0.3))
    torch.testing.assert_close(base.log_prob(z).detach(), torch.as_tensor(expected))


def test_mixture_samples_follow_the_distribution():
    base = _mixture([[-3.0], [2.0]], [[0.5], [1.5]], [0.25, 0.75])
    draws = base.sample(20000, 1, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 1) and draws.dtype == torch.float64

    def cdf(x):
        return 0.25 * stats.norm.cdf(x, -3, 0.5) + 0.75 * stats.norm.cdf(x, 2, 1.5)

    assert stats.kstest(draws[:, 0].numpy(), cdf).pvalue > 1e-3
    same = base.sample(5, 1, torch.Generator().manual_seed(3))
    assert torch.equal(same, base.sample(5, 1, torch.Generator().manual_seed(3)))


def test_mixture_starts_at_the_clusters_of_its_rows():
    rng = np.random.RandomState(0)
    centers = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    z = np.concatenate([center + rng.normal(0, 0.5, (100 * (i + 1), 2))
                        for i, center in enumerate(centers)])
    base = GaussianMixtureBase(2, 3)
    base.initialize(torch.as_tensor(z), seed=0)
    order = np.argsort(base.means[:, 0].detach().numpy() + 0.1 * base.means[:, 1].detach().numpy())
    np.testing.assert_allclose(base.means.detach().numpy()[order], centers[[0, 2, 1]], atol=0.15)
    np.testing.assert_allclose(base.log_scales.exp().detach().numpy(), 0.5, atol=0.1)
    weights = torch.softmax(base.logits, 0).detach().numpy()[order]
    np.testing.assert_allclose(weights, np.array([100, 300, 200]) / 600)


def test_mixture_clusters_of_repeated_rows_do_not_start_as_spikes():
    z = torch.tensor([[0.0, 0.0]] * 5 + [[4.0, 4.0]] * 5, dtype=torch.float64)
    base = GaussianMixtureBase(2, 2)
    base.initialize(z, seed=0)
    assert (base.log_scales.exp() >= GaussianMixtureBase.MIN_INITIAL_SCALE).all()
    assert torch.isfinite(base.log_prob(z)).all()


def test_mixture_with_fewer_distinct_rows_than_components_stays_finite():
    z = torch.tensor([[0.0, 1.0]] * 6 + [[3.0, -1.0]] * 4, dtype=torch.float64)
    base = GaussianMixtureBase(2, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base.initialize(z, seed=0)
    assert all(torch.isfinite(p).all() for p in base.parameters())
    assert torch.isfinite(base.log_prob(z)).all()
    weights = torch.softmax(base.logits.detach(), 0)
    assert abs(float(weights.max()) - 0.6) < 0.01


def test_mixture_needs_as_many_rows_as_components():
    with pytest.raises(ValueError, match="8 components needs at least 8 training rows, got 5"):
        GaussianMixtureBase(2, 8).initialize(torch.zeros(5, 2, dtype=torch.float64), seed=0)


def test_make_base_distribution_builds_a_mixture():
    base = make_base_distribution("mixture", n_features=3, n_components=4)
    assert isinstance(base, GaussianMixtureBase)
    assert base.means.shape == (4, 3) and base.logits.shape == (4,)
    with pytest.raises(ValueError, match="'laplace', 'mixture', 'normal'"):
        make_base_distribution("cauchy")
