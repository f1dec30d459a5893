"""The arbitrary-conditional flow and ACFlowImputer: exactness of the layers,
normalized conditionals, draws that follow the density, and an imputer that
recovers known Gaussian conditionals and marginals."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import multivariate_normal

from flowimpute import ACFlowImputer
from flowimpute.flows.arbitrary_conditional import ArbitraryConditionalFlow
from flowimpute.flows.categorical_head import CategoricalHead
from flowimpute.impute.acflow_imputer import random_split
from flowimpute.inference.missingness import fit_tilted_self_masking
from flowimpute.transforms import AffineTransformer, RationalQuadraticSpline
from flowimpute.transforms.subset_coupling import SubsetCoupling, subset_context

N_FEATURES = 5


def _perturb(module, scale, seed=0):
    generator = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator,
                                               dtype=parameter.dtype))
    return module


@pytest.fixture
def split():
    """64 rows, each coordinate conditioning, target or absent at random."""
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(64, N_FEATURES, generator=generator, dtype=torch.float64) * 2
    kind = torch.randint(0, 3, (64, N_FEATURES), generator=generator)
    return x, kind == 0, kind == 1


@pytest.fixture(params=["affine", "spline"])
def coupling(request):
    transformer = (AffineTransformer() if request.param == "affine"
                   else RationalQuadraticSpline(4, bound=3.0))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return _perturb(SubsetCoupling([1, 0, 1, 1, 0], transformer, (16,)), 0.1)


def test_subset_coupling_round_trip_moves_only_targets_inside_its_partition(coupling, split):
    x, conditioning, target = split
    context = subset_context(x, conditioning, target)
    y, _ = coupling(x, context)
    torch.testing.assert_close(coupling.inverse(y, context), x, atol=1e-8, rtol=0)
    fixed = ~(target & coupling.partition)
    assert torch.equal(y[fixed], x[fixed])
    assert not torch.allclose(y[~fixed], x[~fixed])


def test_subset_coupling_inverse_reuses_a_precomputed_context_term(coupling, split):
    x, conditioning, target = split
    context = subset_context(x, conditioning, target)
    torch.testing.assert_close(coupling.inverse(x, context, coupling.context_term(context)),
                               coupling.inverse(x, context), atol=1e-12, rtol=0)


def test_subset_coupling_log_det_matches_autograd_jacobian(coupling, split):
    x, conditioning, target = split
    context = subset_context(x, conditioning, target)
    _, log_det = coupling(x[:8], context[:8])
    for row, row_context, expected in zip(x[:8], context[:8], log_det, strict=True):
        jacobian = torch.autograd.functional.jacobian(
            lambda r, c=row_context: coupling(r.unsqueeze(0), c.unsqueeze(0))[0][0], row)
        torch.testing.assert_close(torch.linalg.slogdet(jacobian)[1], expected,
                                   atol=1e-8, rtol=0)


def test_subset_coupling_refuses_a_missing_context(coupling, split):
    with pytest.raises(ValueError, match="needs a context of 15"):
        coupling(split[0])


def _flow(transformer, n_features=2, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        flow = ArbitraryConditionalFlow(n_features, 4, transformer, (16,), n_components=3)
        return _perturb(flow, 0.1, seed)


@pytest.mark.parametrize("transformer", [AffineTransformer(), RationalQuadraticSpline(6)])
def test_every_conditional_integrates_to_one(transformer):
    """p(x_0 | x_1), p(x_0) and p(x_0, x_1) each integrate to one."""
    flow = _flow(transformer)
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    step = float(grid[1] - grid[0])
    one_target = torch.stack([grid, torch.full_like(grid, 0.7)], dim=1)
    ones = torch.ones_like(one_target, dtype=torch.bool)
    first = torch.tensor([True, False]).expand_as(ones)
    with torch.no_grad():
        for conditioning in (~first, torch.zeros_like(ones)):   # given x_1, and marginal
            density = flow.log_prob(one_target, conditioning, first).exp()
            assert float(density.sum()) * step == pytest.approx(1.0, abs=2e-3)
        coarse = torch.linspace(-12, 12, 301, dtype=torch.float64)
        a, b = torch.meshgrid(coarse, coarse, indexing="ij")
        both = torch.stack([a.flatten(), b.flatten()], dim=1)
        joint = flow.log_prob(both, torch.zeros_like(both, dtype=torch.bool),
                              torch.ones_like(both, dtype=torch.bool)).exp()
        assert float(joint.sum()) * float(coarse[1] - coarse[0]) ** 2 == pytest.approx(
            1.0, abs=5e-3)


def test_the_mixture_of_factorizations_integrates_to_one():
    """The direct pass mixed with p(x_0) p(x_1 | x_0), p(x_1) p(x_0 | x_1)
    and the blocks that hold all or none of the row is normalized; with no
    blocks it is the direct pass."""
    flow = _flow(AffineTransformer(), seed=2)
    coarse = torch.linspace(-12, 12, 301, dtype=torch.float64)
    a, b = torch.meshgrid(coarse, coarse, indexing="ij")
    rows = torch.stack([a.flatten(), b.flatten()], dim=1)
    every = torch.ones_like(rows, dtype=torch.bool)
    blocks = torch.tensor([[True, False], [False, True], [True, True], [False, False]])
    with torch.no_grad():
        mixture = flow.factorized_log_prob(rows, every, blocks)
        direct = flow.log_prob(rows, torch.zeros_like(every), every, chain=True)
        x_0 = blocks[0].expand_as(every)
        first = (flow.log_prob(rows, torch.zeros_like(every), x_0)
                 + flow.log_prob(rows, x_0, ~x_0))                     # p(x_0) p(x_1 | x_0)
        assert torch.equal(flow.factorized_log_prob(rows, every, blocks[:0]), direct)
    assert float(mixture.exp().sum()) * float(coarse[1] - coarse[0]) ** 2 == pytest.approx(
        1.0, abs=5e-3)
    # The factorizations are different densities, so the mixture is not one of them.
    assert float((mixture - direct).abs().max()) > 1e-2
    assert float((first - direct).abs().max()) > 1e-2


def test_draws_follow_the_conditional_density():
    """The mean and spread of exact draws of x_0 given x_1 match those of
    the density integrated on a grid."""
    flow = _flow(RationalQuadraticSpline(6), seed=1)
    grid = torch.linspace(-12, 12, 2401, dtype=torch.float64)
    rows = torch.stack([grid, torch.full_like(grid, -0.4)], dim=1)
    target = torch.tensor([True, False]).expand_as(rows)
    generator = torch.Generator().manual_seed(0)
    n_draws = 40_000
    with torch.no_grad():
        density = flow.log_prob(rows, ~target, target).exp()
        density = density / density.sum()
        mean = float((density * grid).sum())
        sd = float((density * (grid - mean) ** 2).sum().sqrt())
        start = rows[:1].expand(n_draws, 2)
        draws, = flow.draws(start, ~target[:1].expand(n_draws, 2),
                            target[:1].expand(n_draws, 2),
                            torch.rand(1, n_draws, generator=generator, dtype=torch.float64),
                            torch.randn(1, n_draws, 2, generator=generator, dtype=torch.float64))
    assert torch.equal(draws[:, 1], start[:, 1])
    assert float(draws[:, 0].mean()) == pytest.approx(mean, abs=4 * sd / n_draws ** 0.5)
    assert float(draws[:, 0].std()) == pytest.approx(sd, rel=0.03)


def _mixed_flow(seed=0):
    """A number (coordinate 0), a three-way category (one-hot, 1-3) and a
    flag (4), the head's weights perturbed so that every class matters."""
    levels = [torch.eye(3, dtype=torch.float64) * 2 - 0.5,
              torch.tensor([[-1.0], [1.0]], dtype=torch.float64)]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = CategoricalHead(5, [[1, 2, 3], [4]], levels, (16,))
        flow = ArbitraryConditionalFlow(5, 4, RationalQuadraticSpline(6), (16,), 3,
                                        categorical=head)
        return _perturb(flow, 0.3, seed), levels


