"""Invertible layers (pure torch): every one returns its output and log-det together."""

from .affine import AffineConstant
from .base import Compose, Transform
from .coupling import AffineCoupling
from .linear import LULinear
from .permutation import Permutation

__all__ = ["AffineConstant", "AffineCoupling", "Compose", "LULinear", "Permutation", "Transform"]
