"""Flow density estimators with the scikit-learn API: one module per family."""

from ._base import BaseFlowDensity
from .coupling import CouplingFlowDensity
from .naf import NAFDensity
from .planar import PlanarFlowDensity
from .residual import ResidualFlowDensity

__all__ = ["BaseFlowDensity", "CouplingFlowDensity", "NAFDensity", "PlanarFlowDensity",
           "ResidualFlowDensity"]
