"""Scaling out through joblib onto a dask.distributed cluster (a LocalCluster
of two worker processes stands in for a real one)."""

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from flowimpute import CouplingFlowDensity, MaskSearch


@pytest.fixture(scope="module")
def dask_client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(300, 2))
    return np.hstack([z, np.sin(z[:, :1]) + 0.1 * rng.normal(size=(300, 1)), z[:, 1:] ** 2])


def test_grid_search_on_the_cluster_matches_the_local_run(dask_client, data):
    def search(n_jobs):
        return GridSearchCV(
            CouplingFlowDensity(hidden_dims=(8,), max_epochs=3, random_state=0),
            {"n_layers": [1, 2, 4]}, cv=3, n_jobs=n_jobs)

    local = search(None).fit(data)
    with joblib.parallel_backend("dask"):
        remote = search(-1).fit(data)
    assert len(dask_client.scheduler_info()["workers"]) == 2
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-10)


def test_mask_search_offspring_on_the_cluster_match_the_local_run(dask_client, data):
    def fit(n_jobs):
        search = MaskSearch(search_iter=4, search_steps=5, n_offspring=2, n_jobs=n_jobs)
        return CouplingFlowDensity(n_layers=2, hidden_dims=(8,), mask=search, max_epochs=2,
                                   random_state=0).fit(data)

    local = fit(None)
    with joblib.parallel_backend("dask"):
        remote = fit(2)
    np.testing.assert_array_equal(remote.masks_, local.masks_)
    np.testing.assert_allclose(remote.score_samples(data), local.score_samples(data),
                               rtol=1e-10)
