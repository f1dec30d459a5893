"""Data helpers shared by several test modules."""

import numpy as np
import torch


def with_gaps(X, fraction, seed):
    """Copy of ``X`` with each entry set to NaN with probability ``fraction``."""
    X = X.copy()
    X[np.random.RandomState(seed).rand(*X.shape) < fraction] = np.nan
    return X


def perturbed(transform, seed=0, scale=0.5):
    """``transform`` in float64 with every parameter moved off its (often
    identity) initialization by Gaussian noise of ``scale``."""
    generator = torch.Generator().manual_seed(seed)
    transform = transform.double()
    with torch.no_grad():
        for parameter in transform.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator,
                                               dtype=parameter.dtype))
    return transform
