"""Preprocessing: the column codec that maps a table to model coordinates, and discreteness."""

from .codec import ColumnCodec

__all__ = ["ColumnCodec"]