def _mixed_rows(numbers, category, flag, levels):
    n = numbers.numel()
    return torch.cat([numbers[:, None], levels[0][category].expand(n, 3),
                      levels[1][flag].expand(n, 1)], dim=1)


def test_a_mixed_joint_sums_and_integrates_to_one():
    """p(number, category, flag), chained over the two groups, its mixture
    with factorizations into two blocks, and p(number, flag | category) are
    each normalized over the mixed space."""
    flow, levels = _mixed_flow()
    grid = torch.linspace(-40, 40, 8001, dtype=torch.float64)     # heavy tails
    step = float(grid[1] - grid[0])
    every = torch.ones(grid.numel(), 5, dtype=torch.bool)
    none = torch.zeros_like(every)
    given_category = torch.tensor([False, True, True, True, False]).expand_as(every)
    # Blocks that split the number from the categories, and the category from the rest.
    blocks = torch.tensor([[True, False, False, False, False],
                           [False, True, True, True, False]])
    joint = conditional = factorized = 0.0
    with torch.no_grad():
        for category in range(3):
            for flag in range(2):
                rows = _mixed_rows(grid, category, flag, levels)
                joint += float(flow.log_prob(rows, none, every, chain=True).exp().sum()) * step
                factorized += float(flow.factorized_log_prob(rows, every, blocks).exp().sum()
                                    ) * step
                if category == 1:
                    conditional += float(flow.log_prob(rows, given_category, ~given_category)
                                         .exp().sum()) * step
    assert joint == pytest.approx(1.0, abs=2e-3)
    assert conditional == pytest.approx(1.0, abs=2e-3)
    assert factorized == pytest.approx(1.0, abs=2e-3)


