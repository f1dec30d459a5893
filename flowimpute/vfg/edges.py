"""The edge flows of a VFG tree, all edges evaluated in one batched call.

Every child-to-parent edge has the same architecture (an LU linear map, then
affine couplings over alternating halves of the coordinates), so their
parameters are stacked along a leading edge axis and a whole level of the tree
is encoded or decoded with batched matrix products: one call per level, not
one per edge and layer, so small edges cost compute rather than Python
dispatch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..nn.mlp import ACTIVATIONS, IN_PLACE_ACTIVATIONS


class EdgeFlows(nn.Module):
    """``n_edges`` independent invertible flows on ``R^latent_dim``.

    Flow ``e`` maps ``x`` to ``couplings_e(x W_e^T + b_e)``: ``W_e = P_e L_e
    U_e`` is an invertible linear map in LU form that starts as a random
    rotation (drawn from the global torch RNG, which estimators seed), so the
    identity-initialized couplings after it start in different directions;
    coupling ``l`` transforms the first half of the coordinates (even ``l``)
    or the second half (odd ``l``) by ``x * exp(s) + t``, with ``s, t`` from
    an MLP of the other half, ``s = bound * tanh(raw / bound)``, and a
    zero-initialized last layer.

    Inputs and outputs are stacked by edge: ``x[i]`` (rows, latent_dim) goes
    through flow ``edges[i]``.

    Parameters
    ----------
    n_edges : int
        Number of flows.
    latent_dim : int
        Dimension of every flow (at least 2).
    n_coupling_layers : int
        Couplings per flow.
    hidden_dims : sequence of int
        Hidden widths of each coupling's conditioner.
    activation : {"relu", "tanh", "silu", "elu"}
        Conditioner non-linearity.
    log_scale_bound : float
        Bound on ``|s|``.
    """

    def __init__(
        self,
        n_edges: int,
        latent_dim: int,
        n_coupling_layers: int,
        hidden_dims: Sequence[int],
        activation: str,
        log_scale_bound: float,
    ) -> None:
        super().__init__()
        if latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2, got {latent_dim}.")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
        if log_scale_bound <= 0:
            raise ValueError(f"log_scale_bound must be > 0, got {log_scale_bound}.")
        self.n_edges = n_edges
        self.latent_dim = latent_dim
        self.half = latent_dim // 2
        self.log_scale_bound = float(log_scale_bound)
        self.activation = IN_PLACE_ACTIVATIONS.get(activation) or ACTIVATIONS[activation]()
        self._init_linear(n_edges, latent_dim)
        self.couplings = nn.ModuleList()
        for layer in range(n_coupling_layers):
            n_transformed = self.half if layer % 2 == 0 else latent_dim - self.half
            widths = [latent_dim - n_transformed, *hidden_dims, 2 * n_transformed]
            self.couplings.append(_BatchedMLP(n_edges, widths))

    def _init_linear(self, n_edges: int, m: int) -> None:
        rotation, _ = torch.linalg.qr(torch.randn(n_edges, m, m, dtype=torch.float64))
        permutation, lower, upper = torch.linalg.lu(rotation)
        diagonal = torch.diagonal(upper, dim1=-2, dim2=-1)
        dtype = torch.get_default_dtype()
        self.register_buffer("permutation", permutation.to(dtype))
        self.register_buffer("sign", torch.sign(diagonal).to(dtype))
        self.lower = nn.Parameter(torch.tril(lower, -1).to(dtype))
        self.upper = nn.Parameter(torch.triu(upper, 1).to(dtype))
        self.log_diagonal = nn.Parameter(torch.log(diagonal.abs()).to(dtype))
        self.bias = nn.Parameter(torch.zeros(n_edges, m, dtype=dtype))

    def _lu_factors(self, edges: Tensor) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.latent_dim, dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower[edges], -1) + eye
        diagonal = self.sign[edges] * torch.exp(self.log_diagonal[edges])
        upper = torch.triu(self.upper[edges], 1) + torch.diag_embed(diagonal)
        return lower, upper

    def _halves(self, layer: int, x: Tensor) -> tuple[Tensor, Tensor]:
        """(transformed, conditioning) coordinates of coupling ``layer``."""
        first, second = x[..., : self.half], x[..., self.half:]
        return (first, second) if layer % 2 == 0 else (second, first)

    def _join(self, layer: int, transformed: Tensor, conditioning: Tensor) -> Tensor:
        parts = (transformed, conditioning) if layer % 2 == 0 else (conditioning, transformed)
        return torch.cat(parts, dim=-1)

    def _scale_and_shift(self, layer: int, conditioning: Tensor,
                         edges: Tensor) -> tuple[Tensor, Tensor]:
        raw_log_scale, shift = self.couplings[layer](
            conditioning, edges, self.activation).chunk(2, dim=-1)
        bound = self.log_scale_bound
        return bound * torch.tanh(raw_log_scale / bound), shift

    def forward(self, x: Tensor, edges: Tensor) -> Tensor:
        """Push ``x[i]`` through flow ``edges[i]``.

        Parameters
        ----------
        x : Tensor of shape (len(edges), n_rows, latent_dim)
        edges : LongTensor of shape (len(edges),)

        Returns
        -------
        y : Tensor of the shape of ``x``
        """
        edges = edges.to(self.bias.device)
        lower, upper = self._lu_factors(edges)
        weight = self.permutation[edges] @ lower @ upper
        y = x @ weight.transpose(-1, -2) + self.bias[edges].unsqueeze(1)
        for layer in range(len(self.couplings)):
            transformed, conditioning = self._halves(layer, y)
            log_scale, shift = self._scale_and_shift(layer, conditioning, edges)
            y = self._join(layer, transformed * torch.exp(log_scale) + shift, conditioning)
        return y

    def inverse(self, y: Tensor, edges: Tensor) -> Tensor:
        """Exact inverse of :meth:`forward` (same shapes)."""
        edges = edges.to(self.bias.device)
        x = y
        for layer in reversed(range(len(self.couplings))):
            transformed, conditioning = self._halves(layer, x)
            log_scale, shift = self._scale_and_shift(layer, conditioning, edges)
            x = self._join(layer, (transformed - shift) * torch.exp(-log_scale), conditioning)
        lower, upper = self._lu_factors(edges)
        rhs = self.permutation[edges].transpose(-1, -2) @ (
            x - self.bias[edges].unsqueeze(1)).transpose(-1, -2)
        z = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, z, upper=True).transpose(-1, -2)


class _BatchedMLP(nn.Module):
    """One MLP per edge, applied with batched matrix products. Hidden layers
    are initialized as :class:`torch.nn.Linear` is; the last layer is zero.

    A layer with one input (the conditioner of a 2-wide coupling reads one
    coordinate) is an outer product, computed by broadcasting: about 4x
    faster than a batched matrix product with an inner dimension of 1.
    """

    def __init__(self, n_edges: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            bound = 1.0 / math.sqrt(fan_in) if index < len(widths) - 2 else 0.0
            self.weights.append(nn.Parameter(
                torch.empty(n_edges, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(
                torch.empty(n_edges, 1, fan_out).uniform_(-bound, bound)))

    def forward(self, h: Tensor, edges: Tensor,
                activation: Callable[[Tensor], Tensor]) -> Tensor:
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if weight.shape[1] == 1:
                h = torch.addcmul(bias[edges], h, weight[edges])
            else:
                h = torch.baddbmm(bias[edges], h, weight[edges])
            if index < last:
                h = activation(h)
        return h
