"""Invertible layers (pure torch): every one returns its output and log-det together."""

from .affine import AffineConstant
from .autoregressive import MADE, MaskedAutoregressive
from .base import Compose, Transform
from .coupling import AffineCoupling
from .linear import LULinear
from .monotone import (
    AffineTransformer,
    DeepDenseSigmoidalTransformer,
    MonotoneTransformer,
    RationalQuadraticSpline,
)
from .permutation import Permutation
from .planar import Planar
from .residual import ResidualBlock

__all__ = [
    "MADE",
    "AffineConstant",
    "AffineCoupling",
    "AffineTransformer",
    "Compose",
    "DeepDenseSigmoidalTransformer",
    "LULinear",
    "MaskedAutoregressive",
    "MonotoneTransformer",
    "Permutation",
    "Planar",
    "RationalQuadraticSpline",
    "ResidualBlock",
    "Transform",
]