def _one_draw_per_row(flow, rows, conditioning):
    """One draw of each row's non-conditioning entries, categories first,
    from randomness seeded at 0."""
    generator = torch.Generator().manual_seed(0)
    n_rows, n_features = rows.shape

    def uniform(*shape):
        return torch.rand(*shape, generator=generator, dtype=torch.float64)

    draws, = flow.draws(rows, conditioning, ~conditioning, uniform(1, n_rows),
                        torch.randn(1, n_rows, n_features, generator=generator,
                                    dtype=torch.float64),
                        uniform(1, n_rows, flow.head.n_groups))
    return draws


def test_categorical_draws_follow_the_chained_probabilities():
    """Draws of the category and the flag given the number: their joint
    frequencies match p(category | number) p(flag | number, category), and
    the most probable category is the largest of p(category | number)."""
    flow, levels = _mixed_flow(seed=1)
    n_draws = 40_000
    rows = _mixed_rows(torch.full((n_draws,), 0.3, dtype=torch.float64), 0, 0, levels)
    conditioning = torch.tensor([True, False, False, False, False]).expand_as(rows)
    with torch.no_grad():
        draws = _one_draw_per_row(flow, rows, conditioning)
        expected = torch.zeros(3, 2, dtype=torch.float64)
        for category in range(3):
            for flag in range(2):
                candidate = _mixed_rows(torch.tensor([0.3], dtype=torch.float64), category,
                                        flag, levels)
                target = ~conditioning[:1] & flow.categorical
                expected[category, flag] = flow.log_prob(candidate, conditioning[:1], target,
                                                         chain=True).exp()[0]
        mode = flow.most_probable_categories(rows[:1], conditioning[:1], ~conditioning[:1])
    assert float(expected.sum()) == pytest.approx(1.0, abs=1e-9)
    categories, flags = flow.head.classes(draws, 0), flow.head.classes(draws, 1)
    frequencies = torch.zeros(3, 2, dtype=torch.float64)
    frequencies.index_put_((categories, flags), torch.ones(n_draws, dtype=torch.float64),
                           accumulate=True)
    torch.testing.assert_close(frequencies / n_draws, expected, atol=0.01, rtol=0)
    assert int(flow.head.classes(mode, 0)[0]) == int(expected.sum(1).argmax())
    torch.testing.assert_close(draws[:, 1:4], levels[0][categories], atol=0, rtol=0)
    torch.testing.assert_close(draws[:, 4:], levels[1][flags], atol=0, rtol=0)
    assert torch.equal(draws[:, 0], rows[:, 0])


def test_random_split_conditions_and_targets_only_observed_entries():
    generator = torch.Generator().manual_seed(0)
    observed = torch.rand(4000, 6, generator=generator) < 0.7
    conditioning, target = random_split(observed, generator)
    assert not (conditioning & target).any()
    assert not ((conditioning | target) & ~observed).any()
    share = conditioning.sum() / observed.sum()
    assert 0.4 < float(share) < 0.6          # r ~ U(0, 1): half on average
    left_out = observed & ~conditioning & ~target
    assert 0.05 < float(left_out.any(1).float().mean()) < 0.25   # a quarter of rows at most


# ----------------------------------------------------------------- imputer
COVARIANCE = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])


@pytest.fixture(scope="module")
def gaussian_fit():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COVARIANCE, 3000)
    missing = rng.rand(*X.shape) < 0.2
    X_missing = np.where(missing, np.nan, X)
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(32, 32), n_components=1, batch_size=128,
                            learning_rate=3e-3, random_state=0).fit(X_missing[:2000])
    return imputer, X[2000:], X_missing[2000:], missing[2000:]


