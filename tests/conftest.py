import numpy as np
import pytest
import torch


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


def ring_of_gaussians(n_samples, n_modes=6, radius=2.0, std=0.25, seed=0):
    """Mixture of isotropic Gaussians evenly spaced on a circle."""
    rng = np.random.RandomState(seed)
    angles = 2 * np.pi * rng.randint(n_modes, size=n_samples) / n_modes
    centers = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    return centers + std * rng.normal(size=(n_samples, 2))


@pytest.fixture
def ring():
    return ring_of_gaussians
