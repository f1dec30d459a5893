import math

import pytest
import torch
from scipy import stats

from flowimpute.distributions import StandardLaplace, StandardNormal, make_base_distribution


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