def _conditional_moments(row: np.ndarray, missing: np.ndarray):
    observed = ~missing
    if not observed.any():
        return np.zeros(missing.sum()), np.sqrt(np.diag(COVARIANCE)[missing])
    gain = COVARIANCE[np.ix_(missing, observed)] @ np.linalg.inv(
        COVARIANCE[np.ix_(observed, observed)])
    covariance = (COVARIANCE[np.ix_(missing, missing)]
                  - gain @ COVARIANCE[np.ix_(observed, missing)])
    return gain @ row[observed], np.sqrt(np.diag(covariance))


def test_imputations_recover_gaussian_conditionals(gaussian_fit):
    """The point imputation is near the true conditional mean and the draws'
    90% intervals cover the truth about 90% of the time."""
    imputer, X, X_missing, missing = gaussian_fit
    imputed = imputer.transform(X_missing)
    # 400 draws: the 5-95% percentiles of a few draws are noisy, and a noisy
    # interval covers less than the interval it estimates.
    draws = imputer.sample_imputations(X_missing, 400, random_state=0)
    low, high = np.percentile(draws, [5, 95], axis=0)
    errors, covered = [], []
    for i in np.flatnonzero(missing.any(1)):
        mean, _ = _conditional_moments(X[i], missing[i])
        errors.append(imputed[i, missing[i]] - mean)
        covered.append((low[i, missing[i]] <= X[i, missing[i]])
                       & (X[i, missing[i]] <= high[i, missing[i]]))
    assert np.sqrt(np.mean(np.concatenate(errors) ** 2)) < 0.18
    assert 0.85 < np.mean(np.concatenate(covered)) < 0.95


def test_score_samples_is_the_marginal_of_the_observed_entries(gaussian_fit):
    imputer, X, X_missing, missing = gaussian_fit
    scores = imputer.score_samples(X_missing)
    expected = [multivariate_normal(np.zeros((~m).sum()),
                                    COVARIANCE[np.ix_(~m, ~m)]).logpdf(x[~m])
                if (~m).any() else 0.0 for x, m in zip(X, missing, strict=True)]
    assert abs(np.mean(scores - expected)) < 0.05
    assert np.corrcoef(scores, expected)[0, 1] > 0.95
    assert imputer.score(X_missing) == pytest.approx(np.mean(scores))


def test_score_samples_mixes_factorizations_fixed_at_fit(gaussian_fit):
    """The score's factorizations are fixed at fit (the first k the same
    whatever their number), so a row's score does not depend on the others;
    n_score_splits=0 scores the direct pass alone."""
    imputer = copy.deepcopy(gaussian_fit[0])
    X_missing = gaussian_fit[2]
    scores = imputer.score_samples(X_missing)
    np.testing.assert_allclose(imputer.score_samples(X_missing[::-1])[::-1], scores,
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(imputer.score_samples(X_missing[:7]), scores[:7], rtol=0,
                               atol=1e-5)
    blocks = imputer._score_blocks()
    assert blocks.shape == (32, 3) and 0 < blocks.float().mean() < 1
    assert torch.equal(imputer.set_params(n_score_splits=8)._score_blocks(), blocks[:8])
    direct = imputer.set_params(n_score_splits=0).score_samples(X_missing)
    assert not np.allclose(direct, scores)


def test_score_samples_counts_the_scaling_of_the_observed_columns(gaussian_fit):
    """Rescaling a column by c shifts each row's score by -log c where it is observed."""
    imputer, X, X_missing, missing = gaussian_fit
    rng = np.random.RandomState(1)
    X_train = rng.multivariate_normal(np.zeros(3), COVARIANCE, 600)
    X_train[rng.rand(*X_train.shape) < 0.2] = np.nan
    settings = dict(n_layers=2, hidden_dims=(8,), n_components=1, max_epochs=3, random_state=0)
    plain = ACFlowImputer(**settings).fit(X_train)
    scaled = ACFlowImputer(**settings).fit(X_train * [1.0, 10.0, 1.0])
    difference = (scaled.score_samples(X_missing * [1.0, 10.0, 1.0])
                  - plain.score_samples(X_missing))
    np.testing.assert_allclose(difference, -np.log(10.0) * ~missing[:, 1], atol=1e-8)


def test_a_row_without_observed_entries_scores_zero_and_is_imputed(gaussian_fit):
    imputer = gaussian_fit[0]
    empty = np.full((2, 3), np.nan)
    assert np.array_equal(imputer.score_samples(empty), [0.0, 0.0])
    assert np.isfinite(imputer.transform(empty)).all()


def test_sample_posterior_draws_instead_of_averaging(gaussian_fit):
    imputer, _, X_missing, missing = gaussian_fit
    drawing = ACFlowImputer(**{**imputer.get_params(), "sample_posterior": True})
    drawing.__dict__.update({k: v for k, v in imputer.__dict__.items() if k.endswith("_")})
    drawn, mean = drawing.transform(X_missing), imputer.transform(X_missing)
    assert np.array_equal(drawn[~missing], mean[~missing])
    assert (drawn[missing] != mean[missing]).all()


def test_partial_fit_builds_then_continues(gaussian_fit):
    _, X, X_missing, _ = gaussian_fit
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(8,), n_components=1, random_state=0)
    imputer.partial_fit(X_missing[:500])
    first = imputer.transform(X_missing[500:])
    for start in (500, 0):
        imputer.partial_fit(X_missing[start:start + 500])
    assert imputer.n_iter_ == 3 and len(imputer.history_["train_loss"]) == 3
    assert not np.array_equal(imputer.transform(X_missing[500:]), first)
    with pytest.raises(ValueError, match="features"):
        imputer.partial_fit(X_missing[:, :2])


