"""flowimpute: missing-value imputation and density estimation with normalizing flows."""

from .density import CouplingFlowDensity, NAFDensity, PlanarFlowDensity, ResidualFlowDensity
from .impute import ACFlowImputer, FlowImputer, SIReNVAE, VAEImputer, VFGEncoder, VFGImputer
from .structure.mask_search import MaskSearch

__version__ = "0.1.0.dev0"

__all__ = [
    "ACFlowImputer",
    "CouplingFlowDensity",
    "FlowImputer",
    "MaskSearch",
    "NAFDensity",
    "PlanarFlowDensity",
    "ResidualFlowDensity",
    "SIReNVAE",
    "VAEImputer",
    "VFGEncoder",
    "VFGImputer",
    "__version__",
]
