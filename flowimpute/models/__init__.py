"""Torch models built from transforms."""

from .flow import Flow, autoregressive_transform, coupling_transform

__all__ = ["Flow", "autoregressive_transform", "coupling_transform"]
