"""Piecewise-linear encoding of numeric inputs, for networks that read tables.

A multilayer perceptron on standardized numbers must build every threshold
and bend of its function out of its first layer's ramps, which it does
poorly on tables: a column's heavy tail spends the input's range on a few
rows, and the steps that a tree finds with one split (a price band, a zero
amount) take many units. Encoding each number by where it falls among its
column's quantiles (Gorishniy, Rubachev and Babenko, "On Embeddings for
Numerical Features in Tabular Deep Learning", NeurIPS 2022) gives the
network those steps at the first layer: the ``t``-th output is 0 below the
bin, 1 above it and linear within it, so the encoding is continuous,
monotone and spends its resolution where the rows are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class PiecewiseLinearEncoding(nn.Module):
    """``x_j -> (clip((x_j - b_{j,t-1}) / (b_{j,t} - b_{j,t-1}), 0, 1))_t``
    for the chosen coordinates ``j`` of a row, with bin edges ``b_j`` at
    quantiles of the column.

    A column with fewer distinct quantiles than bins (a count, a column of
    a few values) has its surplus bins at ``+inf``: they encode 0. Entries
    that are not present encode 0 in every bin (the reader sees the
    presence indicators beside them).

    Parameters
    ----------
    coordinates : sequence of int
        The row's coordinates to encode.
    edges : ndarray of shape (len(coordinates), n_bins + 1)
        Each coordinate's increasing bin edges (``+inf`` past its last).
    """

    def __init__(self, coordinates, edges: np.ndarray) -> None:
        super().__init__()
        edges = np.asarray(edges, dtype=np.float64)
        if edges.ndim != 2 or edges.shape[0] != len(coordinates) or edges.shape[1] < 2:
            raise ValueError(f"PiecewiseLinearEncoding needs edges of shape "
                             f"({len(coordinates)}, n_bins + 1), got {edges.shape}.")
        low, high = edges[:, :-1], edges[:, 1:]
        finite = np.isfinite(high)
        width = np.subtract(high, low, out=np.ones_like(high), where=finite)
        self.register_buffer("coordinates", torch.as_tensor(coordinates, dtype=torch.long))
        self.register_buffer("low", torch.as_tensor(np.where(finite, low, np.inf)))
        self.register_buffer("inverse_width", torch.as_tensor(1.0 / width))

    @classmethod
    def from_quantiles(cls, values: np.ndarray, present: np.ndarray, coordinates,
                       n_bins: int) -> PiecewiseLinearEncoding:
        """Edges at ``n_bins + 1`` evenly spaced quantiles of the present
        entries of each coordinate (ties merged)."""
        edges = np.full((len(coordinates), n_bins + 1), np.inf)
        levels = np.linspace(0.0, 1.0, n_bins + 1)
        for row, coordinate in enumerate(coordinates):
            column = values[present[:, coordinate], coordinate]
            if column.size == 0:
                continue
            distinct = np.unique(np.quantile(column, levels))
            edges[row, :distinct.size] = distinct
        return cls(coordinates, edges)

    @property
    def width(self) -> int:
        """Outputs: bins times coordinates."""
        return self.low.numel()

    def forward(self, x: Tensor, present: Tensor) -> Tensor:
        """The encoding of the chosen coordinates of ``x`` (n, width), 0
        where they are not ``present``."""
        values = x[:, self.coordinates].unsqueeze(2)
        low, scale = self.low.to(x.dtype), self.inverse_width.to(x.dtype)
        position = torch.nan_to_num((values - low) * scale, nan=0.0, posinf=1.0, neginf=0.0)
        encoded = position.clamp(0.0, 1.0) * present[:, self.coordinates].unsqueeze(2).to(x.dtype)
        return encoded.flatten(1)
