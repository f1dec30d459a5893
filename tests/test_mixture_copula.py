"""The Gaussian-mixture copula: its maps, density, conditionals and tilt."""

import math

import numpy as np
import pytest
import torch

from flowimpute.inference.mixture_copula import (
    GaussianMixtureCopula,
    yeo_johnson,
    yeo_johnson_inverse,
    yeo_johnson_log_derivative,
)


def _skewed(n_rows: int, seed: int) -> np.ndarray:
    """Two dependent columns, one log-normal, in two clusters."""
    rng = np.random.RandomState(seed)
    cluster = rng.rand(n_rows) < 0.4
    first = rng.normal(size=n_rows) + 3 * cluster
    second = np.exp(0.5 * first + 0.3 * rng.normal(size=n_rows))
    return np.column_stack([first, second])


def _fitted(n_components: int = 3, missing: float = 0.0, seed: int = 0
            ) -> tuple[GaussianMixtureCopula, torch.Tensor, torch.Tensor]:
    X = torch.as_tensor(_skewed(600, seed))
    observed = torch.as_tensor(np.random.RandomState(seed + 1).rand(*X.shape) >= missing)
    observed[:, 0] |= ~observed.any(1)
    low, high = X.min(0).values, X.max(0).values
    copula = GaussianMixtureCopula(2, n_components).fit(
        torch.where(observed, X, 0.0), observed, 2 * low - high, 2 * high - low, seed=0,
        max_iter=50)
    return copula, X, observed


@pytest.mark.parametrize("exponent", [-1.5, 0.0, 0.5, 1.0, 2.0, 3.5])
def test_yeo_johnson_inverse_and_log_derivative(exponent):
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, requires_grad=True)
    exponents = torch.tensor([exponent], dtype=torch.float64)
    y = yeo_johnson(x[:, None], exponents)
    torch.testing.assert_close(yeo_johnson_inverse(y, exponents)[:, 0], x.detach(),
                               rtol=1e-10, atol=1e-10)
    (gradient,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(yeo_johnson_log_derivative(x.detach()[:, None], exponents)[:, 0],
                               torch.log(gradient), rtol=1e-9, atol=1e-9)


def test_density_integrates_to_one_jointly_and_marginally():
    copula, X, _ = _fitted()
    first = torch.linspace(-6, 10, 801, dtype=torch.float64)
    second = torch.linspace(1e-4, 60, 1201, dtype=torch.float64)   # the column's support > 0
    grid = torch.cartesian_prod(first, second)
    density = copula.log_prob(grid, torch.ones_like(grid, dtype=torch.bool)).exp()
    step = (first[1] - first[0]) * (second[1] - second[0])
    # the transform extends below the observed minimum of the second column
    # (no mass is lost there to speak of: the fitted density is tiny at 0)
    assert float(density.sum() * step) == pytest.approx(1.0, abs=0.02)
    only_first = torch.stack([first, torch.zeros_like(first)], 1)
    marginal = copula.log_prob(only_first, torch.tensor([[True, False]]).expand(801, 2)).exp()
    assert float(marginal.sum() * (first[1] - first[0])) == pytest.approx(1.0, abs=1e-3)


def test_conditional_mean_equals_the_draws_mean_and_the_tilt_reweights():
    copula, X, observed = _fitted(missing=0.3)
    rows = torch.tensor([[True, False], [False, True]]).repeat(20, 1)
    values = torch.where(rows, X[:40], 0.0)
    noise = torch.randn(4000, 40, 3, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    draws = torch.stack([copula.sample(values, rows, e) for e in noise])
    mean = copula.conditional_mean(values, rows)
    spread = draws.std(0)
    assert torch.all((draws.mean(0) - mean).abs() <= 4 * spread / math.sqrt(4000) + 1e-12)
    torch.testing.assert_close(draws[:, rows], values[rows].expand(4000, -1))   # kept

    copula.slopes.copy_(torch.tensor([0.8, -0.5], dtype=torch.float64))
    tilted = copula.conditional_mean(values, rows)
    z = copula.gaussianized(draws)                       # untilted draws, reweighted
    log_odds = (copula.slopes * z * ~rows).sum(-1)
    weights = torch.softmax(log_odds, 0)
    reweighted = (weights[..., None] * draws).sum(0)
    assert torch.all((reweighted - tilted)[~rows].abs() <= 0.1 * spread[~rows])
    assert torch.all((tilted - mean)[~rows] * torch.sign(copula.slopes.expand(40, 2))[~rows]
                     > 0)


def test_values_mapped_back_stay_in_the_training_range():
    X = torch.as_tensor(_skewed(400, 1))
    observed = torch.ones_like(X, dtype=torch.bool)
    low, high = X.min(0).values, X.max(0).values
    copula = GaussianMixtureCopula(2, 2).fit(X, observed, low, high, seed=0, max_iter=20)
    far = copula.values_of(torch.tensor([[-50.0, -50.0], [50.0, 50.0]], dtype=torch.float64))
    torch.testing.assert_close(far, torch.stack([low, high]))


@pytest.mark.parametrize("exponent", [-88.8, -27.6, 30.0])
def test_the_inverse_is_finite_at_and_beyond_a_bounded_image(exponent):
    exponents = torch.tensor([exponent], dtype=torch.float64)
    far = 1e6 if exponent < 0 else -1e6     # the bounded side
    end = yeo_johnson(torch.tensor([[far]], dtype=torch.float64), exponents)
    assert torch.isfinite(end).all()
    beyond = torch.cat([end, end * (1 + 1e-9), end * 1.5])
    assert torch.isfinite(yeo_johnson_inverse(beyond, exponents)).all()


def test_a_rare_flag_column_is_imputed_without_nan():
    # Yeast's 'erl' and 'pox' columns take 2 and 3 values; PowerTransformer
    # gives them exponents near -90 and -28, whose images are bounded, and
    # rounding once put imputations past the end (NaN out of the inverse)
    from flowimpute import VFGImputer
    from flowimpute.bench.imputation import make_setting
    setting = make_setting("yeast", "MCAR", 0.2, 0, 1000)
    imputer = VFGImputer(random_state=0).fit(setting.X_fit)
    assert imputer.module_.exponents.min() < -10
    assert not np.isnan(imputer.transform(setting.X_apply)).any()
    assert not np.isnan(imputer.sample_imputations(setting.X_apply, 3, random_state=0)).any()
