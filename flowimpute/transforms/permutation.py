"""Fixed permutations of the features."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Transform


class Permutation(Transform):
    """Reorder features: ``y[:, i] = x[:, permutation[i]]`` (log-det 0).

    Parameters
    ----------
    permutation : sequence of int
        A permutation of ``range(n_features)``.
    """

    def __init__(self, permutation) -> None:
        super().__init__()
        permutation = torch.as_tensor(permutation, dtype=torch.long)
        n_features = permutation.numel()
        if not torch.equal(torch.sort(permutation).values, torch.arange(n_features)):
            raise ValueError(
                f"permutation must contain each of 0..{n_features - 1} exactly once, "
                f"got {permutation.tolist()}."
            )
        self.register_buffer("permutation", permutation)
        self.register_buffer("inverse_permutation", torch.argsort(permutation))

    @classmethod
    def reverse(cls, n_features: int) -> Permutation:
        """The permutation that reverses the feature order."""
        return cls(torch.arange(n_features - 1, -1, -1))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x[:, self.permutation], x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        return y[:, self.inverse_permutation]