def test_partial_fit_continues_a_fit():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(8,), max_epochs=2,
                            random_state=0).fit(X)
    epochs = imputer.n_iter_
    imputer.partial_fit(X)
    assert imputer.n_iter_ == epochs + 1
    optimizer = imputer.optimizer_
    imputer.fit(X).partial_fit(X)          # a refit starts a fresh optimizer
    assert imputer.optimizer_ is not optimizer


def test_the_mean_uses_antithetic_pairs_and_one_stratum_per_draw_fixed_at_fit():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(8,), n_draws=3,
                            random_state=0).partial_fit(X)
    noise, uniforms = imputer.mean_noise_, imputer.mean_uniforms_
    assert noise.shape == (4, 3) and np.array_equal(noise[:2], -noise[2:])
    assert np.array_equal(uniforms, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_array_equal(imputer.transform(X), imputer.transform(X))


def test_auto_hidden_dims_widen_beyond_ten_thousand_rows():
    """The flow's "auto" widths and the regressor's widen together."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10_001, 2))
    X[rng.rand(*X.shape) < 0.1] = np.nan
    for rows, widths, regressor_width in ((10_000, (64, 64), 128), (10_001, (256, 256), 256)):
        imputer = ACFlowImputer(n_layers=1, n_components=1, max_epochs=1,
                                random_state=0).fit(X[:rows])
        assert imputer.hidden_dims_ == widths
        assert imputer.module_.base.network[0].out_features == widths[0]
        assert imputer.regressor_.network[0].out_features == regressor_width
    assert ACFlowImputer(hidden_dims=[8], max_epochs=1).fit(X[:100]).hidden_dims_ == (8,)


def test_the_number_of_draws_leaves_the_training_alone():
    """``n_draws`` sets the cost of the conditional mean, not the model: the
    same seed trains the same weights whatever the number of draws."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    few, many = (ACFlowImputer(n_layers=2, hidden_dims=(8,), max_epochs=3, n_draws=n_draws,
                               random_state=0).fit(X) for n_draws in (2, 40))
    for name, weights in few.module_.state_dict().items():
        torch.testing.assert_close(weights, many.module_.state_dict()[name], atol=0, rtol=0)
    np.testing.assert_array_equal(few.score_samples(X), many.score_samples(X))
    assert not np.array_equal(few.transform(X), many.transform(X))


