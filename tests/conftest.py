import numpy as np
import pytest
import torch

from flowimpute.datasets import make_ring_of_gaussians


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture
def ring():
    return lambda n, seed=0: make_ring_of_gaussians(n, random_state=seed)


@pytest.fixture(scope="session")
def correlated():
    """Six columns driven by two latent factors, plus noise."""
    rng = np.random.RandomState(0)
    z = rng.normal(size=(400, 2))
    loadings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.7, 0.7], [1.0, -1.0]])
    return z @ loadings.T + 0.1 * rng.normal(size=(400, 6))
