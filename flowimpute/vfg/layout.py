"""Where each column of a table sits in the padded sections of a VFG, and back.

A VFG's leaves are ``k`` sections of columns, each padded to the latent width
``m``: a batch of rows becomes a tensor (n, k, m). :class:`SectionLayout`
holds the index maps between the two shapes, which entries are real columns
and which padding, each entry's bounds, and each column's weight in the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


class SectionLayout:
    """Index maps between ``n_columns`` columns and ``k`` sections of width ``m``.

    Parameters
    ----------
    sections : sequence of ndarray of int
        Column positions (``0 .. n_columns - 1``) of each section; each at most
        ``latent_dim`` wide.
    latent_dim : int
        Width ``m`` every section is padded to.
    low, high : ndarray of shape (n_columns,)
        Bounds of each column's values (padding entries are bounded to 0).
    dtype, device
        Of the tensors built.
    """

    def __init__(self, sections: Sequence[np.ndarray], latent_dim: int, low: np.ndarray,
                 high: np.ndarray, dtype: torch.dtype, device: torch.device) -> None:
        n_columns = low.size
        gather = np.full((len(sections), latent_dim), n_columns)
        for t, group in enumerate(sections):
            gather[t, : group.size] = group
        real = gather < n_columns
        self.n_columns = n_columns
        self.gather = torch.as_tensor(gather, device=device)
        self.real = torch.as_tensor(real, device=device)
        self.low = torch.as_tensor(np.append(low, 0.0)[gather], dtype=dtype, device=device)
        self.high = torch.as_tensor(np.append(high, 0.0)[gather], dtype=dtype, device=device)
        self._flat_real = torch.as_tensor(np.flatnonzero(real.ravel()), device=device)
        self._flat_columns = torch.as_tensor(gather.ravel()[real.ravel()], device=device)

    @property
    def padded(self) -> bool:
        """Whether some section is narrower than the latent width."""
        return not bool(self.real.all())

    def leaves(self, values: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """(n, k, m) padded sections of ``values`` (n, n_columns) and the mask
        of their observed real entries."""
        pad = values.new_zeros(values.shape[0], 1)
        leaves = torch.cat([values, pad], dim=1)[:, self.gather]
        entry_observed = torch.cat([observed, pad.bool()], dim=1)[:, self.gather]
        return leaves, entry_observed & self.real

    def gaps(self, entry_observed: Tensor, leaf_visible: Tensor) -> Tensor:
        """Missing real entries of visible (partially observed) sections."""
        return leaf_visible.unsqueeze(2) & ~entry_observed & self.real

    def per_entry(self, per_column: np.ndarray) -> np.ndarray:
        """A per-column array laid out as the padded sections (k, m); padding
        entries get 0."""
        return np.append(per_column, 0)[self.gather.cpu().numpy()]

    def clip(self, leaves: Tensor) -> Tensor:
        """``leaves`` within each entry's bounds."""
        return torch.minimum(torch.maximum(leaves, self.low), self.high)

    def with_padding_noise(self, leaves: Tensor) -> Tensor:
        """``leaves`` with standard normal draws (global torch RNG) in the
        padding entries; real entries unchanged."""
        return torch.where(self.real, leaves, torch.randn_like(leaves))

    def scatter(self, values: Tensor, leaves: Tensor) -> Tensor:
        """A copy of ``values`` (n, n_columns) with every column taken from its
        entry of ``leaves`` (n, k, m)."""
        out = values.clone()
        out[:, self._flat_columns] = leaves.flatten(1)[:, self._flat_real]
        return out


def column_weights(weights, scale: np.ndarray, modelled: np.ndarray,
                   n_features_in: int) -> np.ndarray:
    """Per modelled column, the weight of its reconstruction error, mean 1.

    ``weights`` is "equal", "variance" (each column's variance, ``scale**2``,
    so that squared errors count in the data's units) or one nonnegative
    number per input column, of which the ``modelled`` ones are kept.
    """
    if isinstance(weights, str):
        per_column = scale ** 2 if weights == "variance" else np.ones(modelled.size)
        return per_column / per_column.mean()
    try:
        per_column = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError("column_weights must be 'equal', 'variance' or one "
                         f"number per input column: {error}") from None
    if per_column.shape != (n_features_in,):
        raise ValueError(f"column_weights has shape {per_column.shape}; expected "
                         f"({n_features_in},), one weight per input column.")
    if not np.isfinite(per_column).all() or (per_column < 0).any():
        raise ValueError("column_weights must be finite and nonnegative.")
    per_column = per_column[modelled]
    if not per_column.sum() > 0:
        raise ValueError("column_weights gives every modelled column weight 0; at "
                         "least one column must be reconstructed.")
    return per_column / per_column.mean()