# ------------------------------------------------------------- categories
def test_a_category_is_scored_and_imputed_as_a_choice():
    """With a categorical column the imputer's score of a row observing only
    that column is a probability: the categories' probabilities sum to one
    (to float32 rounding) and follow their frequencies; a hidden category tied to a number
    is recovered, and its draws are categories seen at fit."""
    rng = np.random.RandomState(0)
    colour = rng.choice(["red", "green", "blue"], 1500, p=[0.6, 0.3, 0.1])
    shift = pd.Series(colour).map({"red": 0.0, "green": 3.0, "blue": 6.0}).to_numpy()
    frame = pd.DataFrame({"colour": colour, "size": shift + rng.normal(size=1500)})
    gaps = frame.mask(rng.rand(*frame.shape) < 0.2)
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(32,), max_epochs=40,
                            random_state=0).fit(gaps)
    assert not imputer.dequantization_widths_[imputer.module_.categorical.numpy()].any()
    levels = pd.DataFrame({"colour": ["blue", "green", "red"], "size": np.nan})
    probabilities = np.exp(imputer.score_samples(levels))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(probabilities, [0.1, 0.3, 0.6], atol=0.05)
    hidden = gaps["colour"].isna() & gaps["size"].notna()
    imputed = imputer.transform(gaps)
    assert (imputed["colour"][hidden] == frame["colour"][hidden]).mean() > 0.9
    draws = imputer.sample_imputations(gaps, 2, random_state=0)
    assert all(set(draw["colour"]) == {"red", "green", "blue"} for draw in draws)
    # The head's probabilities near the true posterior, and two draws that
    # disagree as often as two draws from the head's probabilities would.
    likelihood = np.exp(-0.5 * (frame["size"][hidden].to_numpy()[:, None] - [6, 3, 0]) ** 2)
    posterior = likelihood * [0.1, 0.3, 0.6]              # blue, green, red
    posterior /= posterior.sum(1, keepdims=True)
    X_scaled, observed = imputer._modelled_input(gaps[hidden])
    with torch.no_grad():
        head = imputer.module_.head.log_probabilities(
            imputer._to_tensor(imputer._model_values(X_scaled, observed)),
            torch.as_tensor(observed))[0].exp().numpy()
    assert np.abs(head - posterior).sum(1).mean() < 0.3
    expected = 1 - np.square(head).sum(1).mean()
    disagree = (draws[0]["colour"][hidden] != draws[1]["colour"][hidden]).mean()
    assert disagree == pytest.approx(expected, abs=0.06)


def test_the_blend_averages_the_flow_mean_and_the_regression():
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(3), COVARIANCE, 400)
    X[rng.rand(*X.shape) < 0.2] = np.nan
    missing = np.isnan(X)
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(16,), max_epochs=10,
                            random_state=0).fit(X)
    mean, regression, blend = (imputer.set_params(point_estimate=estimate).transform(X)
                               for estimate in ("mean", "regression", "blend"))
    np.testing.assert_allclose(blend[missing], (mean[missing] + regression[missing]) / 2)
    assert not np.allclose(mean[missing], regression[missing])
    for imputed in (mean, regression, blend):
        np.testing.assert_array_equal(imputed[~missing], X[~missing])
    assert len(imputer.history_["regression_train_loss"]) == 10   # every epoch, no stop
    # the regressor is trained after the flow and leaves it alone
    alone = ACFlowImputer(n_layers=2, hidden_dims=(16,), max_epochs=10, point_estimate="mean",
                          random_state=0).fit(X)
    assert alone.regressor_ is None
    np.testing.assert_array_equal(alone.transform(X), mean)


def test_partial_fit_trains_the_regressor_beside_the_flow():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    imputer = ACFlowImputer(n_layers=2, hidden_dims=(8,), random_state=0)
    imputer.partial_fit(X)
    first = [p.detach().clone() for p in imputer.regressor_.parameters()]
    imputer.partial_fit(X)
    assert len(imputer.history_["regression_train_loss"]) == 2
    assert any(not torch.equal(a, b) for a, b in zip(first, imputer.regressor_.parameters(),
                                                     strict=True))
    assert not np.isnan(imputer.transform(X)).any()


def test_the_head_of_a_small_table_trains_for_max_epochs():
    """With too few rows to hold out 50, the head does not stop on its
    training loss (a tolerance no epoch meets would stop it at once); with
    enough rows it stops on the held-out ones."""
    rng = np.random.RandomState(0)
    colour = rng.choice(["red", "green"], 1000)
    frame = pd.DataFrame({"colour": colour, "size": (colour == "red") + rng.normal(size=1000)})
    settings = dict(n_layers=1, hidden_dims=(8,), max_epochs=6, n_iter_no_change=1, tol=10.0,
                    point_estimate="mean", random_state=0)
    small = ACFlowImputer(**settings).fit(frame[:300])
    assert len(small.history_["categories_train_loss"]) == 6
    assert not small.history_["categories_validation_loss"]
    large = ACFlowImputer(**settings).fit(frame)
    assert len(large.history_["categories_validation_loss"]) == 2


