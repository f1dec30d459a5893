"""The self-masking option of every imputer that has one, on one test.

``x0`` is missing exactly where it is above 0. Under the ignorable default
the imputations stay near the observed (lower) values; the self-masking model
learns that large ``x0`` go missing and moves the imputations and the draws
up, beyond the observed range where the data say so, within the widened
imputation range."""

import numpy as np
import pytest

from flowimpute import ACFlowImputer, CouplingFlowDensity, FlowImputer, VFGImputer

COVARIANCE = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.3], [0.5, 0.3, 1.0]])

IMPUTERS = {
    "flow": lambda **kw: FlowImputer(
        density=CouplingFlowDensity(n_layers=2, hidden_dims=(16,), max_epochs=10),
        random_state=0, **kw),
    "acflow": lambda **kw: ACFlowImputer(n_layers=2, hidden_dims=(32, 32), n_components=2,
                                         max_epochs=40, random_state=0, **kw),
    "vfg": lambda **kw: VFGImputer(sections=[[0, 1], [2]], hidden_dims=(16,), max_epochs=15,
                                   random_state=0, **kw),
}


@pytest.fixture(scope="module")
def censored():
    X = np.random.RandomState(5).multivariate_normal(np.zeros(3), COVARIANCE, size=2000)
    hidden = X[:, 0] > 0
    return X, np.where(hidden[:, None] & (np.arange(3) == 0), np.nan, X), hidden


@pytest.mark.parametrize("name", sorted(IMPUTERS))
def test_self_masking_moves_imputations_towards_the_hidden_values(name, censored):
    X, X_missing, hidden = censored
    ignorable = IMPUTERS[name]().fit(X_missing)
    self_masking = IMPUTERS[name](missing_mechanism="self-masking").fit(X_missing)
    assert ignorable.missingness_coef_ is None
    assert self_masking.missingness_coef_[0] > 0
    np.testing.assert_array_equal(self_masking.missingness_coef_[1:], 0.0)   # no gaps there

    imputed = self_masking.transform(X_missing)
    np.testing.assert_array_equal(imputed[~hidden], X[~hidden])
    np.testing.assert_array_equal(imputed[:, 1:], X[:, 1:])
    errors_ignorable = ignorable.transform(X_missing)[hidden, 0] - X[hidden, 0]
    errors_self_masking = imputed[hidden, 0] - X[hidden, 0]
    assert errors_self_masking.mean() > errors_ignorable.mean() + 0.2
    assert np.sqrt(np.mean(errors_self_masking ** 2)) < np.sqrt(np.mean(errors_ignorable ** 2))
    assert imputed[hidden, 0].max() > self_masking.data_max_[0]
    low, high = self_masking._imputation_range()
    assert imputed[hidden, 0].max() <= high[0]

    rows = slice(0, 200)
    draws = self_masking.sample_imputations(X_missing[rows], 4, random_state=0)
    ignorable_draws = ignorable.sample_imputations(X_missing[rows], 4, random_state=0)
    assert not np.isnan(draws).any() and (draws[:, :, 0] <= high[0]).all()
    np.testing.assert_array_equal(draws, self_masking.sample_imputations(
        X_missing[rows], 4, random_state=0))
    gaps = hidden[rows]
    assert draws[:, gaps, 0].mean() > ignorable_draws[:, gaps, 0].mean() + 0.2
