"""The section Gaussian of VFGImputer: moments from incomplete rows, exact conditionals."""

import numpy as np
import torch

from flowimpute.vfg.section_gaussian import SectionGaussian

# Two sections padded to width 2: section 0 has two columns, section 1 one.
REAL = torch.tensor([[True, True], [True, False]])


def _joint_covariance(seed):
    """A random covariance per section over (x_0, x_1, d_0, d_1), with the
    padding coordinates (x_1, d_1 of section 1) independent unit variables."""
    rng = np.random.RandomState(seed)
    covariances = []
    for real in REAL.numpy():
        a = rng.normal(size=(4, 4))
        covariance = a @ a.T + 0.5 * np.eye(4)
        keep = np.concatenate([real, real])
        covariance[~keep] = 0
        covariance[:, ~keep] = 0
        covariance[~keep, ~keep] = 1
        covariances.append(covariance)
    return np.array(covariances), rng.normal(size=(2, 4))


def _draw(covariances, means, n_rows, seed):
    rng = np.random.RandomState(seed)
    joint = np.stack([rng.multivariate_normal(mean, covariance, size=n_rows)
                      for mean, covariance in zip(means, covariances, strict=True)], axis=1)
    leaves, decoded = torch.as_tensor(joint[..., :2]), torch.as_tensor(joint[..., 2:])
    observed = torch.as_tensor(rng.rand(n_rows, 2, 2) > 0.3) & REAL
    return leaves, decoded, observed


def _fitted(covariances, means):
    leaves, decoded, observed = _draw(covariances, means, 40_000, 1)
    gaussian = SectionGaussian(REAL).double()
    return gaussian.fit(torch.where(observed, leaves, 0.0), observed, decoded)


def test_moments_from_incomplete_rows_match_the_truth():
    covariances, means = _joint_covariance(0)
    gaussian = _fitted(covariances, means)
    keep = torch.cat([REAL, REAL], dim=1).numpy()
    for section in range(2):
        real = keep[section]
        np.testing.assert_allclose(gaussian.mean[section].numpy()[real], means[section][real],
                                   atol=0.05 * np.sqrt(covariances[section].diagonal().max()))
        fitted = gaussian.covariance[section].numpy()[np.ix_(real, real)]
        truth = covariances[section][np.ix_(real, real)]
        scale = np.sqrt(np.outer(truth.diagonal(), truth.diagonal()))
        assert np.abs(fitted - truth).max() < 0.05 * scale.max()


def test_conditional_mean_and_draws_are_the_gaussian_conditionals():
    covariances, means = _joint_covariance(2)
    gaussian = _fitted(covariances, means)
    sigma, mu = gaussian.covariance.numpy(), gaussian.mean.numpy()
    leaves, decoded, observed = _draw(covariances, means, 5, 3)
    observed[0, 0] = torch.tensor([False, False])   # a wholly hidden section
    leaves = torch.where(observed, leaves, 7.0)     # missing entries are never read
    estimate = gaussian.conditional(leaves, observed, decoded)
    n_draws = 20_000
    noise = torch.as_tensor(np.random.RandomState(4).normal(size=(n_draws, 5, 2, 2)))
    draws = gaussian.conditional(leaves.expand(n_draws, -1, -1, -1),
                                 observed.expand(n_draws, -1, -1, -1),
                                 decoded.expand(n_draws, -1, -1, -1), noise)
    for row in range(5):
        for section in range(2):
            real = REAL[section].numpy()
            known = np.concatenate([observed[row, section].numpy(), real])
            unknown = np.concatenate([real & ~observed[row, section].numpy(), [False, False]])
            joint = np.concatenate([leaves[row, section].numpy(), decoded[row, section].numpy()])
            s, m = sigma[section], mu[section]
            gain = s[np.ix_(unknown, known)] @ np.linalg.inv(s[np.ix_(known, known)])
            mean = m[unknown] + gain @ (joint[known] - m[known])
            spread = s[np.ix_(unknown, unknown)] - gain @ s[np.ix_(known, unknown)]
            got = estimate[row, section].numpy()
            np.testing.assert_allclose(got[unknown[:2]], mean, atol=1e-10)
            # Observed and padding entries come back as given.
            np.testing.assert_array_equal(got[~unknown[:2]], leaves[row, section].numpy()[
                ~unknown[:2]])
            if unknown.any():
                sample = draws[:, row, section].numpy()[:, unknown[:2]]
                np.testing.assert_allclose(sample.mean(0), mean,
                                           atol=0.05 * np.sqrt(spread.diagonal().max()))
                np.testing.assert_allclose(np.cov(sample.T).reshape(spread.shape), spread,
                                           rtol=0.05, atol=0.02 * spread.diagonal().max())


def test_slopes_tilt_the_conditional_by_the_odds_of_going_missing():
    """With self-masking slopes ``a``, the conditional of the unknown entries
    is the Gaussian's reweighted by ``exp(a . x_u)``: the importance-weighted
    mean of untilted draws, which for a Gaussian is its mean plus the
    conditional covariance times ``a``; draws move by the same shift."""
    covariances, means = _joint_covariance(2)
    gaussian = _fitted(covariances, means)
    leaves, decoded, observed = _draw(covariances, means, 5, 3)
    observed[0, 0] = torch.tensor([False, False])   # a wholly hidden section
    slopes = torch.tensor([[0.3, -0.2], [0.4, 0.0]], dtype=torch.float64)
    n_draws = 40_000
    noise = torch.as_tensor(np.random.RandomState(5).normal(size=(n_draws, 5, 2, 2)))
    expand = [t.expand(n_draws, -1, -1, -1) for t in (leaves, observed, decoded)]
    untilted = gaussian.conditional(*expand, noise)
    untilted_mean = gaussian.conditional(leaves, observed, decoded)
    gaussian.slopes.copy_(slopes)
    tilted_mean = gaussian.conditional(leaves, observed, decoded)
    tilted_draws = gaussian.conditional(*expand, noise)
    unknown = (~observed & REAL).double()
    log_weights = (untilted * slopes * unknown).sum(-1)                 # (draws, rows, sections)
    weights = torch.softmax(log_weights, dim=0).unsqueeze(-1)
    reweighted = (weights * untilted).sum(0)
    changed = unknown.bool()
    assert changed.sum() >= 4 and torch.all(tilted_mean[changed] != untilted_mean[changed])
    # importance weights of 40,000 draws: a few percent of Monte Carlo error
    np.testing.assert_allclose(tilted_mean[changed], reweighted[changed], rtol=0.08, atol=0.02)
    np.testing.assert_allclose(tilted_draws.mean(0)[changed], tilted_mean[changed], atol=0.03)
    np.testing.assert_array_equal(tilted_mean[~changed], untilted_mean[~changed])
