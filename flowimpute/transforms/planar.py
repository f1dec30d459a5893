"""Planar flows (Rezende and Mohamed, 2015): ``y = x + u tanh(w . x + b)``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Transform
from .monotone import monotone_inverse


class Planar(Transform):
    """A planar layer: the identity plus a ``tanh`` ridge along ``w``, scaled by ``u``.

    Invertibility needs ``w . u >= -1``; the layer uses
    ``u_hat = u + (m(w . u) - w . u) w / |w|^2`` with
    ``m(a) = -1 + softplus(a) > -1`` (Rezende and Mohamed's appendix), so
    every value of the parameters is invertible. The log-determinant is
    ``log(1 + (1 - tanh^2(w . x + b)) w . u_hat)``, exact and ``O(d)`` per
    row. There is no closed-form inverse: ``alpha = w . x`` solves the
    strictly increasing scalar equation
    ``alpha + (w . u_hat) tanh(alpha + b) = w . y`` (bracketing and
    safeguarded Newton steps), then ``x = y - u_hat tanh(alpha + b)``.

    With ``context_features``, ``u``, ``w`` and ``b`` are shifted by a linear
    map of the context, which starts at zero: the amortized planar flow of a
    VAE's posterior, whose encoder output is the context.

    Parameters
    ----------
    n_features : int
    context_features : int, default=0
    """

    def __init__(self, n_features: int, context_features: int = 0) -> None:
        super().__init__()
        scale = 1.0 / n_features ** 0.5
        self.u = nn.Parameter(scale * torch.randn(n_features))
        self.w = nn.Parameter(scale * torch.randn(n_features))
        self.b = nn.Parameter(torch.zeros(1))
        self.n_features = n_features
        self.context_features = context_features
        self.context_layer = None
        if context_features:
            self.context_layer = nn.Linear(context_features, 2 * n_features + 1)
            nn.init.zeros_(self.context_layer.weight)
            nn.init.zeros_(self.context_layer.bias)

    def _ridge_parameters(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """``u_hat``, ``w`` (n, d) and ``b`` (n,) for each row."""
        u = self.u.expand_as(x)
        w = self.w.expand_as(x)
        b = self.b.expand(x.shape[0])
        if self.context_layer is not None:
            if context is None:
                raise ValueError(f"this layer needs a context of {self.context_features} "
                                 "features.")
            shift_u, shift_w, shift_b = self.context_layer(context).split(
                [self.n_features, self.n_features, 1], dim=1)
            u, w, b = u + shift_u, w + shift_w, b + shift_b.squeeze(1)
        w_dot_u = (w * u).sum(dim=1, keepdim=True)
        u_hat = u + (F.softplus(w_dot_u) - 1 - w_dot_u) * w / (w * w).sum(
            dim=1, keepdim=True).clamp_min(1e-12)
        return u_hat, w, b

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        u_hat, w, b = self._ridge_parameters(x, context)
        ridge = torch.tanh((w * x).sum(dim=1) + b)
        y = x + u_hat * ridge.unsqueeze(1)
        log_det = torch.log1p((1 - ridge ** 2) * (w * u_hat).sum(dim=1))
        return y, log_det

    @torch.no_grad()
    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        u_hat, w, b = self._ridge_parameters(y, context)
        w_dot_u = (w * u_hat).sum(dim=1)

        def along_w(alpha: Tensor) -> tuple[Tensor, Tensor]:
            ridge = torch.tanh(alpha + b)
            return alpha + w_dot_u * ridge, torch.log1p(w_dot_u * (1 - ridge ** 2))

        alpha = monotone_inverse(along_w, (w * y).sum(dim=1))
        return y - u_hat * torch.tanh(alpha + b).unsqueeze(1)
