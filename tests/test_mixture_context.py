"""The Gaussian mixture that ACFlowImputer's regressor reads: its transform,
its conditional mean, and what the regressor makes of it."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.preprocessing import PowerTransformer

from flowimpute import ACFlowImputer
from flowimpute.flows.mixture_context import MixtureConditionalMean
from flowimpute.inference.mixture_copula import yeo_johnson


@pytest.mark.parametrize("exponent", [-1.0, 0.0, 1e-10, 0.5, 1.0, 2.0, 2.0 + 1e-10, 3.0])
def test_yeo_johnson_is_scikit_learns(exponent):
    x = np.linspace(-5, 5, 41)[:, None]
    power = PowerTransformer(standardize=False).fit(x)
    power.lambdas_ = np.array([exponent])
    np.testing.assert_allclose(
        yeo_johnson(torch.as_tensor(x), torch.as_tensor([exponent])).numpy(),
        power.transform(x), rtol=1e-7, atol=1e-9)


def test_the_conditional_mean_of_one_component_is_the_floored_regression():
    """Complete rows, one component: the mean is the regression of the hidden
    coordinate on the given ones in scikit-learn's Yeo-Johnson coordinates,
    under their covariance with a tenth of each variance added (the floor)."""
    rng = np.random.RandomState(0)
    covariance = np.array([[1.0, 0.8, 0.2], [0.8, 1.0, 0.5], [0.2, 0.5, 1.0]])
    X = np.exp(rng.multivariate_normal(np.zeros(3), covariance, 2000) / 2)   # skewed
    context = MixtureConditionalMean([0, 1, 2], 1).fit(
        torch.as_tensor(X), torch.ones(X.shape, dtype=torch.bool), 0)
    Z = PowerTransformer().fit_transform(X)
    floored = np.cov(Z.T, bias=True) + 0.1 * np.eye(3)
    gain = floored[1, [0, 2]] @ np.linalg.inv(floored[np.ix_([0, 2], [0, 2])])
    given = torch.tensor([[True, False, True]]).expand(5, 3)
    mean = context(torch.as_tensor(X[:5]), given).numpy()
    np.testing.assert_allclose(mean[:, 1], Z[:5, [0, 2]] @ gain, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mean[:, [0, 2]], Z[:5, [0, 2]], rtol=1e-6, atol=1e-8)


def _clusters(n_rows, seed):
    """Six columns, three well-separated clusters: a hidden column's
    conditional mean switches with the cluster the others point to."""
    rng = np.random.RandomState(seed)
    centers = np.random.RandomState(10).normal(scale=3.0, size=(3, 6))
    return centers[rng.randint(3, size=n_rows)] + 0.3 * rng.normal(size=(n_rows, 6))


def test_the_regressor_reading_the_mixture_imputes_clusters_better():
    X_train, X_test = _clusters(300, 0), _clusters(300, 1)
    X_train[np.random.RandomState(2).rand(*X_train.shape) < 0.2] = np.nan
    hidden = np.random.RandomState(3).rand(*X_test.shape) < 0.3
    params = dict(point_estimate="regression", max_epochs=20, random_state=0)
    errors = {n: np.mean((ACFlowImputer(n_mixture_components=n, **params).fit(X_train)
                          .transform(np.where(hidden, np.nan, X_test))[hidden]
                          - X_test[hidden]) ** 2) for n in (0, 3)}
    assert errors[3] < 0.7 * errors[0]


def test_the_mixture_covers_the_continuous_columns_only():
    rng = np.random.RandomState(0)
    table = pd.DataFrame({
        "amount": np.where(rng.rand(300) < 0.4, 0.0, rng.gamma(2.0, size=300)),   # point mass
        "size": rng.normal(size=300),
        "kind": pd.Categorical(rng.choice(["a", "b", "c"], 300)),
        "weight": rng.normal(size=300),
    })
    table.loc[rng.rand(300) < 0.2, "size"] = np.nan
    fitted = ACFlowImputer(max_epochs=2, random_state=0).fit(table)
    continuous = np.flatnonzero(~fitted.module_.categorical.numpy())
    np.testing.assert_array_equal(fitted.mixture_context_.coordinates.numpy(), continuous)
    assert continuous.size == 3 and fitted.point_mass_coordinates_.size == 1
    n = fitted.module_.categorical.numel()
    assert fitted.regressor_.network[0].in_features == 2 * n + 3
    none = ACFlowImputer(max_epochs=2, n_mixture_components=0, random_state=0).fit(table)
    assert none.mixture_context_ is None
    assert none.regressor_.network[0].in_features == 2 * n
    assert ACFlowImputer(max_epochs=2, point_estimate="mean", random_state=0).fit(
        table).mixture_context_ is None


def test_auto_reads_no_mixture_beyond_the_row_cap_and_an_int_reads_one(monkeypatch):
    import flowimpute.impute.acflow_imputer as acflow

    monkeypatch.setattr(acflow, "MIXTURE_MAX_ROWS", 100)
    X = np.random.RandomState(0).normal(size=(101, 3))
    assert ACFlowImputer(max_epochs=1, random_state=0).fit(X).mixture_context_ is None
    small = ACFlowImputer(max_epochs=1, random_state=0).fit(X[:100]).mixture_context_
    assert small.copula.mixture.n_components == acflow.AUTO_MIXTURE_COMPONENTS
    chosen = ACFlowImputer(max_epochs=1, n_mixture_components=3, random_state=0).fit(X)
    assert chosen.mixture_context_.copula.mixture.n_components == 3
    assert chosen.regressor_.network[0].in_features == 2 * 3 + 3
