"""Torch models built from transforms."""

from .flow import Flow, coupling_transform

__all__ = ["Flow", "coupling_transform"]
