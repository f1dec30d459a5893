"""Learnable invertible linear map in LU form."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Transform


class LULinear(Transform):
    """``y = x W^T + b`` with ``W = P L U``, invertible by construction.

    ``P`` is a fixed permutation, ``L`` unit lower-triangular, ``U``
    upper-triangular with diagonal ``sign * exp(log_diagonal)``; so
    ``log|det W| = sum(log_diagonal)`` costs nothing and the inverse is two
    triangular solves. It starts as a random rotation (drawn from the global
    torch RNG, which estimators seed), which turns the identity-initialized
    couplings that follow it in different directions.

    Parameters
    ----------
    n_features : int
        Dimension of the rows.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        rotation, _ = torch.linalg.qr(torch.randn(n_features, n_features, dtype=torch.float64))
        permutation, lower, upper = torch.linalg.lu(rotation)
        diagonal = torch.diagonal(upper)
        self.register_buffer("permutation", permutation.to(torch.get_default_dtype()))
        self.register_buffer("sign", torch.sign(diagonal).to(torch.get_default_dtype()))
        self.lower = nn.Parameter(torch.tril(lower, -1).to(torch.get_default_dtype()))
        self.upper = nn.Parameter(torch.triu(upper, 1).to(torch.get_default_dtype()))
        self.log_diagonal = nn.Parameter(torch.log(diagonal.abs()).to(torch.get_default_dtype()))
        self.bias = nn.Parameter(torch.zeros(n_features))

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.lower.shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign * torch.exp(self.log_diagonal))
        return lower, upper

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        lower, upper = self._factors()
        weight = self.permutation @ lower @ upper
        return x @ weight.T + self.bias, self.log_diagonal.sum().expand(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        lower, upper = self._factors()
        rhs = self.permutation.T @ (y - self.bias).T
        z = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, z, upper=True).T
