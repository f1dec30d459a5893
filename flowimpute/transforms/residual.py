"""Invertible residual blocks ``y = x + g(x)``, dense or masked by a DAG.

Residual flows (Behrmann et al., 2019; Chen et al., 2019) and graphical
residual flows (Mouton and Kroon, 2022): ``g`` is a
:class:`~flowimpute.nn.lipschitz.LipschitzMLP` with ``Lip(g) < 1``, so the
block is invertible by fixed-point iteration and its Jacobian ``I + J_g`` has
a positive determinant.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from ..nn.lipschitz import Linearization, LipschitzMLP
from .base import Transform

LOG_DET_MODES = ("exact", "estimate")


class ResidualBlock(Transform):
    """``y = x + g(x)`` with a contractive ``g``; optionally graphical.

    Log-determinant:

    - With a graph, ``J_g[i, j]`` is zero unless ``j`` is ``i`` or one of its
      parents, so ``I + J_g`` is triangular in a topological order and
      ``log|det| = sum_i log(1 + J_g[i, i])``: exact, at the cost of the
      diagonal alone.
    - Dense, ``log_det="exact"`` forms the Jacobian of every row in closed
      form (a product of the weights and activation slopes) and takes its
      log-determinant: ``O(n d^2 h + n d^3)``.
    - Dense, ``log_det="estimate"`` uses, in training mode, the unbiased
      Russian-roulette power-series estimator of Chen et al. (2019):
      ``log det(I + J) = sum_k (-1)^(k+1) tr(J^k) / k``, the traces by one
      Gaussian Hutchinson probe per row, the first ``n_exact_terms`` terms
      always and each further one with probability ``(1 - p)^m``, weighted
      by the inverse of that probability; gradients flow through the terms
      drawn. It costs one Jacobian-vector product per term. Evaluation mode
      is always exact, so scores are deterministic.

    The inverse iterates ``x <- y - g(x)`` from ``x = y``; ``Lip(g) <= c``
    makes it a contraction whose error shrinks by ``c`` per step or faster.
    It stops when no entry moves by more than ``inverse_tol`` (plus a few
    ulps of the entry) and warns if ``max_inverse_iter`` steps do not get
    there.

    Parameters
    ----------
    n_features : int
    hidden_dims : sequence of int, default=(128,)
        Hidden widths of ``g`` (at least one layer).
    adjacency : array-like of bool, shape (n_features, n_features), optional
        A DAG, ``adjacency[i, j]`` for an edge ``i -> j``: output ``i`` of
        ``g`` then depends only on ``x_i`` and the parents of ``i``.
    lipschitz : float, default=0.97
        Bound on ``Lip(g)``, below 1.
    log_det : {"exact", "estimate"}, default="exact"
        How a dense block computes its log-determinant in training mode.
    n_exact_terms : int, default=2
        Power-series terms the estimator always computes.
    roulette_probability : float, default=0.5
        The estimator's probability ``p`` of stopping after each further term.
    context_features : int, default=0
        Width of a context that shifts the first hidden layer of ``g``.
    context_adjacency : array-like of bool, shape (context_features, n_features), optional
        With ``adjacency``: ``context_adjacency[c, i]`` for an edge from
        context feature ``c`` to feature ``i``, so that output ``i`` depends
        on those context features only (a generating graphical flow
        conditioned on an observation). By default the whole context.
    inverse_tol : float, default=1e-10
    max_inverse_iter : int, default=2000
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int] = (128,), *,
                 adjacency: Tensor | None = None, lipschitz: float = 0.97,
                 log_det: str = "exact", n_exact_terms: int = 2,
                 roulette_probability: float = 0.5, context_features: int = 0,
                 context_adjacency: Tensor | None = None, inverse_tol: float = 1e-10,
                 max_inverse_iter: int = 2000) -> None:
        super().__init__()
        if log_det not in LOG_DET_MODES:
            raise ValueError(f"log_det must be one of {LOG_DET_MODES}, got {log_det!r}.")
        if not 0 < roulette_probability < 1:
            raise ValueError(
                f"roulette_probability must lie in (0, 1), got {roulette_probability}.")
        self.graphical = adjacency is not None
        allowed = None
        if adjacency is not None:
            adjacency = torch.as_tensor(adjacency, dtype=torch.bool)
            allowed = adjacency.T | torch.eye(n_features, dtype=torch.bool)
        allowed_context = None
        if context_adjacency is not None:
            allowed_context = torch.as_tensor(context_adjacency, dtype=torch.bool).T
        self.network = LipschitzMLP(n_features, hidden_dims, lipschitz, allowed,
                                    context_features, allowed_context)
        self.log_det = log_det
        self.n_exact_terms = n_exact_terms
        self.roulette_probability = roulette_probability
        self.inverse_tol = inverse_tol
        self.max_inverse_iter = max_inverse_iter

    @property
    def exact_log_det(self) -> bool:  # type: ignore[override]
        return self.graphical or self.log_det == "exact" or not self.training

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        residual, linearization = self.network(x, context)
        return x + residual, self._log_det(linearization, x)

    def _log_det(self, linearization: Linearization, x: Tensor) -> Tensor:
        if self.graphical:
            return torch.log1p(linearization.jacobian_diagonal()).sum(dim=1)
        if self.exact_log_det:
            identity = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
            return torch.linalg.slogdet(identity + linearization.jacobian())[1]
        return self._estimated_log_det(linearization, x)

    def _estimated_log_det(self, linearization: Linearization, x: Tensor) -> Tensor:
        """One draw of the Russian-roulette estimator (torch's global RNG)."""
        probe = torch.randn(x.shape, dtype=x.dtype, device=x.device)
        uniform = float(torch.rand(()))
        extra_terms = math.floor(math.log(uniform) / math.log(1 - self.roulette_probability)) \
            if uniform > 0 else 0
        power, estimate = probe, x.new_zeros(x.shape[0])
        for k in range(1, self.n_exact_terms + extra_terms + 1):
            power = linearization.jvp(power)
            survival = (1 - self.roulette_probability) ** max(0, k - self.n_exact_terms)
            estimate = estimate + (-1) ** (k + 1) / (k * survival) * (power * probe).sum(dim=1)
        return estimate

    @torch.no_grad()
    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        weights = self.network.weights()
        tolerance = 4 * torch.finfo(y.dtype).eps
        x = y
        for _ in range(self.max_inverse_iter):
            x_next = y - self.network(x, context, weights)[0]
            step = (x_next - x).abs()
            x = x_next
            if bool((step <= self.inverse_tol + tolerance * x.abs()).all()):
                return x
        warnings.warn(
            f"{type(self).__name__}.inverse: the fixed-point iteration did not reach "
            f"inverse_tol={self.inverse_tol} in {self.max_inverse_iter} steps (largest last "
            f"step {float(step.max()):.2e}).", RuntimeWarning, stacklevel=2)
        return x
