"""GAIN, the adversarial baseline of the imputation benchmark."""

import numpy as np

from flowimpute.bench.gain import GAINImputer
from flowimpute.bench.imputation import imputers


def test_gain_fills_gaps_only_and_beats_the_mean(correlated):
    rng = np.random.RandomState(0)
    X = correlated[:600]
    gaps = rng.rand(*X.shape) < 0.2
    X_missing = np.where(gaps, np.nan, X)
    imputer = GAINImputer(n_iterations=1500, random_state=0).fit(X_missing)
    filled = imputer.transform(X_missing)
    np.testing.assert_array_equal(filled[~gaps], X[~gaps])
    assert np.isfinite(filled).all()
    gain_error = np.sqrt(np.mean((filled[gaps] - X[gaps]) ** 2))
    mean_fill = np.where(gaps, np.nanmean(X_missing, axis=0), X)
    mean_error = np.sqrt(np.mean((mean_fill[gaps] - X[gaps]) ** 2))
    assert gain_error < 0.8 * mean_error
    again = GAINImputer(n_iterations=1500, random_state=0).fit(X_missing).transform(X_missing)
    np.testing.assert_array_equal(filled, again)


def test_capped_runs_cut_gain_iterations():
    assert imputers(0, 5)["GAIN"]().n_iterations == 1000
    assert imputers(0, None)["GAIN"]().n_iterations == 10000
