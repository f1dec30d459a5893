"""Imputers with the scikit-learn API: one module per imputer, shared machinery in ``_base``."""

from .acflow_imputer import ACFlowImputer
from .flow_imputer import FlowImputer
from .siren_vae import SIReNVAE
from .vae_imputer import VAEImputer
from .vfg_encoder import VFGEncoder
from .vfg_imputer import VFGImputer

__all__ = ["ACFlowImputer", "FlowImputer", "SIReNVAE", "VAEImputer", "VFGEncoder", "VFGImputer"]
