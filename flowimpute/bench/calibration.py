"""Calibration of ACFlowImputer: known Gaussian conditionals and marginals,
and held-out coverage and marginal likelihood on real tables.

Run with ``python -m flowimpute.bench.calibration``.

- ``gaussian``: a 6-column Gaussian with a fixed random correlation matrix;
  ``--rows`` training rows and 2,000 test rows, 20% of entries missing
  completely at random in both. Reported: the root mean square distance of
  the point imputation to the true conditional mean, in units of each
  column's standard deviation; the share of missing test entries inside the
  central 90% interval of 100 draws (and the same for the true conditional's
  interval, as the reference); and the mean difference and mean absolute
  difference between ``score_samples`` of the incomplete test rows and the
  closed-form log-density of their observed entries.
- ``real``: California Housing and Gas Turbine (``--rows`` random rows of
  each, split 75/25, z-scored with the training statistics, 20% MCAR in both
  parts). Reported: the 90% interval coverage of the missing test entries,
  and the mean ``score_samples`` of the incomplete test rows beside the
  marginal log-likelihood of the same entries under scikit-learn's
  GaussianMixture (full covariances, the number of components chosen by BIC
  among 1-10) fitted on the complete training rows, which gives the mixture
  the values the imputer never sees.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split

from ..amputation import mcar_mask
from ..datasets import load_dataset
from ..impute import ACFlowImputer
from .report import to_markdown

N_DRAWS = 100
GAUSSIAN_COLUMNS = 6


def gaussian_covariance(n_columns: int = GAUSSIAN_COLUMNS) -> np.ndarray:
    """A fixed random correlation matrix (seed 0) with strong and weak pairs."""
    factors = np.random.RandomState(0).normal(size=(n_columns, n_columns // 2))
    covariance = factors @ factors.T + 0.3 * np.eye(n_columns)
    scale = np.sqrt(np.diag(covariance))
    return covariance / np.outer(scale, scale)


def conditional_gaussian(covariance: np.ndarray, row: np.ndarray,
                         missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviations of the missing entries of a zero-mean
    Gaussian row given its observed ones."""
    observed = ~missing
    if not observed.any():
        return np.zeros(missing.sum()), np.sqrt(np.diag(covariance)[missing])
    gain = covariance[np.ix_(missing, observed)] @ np.linalg.inv(
        covariance[np.ix_(observed, observed)])
    conditional = covariance[np.ix_(missing, missing)] - gain @ covariance[np.ix_(observed,
                                                                                 missing)]
    return gain @ row[observed], np.sqrt(np.diag(conditional))


def interval_coverage(draws: np.ndarray, truth: np.ndarray, missing: np.ndarray) -> float:
    """Share of missing entries inside the central 90% interval of the draws."""
    low, high = np.percentile(draws, [5, 95], axis=0)
    return float(np.mean(((low <= truth) & (truth <= high))[missing]))


def run_gaussian(n_rows: int, seed: int) -> dict:
    covariance = gaussian_covariance()
    rng = np.random.RandomState(seed)
    X = rng.multivariate_normal(np.zeros(len(covariance)), covariance, n_rows + 2000)
    missing = mcar_mask(X, 0.2, rng)
    X_missing = np.where(missing, np.nan, X)
    start = time.perf_counter()
    imputer = ACFlowImputer(random_state=seed).fit(X_missing[:n_rows])
    fit_seconds = time.perf_counter() - start
    X_test, test_missing, X_test_missing = X[n_rows:], missing[n_rows:], X_missing[n_rows:]
    imputed = imputer.transform(X_test_missing)
    draws = imputer.sample_imputations(X_test_missing, N_DRAWS, random_state=seed)
    distances, true_covered, expected = [], [], []
    for row, row_missing, row_imputed in zip(X_test, test_missing, imputed, strict=True):
        observed = ~row_missing
        expected.append(multivariate_normal(np.zeros(observed.sum()), covariance[
            np.ix_(observed, observed)]).logpdf(row[observed]) if observed.any() else 0.0)
        if row_missing.any():
            mean, sd = conditional_gaussian(covariance, row, row_missing)
            distances.append(row_imputed[row_missing] - mean)
            true_covered.append(np.abs(row[row_missing] - mean) <= 1.6449 * sd)
    score_gap = imputer.score_samples(X_test_missing) - np.array(expected)
    return {
        "training rows": n_rows, "epochs": imputer.n_iter_, "fit s": fit_seconds,
        "RMS distance to the true conditional mean (sd)":
            float(np.sqrt(np.mean(np.concatenate(distances) ** 2))),
        "90% coverage of the draws": interval_coverage(draws, X_test, test_missing),
        "90% coverage of the true conditional": float(np.mean(np.concatenate(true_covered))),
        "score_samples - closed form (mean, nats/row)": float(np.mean(score_gap)),
        "|score_samples - closed form| (mean, nats/row)": float(np.mean(np.abs(score_gap))),
    }