def test_the_tilted_self_masking_fit_recovers_a_known_mechanism():
    """Draws from the conditional of the observed values alone, ``p(x | mu)
    (1 - sigmoid(a x + c))`` (by inverting its distribution function on a
    grid), and gaps drawn with the true ``sigmoid(a x + c)``: the fit finds
    ``a`` and ``c``; under gaps that do not depend on the value it finds no
    slope."""
    rng = np.random.RandomState(0)
    n, n_draws, slope, intercept = 4000, 32, 2.0, -0.5
    centre = rng.standard_normal(n)
    value = centre + 0.6 * rng.standard_normal(n)
    gaps = rng.rand(n) < 1 / (1 + np.exp(-(slope * value + intercept)))
    grid = np.linspace(-6, 6, 2001)
    density = (np.exp(-0.5 * ((grid - centre[:, None]) / 0.6) ** 2)
               / (1 + np.exp(slope * grid + intercept)))
    cumulative = np.cumsum(density, axis=1)
    cumulative /= cumulative[:, -1:]
    draws = np.stack([np.interp(rng.rand(n_draws), row, grid) for row in cumulative])
    fitted_slope, fitted_intercept = fit_tilted_self_masking(draws.T, gaps)
    assert abs(fitted_slope - slope) < 0.25 and abs(fitted_intercept - intercept) < 0.25
    unrelated_slope, _ = fit_tilted_self_masking(draws.T, rng.rand(n) < 0.3)
    assert abs(unrelated_slope) < 0.1


def test_self_masking_refuses_the_regression_point_estimate():
    X = np.random.RandomState(0).normal(size=(60, 3))
    X[::3, 0] = np.nan
    with pytest.raises(ValueError, match="point_estimate='regression' cannot follow"):
        ACFlowImputer(missing_mechanism="self-masking", point_estimate="regression",
                      max_epochs=1).fit(X)


