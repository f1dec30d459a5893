"""Flows: a transform onto a base distribution, the base distributions, and stack builders."""

from .builders import (
    autoregressive_transform,
    coupling_transform,
    planar_transform,
    residual_transform,
)
from .distributions import GaussianMixtureBase, StandardLaplace, StandardNormal
from .flow import Flow

__all__ = [
    "Flow",
    "GaussianMixtureBase",
    "StandardLaplace",
    "StandardNormal",
    "autoregressive_transform",
    "coupling_transform",
    "planar_transform",
    "residual_transform",
]