def gaussian_mixture_marginal(mixture: GaussianMixture, X: np.ndarray,
                              observed: np.ndarray) -> np.ndarray:
    """Log-density of each row's observed entries under a fitted full-covariance mixture."""
    scores = np.zeros(len(X))
    for pattern in np.unique(observed, axis=0):
        rows = (observed == pattern).all(1)
        if not pattern.any():
            continue
        per_component = [np.log(weight) + multivariate_normal(
            mean[pattern], covariance[np.ix_(pattern, pattern)]).logpdf(X[rows][:, pattern])
            for weight, mean, covariance in zip(mixture.weights_, mixture.means_,
                                                mixture.covariances_, strict=True)]
        scores[rows] = logsumexp(np.reshape(per_component, (len(per_component), -1)), axis=0)
    return scores


def run_real(name: str, n_rows: int, seed: int) -> dict:
    X = load_dataset(name).data.to_numpy(dtype=np.float64)
    rng = np.random.RandomState(seed)
    if len(X) > n_rows:
        X = X[rng.choice(len(X), n_rows, replace=False)]
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    mean, std = X_train.mean(0), X_train.std(0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    train_missing, test_missing = mcar_mask(X_train, 0.2, rng), mcar_mask(X_test, 0.2, rng)
    X_test_missing = np.where(test_missing, np.nan, X_test)
    start = time.perf_counter()
    imputer = ACFlowImputer(random_state=seed).fit(np.where(train_missing, np.nan, X_train))
    fit_seconds = time.perf_counter() - start
    draws = imputer.sample_imputations(X_test_missing, N_DRAWS, random_state=seed)
    mixtures = [GaussianMixture(k, covariance_type="full", random_state=seed).fit(X_train)
                for k in range(1, 11)]
    mixture = min(mixtures, key=lambda m: m.bic(X_train))
    return {
        "table": name, "rows": len(X), "epochs": imputer.n_iter_, "fit s": fit_seconds,
        "90% coverage of the draws": interval_coverage(draws, X_test, test_missing),
        "ACFlowImputer log p(x_obs) (mean)": float(np.mean(
            imputer.score_samples(X_test_missing))),
        f"GaussianMixture({mixture.n_components}) log p(x_obs) (mean)": float(np.mean(
            gaussian_mixture_marginal(mixture, X_test, ~test_missing))),
    }


def _table(record: dict) -> str:
    values = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in record.values()]
    return to_markdown(pd.DataFrame({"quantity": list(record), "value": values}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["gaussian", "real"],
                        choices=["gaussian", "real"])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if "gaussian" in args.parts:
        record = run_gaussian(args.rows, args.seed)
        print(f"\nGaussian, {GAUSSIAN_COLUMNS} columns, 20% MCAR:\n")
        print(_table(record))
    if "real" in args.parts:
        for name in ("california", "gas_turbine"):
            print(f"\n{name}, 20% MCAR, held-out rows:\n")
            print(_table(run_real(name, args.rows, args.seed)))


if __name__ == "__main__":
    main()