def _point_mass_flow(seed=0):
    """Two numbers (0, 1), number 0 with a point mass at 0.5 whose flag is
    coordinate 2, the weights perturbed."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = CategoricalHead(3, [[2]], [torch.tensor([[0.0], [1.0]], dtype=torch.float64)],
                               (16,))
        flow = ArbitraryConditionalFlow(3, 4, RationalQuadraticSpline(6), (16,), 3,
                                        categorical=head, point_masses=([0], [2], [0.5]))
        return _perturb(flow, 0.3, seed)


def test_a_point_mass_and_the_density_off_it_sum_to_one():
    """P(x0 at the mass | x1) plus the integral of the density of x0 off it
    is 1, and the two-block factorizations of (x0, x1) are normalized too; a
    value at the mass is never the flow's target, whatever it holds."""
    flow = _point_mass_flow()
    grid = torch.linspace(-40, 40, 8001, dtype=torch.float64)
    step = float(grid[1] - grid[0])
    n = grid.numel()
    given_x1 = torch.tensor([False, True, False]).expand(n, 3)
    off = torch.stack([grid, torch.full((n,), 0.7, dtype=torch.float64),
                       torch.zeros(n, dtype=torch.float64)], dim=1)
    at = torch.tensor([[0.5, 0.7, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        total = float(flow.log_prob(off, given_x1, ~given_x1).exp().sum()) * step
        total += float(flow.log_prob(at, given_x1[:1], ~given_x1[:1]).exp()[0])
        elsewhere = at.clone()
        elsewhere[0, 0] = 3.0   # a value the flag says is at the mass: not scored
        torch.testing.assert_close(flow.log_prob(elsewhere, given_x1[:1], ~given_x1[:1]),
                                   flow.log_prob(at, given_x1[:1], ~given_x1[:1]))
        # the joint of (x0, x1) under the mixture of factorizations
        x0, x1 = torch.meshgrid(grid[::4], torch.linspace(-40, 40, 801, dtype=torch.float64),
                                indexing="ij")
        cell = 4 * step * 0.1
        blocks = torch.tensor([[True, False, True], [False, True, False]])
        off = torch.stack([x0.flatten(), x1.flatten(), torch.zeros_like(x0.flatten())], dim=1)
        at = torch.stack([torch.full((801,), 0.5), x1[0], torch.ones(801)], dim=1).double()
        joint = sum(float(flow.factorized_log_prob(rows, torch.ones_like(rows, dtype=torch.bool),
                                                   blocks).exp().sum()) * size
                    for rows, size in [*((chunk, cell) for chunk in off.split(200_000)),
                                       (at, 0.1)])
    assert total == pytest.approx(1.0, abs=2e-3)
    assert joint == pytest.approx(1.0, abs=5e-3)


def test_draws_put_the_point_mass_at_its_chance():
    """Drawn given x1, x0 is exactly at its point mass as often as the head
    says, and off it the flow's draw (never at the mass)."""
    flow = _point_mass_flow(seed=1)
    n_draws = 20_000
    rows = torch.tensor([[0.0, 0.7, 0.0]], dtype=torch.float64).expand(n_draws, 3)
    conditioning = torch.tensor([False, True, False]).expand(n_draws, 3)
    with torch.no_grad():
        draws = _one_draw_per_row(flow, rows, conditioning)
        chance = float(flow.point_mass_probabilities(rows[:1], conditioning[:1])[0, 0])
    at = draws[:, 2] == 1.0
    assert 0.05 < chance < 0.95
    assert float(at.double().mean()) == pytest.approx(chance, abs=0.015)
    assert bool((draws[at, 0] == 0.5).all()) and not bool((draws[~at, 0] == 0.5).any())


def _zero_inflated(n, rng):
    """A number, and an amount that is 0 more often where the number is low."""
    x = rng.normal(size=n)
    zero = rng.uniform(size=n) < 1 / (1 + np.exp(2 * x))
    amount = np.where(zero, 0.0, np.exp(rng.normal(1 + 0.5 * x, 0.3)))
    return np.c_[x, amount, x + rng.normal(0, 0.5, n)]


def test_a_point_mass_is_modelled_drawn_and_scored():
    """A zero-inflated column: its zero is found as a point mass, draws are
    exactly 0 about as often as the hidden values are, the mean beats the
    flow without the point mass, and the score counts the zero's
    probability: rescaling the column shifts a row's score by -log c only
    where the amount is observed off the mass."""
    rng = np.random.RandomState(0)
    X = _zero_inflated(1200, rng)
    hidden = rng.uniform(size=X.shape) < 0.2
    X_missing = np.where(hidden, np.nan, X)
    settings = dict(n_layers=2, hidden_dims=(32,), max_epochs=40, random_state=0)
    imputer = ACFlowImputer(**settings).fit(X_missing)
    np.testing.assert_array_equal(imputer.point_mass_coordinates_, [1])
    np.testing.assert_array_equal(imputer.point_mass_values_, [0.0])
    gaps = hidden[:, 1]
    draws = imputer.sample_imputations(X_missing, 10, random_state=0)[:, gaps, 1]
    assert np.mean(draws == 0) == pytest.approx(np.mean(X[gaps, 1] == 0), abs=0.08)
    assert (draws[draws != 0] > 0).all()
    plain = ACFlowImputer(**settings, point_masses=False).fit(X_missing)
    assert plain.point_mass_coordinates_.size == 0
    errors = [np.sqrt(np.mean((model.set_params(point_estimate="mean").transform(X_missing)
                               - X)[gaps, 1] ** 2)) for model in (imputer, plain)]
    assert errors[0] < errors[1]
    scaled = ACFlowImputer(**settings).fit(X_missing * [1.0, 10.0, 1.0])
    difference = (scaled.score_samples(X_missing * [1.0, 10.0, 1.0])
                  - imputer.score_samples(X_missing))
    off_mass = ~hidden[:, 1] & (X[:, 1] != 0)
    np.testing.assert_allclose(difference, -np.log(10.0) * off_mass, atol=1e-6)


def test_point_masses_leave_columns_on_a_grid_and_self_masking_alone():
    rng = np.random.RandomState(0)
    X = _zero_inflated(300, rng)
    X[:, 2] = np.where(rng.uniform(size=300) < 0.5, 0.0, rng.randint(1, 5, 300))   # counts
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    settings = dict(n_layers=2, hidden_dims=(8,), max_epochs=2, random_state=0)
    np.testing.assert_array_equal(ACFlowImputer(**settings).fit(X).point_mass_coordinates_,
                                  [1])
    masked = ACFlowImputer(**settings, missing_mechanism="self-masking").fit(X)
    assert masked.point_mass_coordinates_.size == 0


def test_point_masses_keep_the_imputer_contract():
    """With a point mass: observed entries come back bit for bit, nothing
    leaves the training range, a pickled copy imputes the same, and
    partial_fit finds the point mass in its first chunk and trains on."""
    rng = np.random.RandomState(1)
    X = _zero_inflated(400, rng)
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    settings = dict(n_layers=2, hidden_dims=(8,), max_epochs=3, random_state=0)
    imputer = ACFlowImputer(**settings).fit(X)
    filled = imputer.transform(X)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    assert (filled >= np.nanmin(X, 0)).all() and (filled <= np.nanmax(X, 0)).all()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(imputer)).transform(X), filled)
    chunked = ACFlowImputer(**settings).partial_fit(X[:200]).partial_fit(X[200:])
    np.testing.assert_array_equal(chunked.point_mass_coordinates_, [1])
    assert len(chunked.history_["train_loss"]) == 2
    assert not np.isnan(chunked.transform(X)).any()
