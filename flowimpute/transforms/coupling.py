"""Affine coupling layer with an arbitrary binary mask."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..nn.mlp import make_mlp
from .base import Transform


class AffineCoupling(Transform):
    """Affine coupling: transform some features conditioned on the others.

    With ``A`` the features where ``mask == 1`` and ``B`` those where
    ``mask == 0`` (the notation of the structure-search paper)::

        y_B = x_B
        y_A = x_A * exp(s(x_B)) + t(x_B)

    ``s`` and ``t`` come from one MLP conditioner. The log-scale is bounded,
    ``s = bound * tanh(raw / bound)``, so one step of training cannot blow the
    flow up; the conditioner's last layer is zero-initialized, so the layer
    starts as the identity.

    Parameters
    ----------
    mask : sequence of {0, 1}
        1 marks a transformed feature, 0 a conditioning feature. Both kinds
        must be present.
    hidden_dims : sequence of int, default=(64,)
        Hidden widths of the conditioner.
    activation : {"relu", "tanh", "silu", "elu"}, default="relu"
        Conditioner non-linearity.
    log_scale_bound : float, default=3.0
        Bound on ``|s|``.
    context_features : int, default=0
        Width of the context the conditioner also reads (``s`` and ``t``
        then depend on ``x_B`` and the context).
    """

    def __init__(
        self,
        mask: Sequence[int] | Tensor,
        hidden_dims: Sequence[int] = (64,),
        activation: str = "relu",
        log_scale_bound: float = 3.0,
        context_features: int = 0,
    ) -> None:
        super().__init__()
        mask = torch.as_tensor(mask).flatten()
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must hold only 0 and 1, got {mask.tolist()}.")
        transformed = torch.nonzero(mask == 1).flatten()
        conditioning = torch.nonzero(mask == 0).flatten()
        if transformed.numel() == 0 or conditioning.numel() == 0:
            raise ValueError(
                "A coupling mask needs at least one transformed (1) and one "
                f"conditioning (0) feature, got {mask.tolist()}."
            )
        if log_scale_bound <= 0:
            raise ValueError(f"log_scale_bound must be > 0, got {log_scale_bound}.")
        self.register_buffer("transformed", transformed)
        self.register_buffer("conditioning", conditioning)
        self.log_scale_bound = float(log_scale_bound)
        self.context_features = context_features
        self.conditioner = make_mlp(
            conditioning.numel() + context_features, hidden_dims, 2 * transformed.numel(),
            activation,
        )

    def _scale_and_shift(self, x_conditioning: Tensor,
                         context: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.context_features:
            if context is None:
                raise ValueError(f"this coupling needs a context of {self.context_features} "
                                 "features.")
            x_conditioning = torch.cat([x_conditioning, context], dim=1)
        raw_log_scale, shift = self.conditioner(x_conditioning).chunk(2, dim=1)
        bound = self.log_scale_bound
        return bound * torch.tanh(raw_log_scale / bound), shift

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._scale_and_shift(x[:, self.conditioning], context)
        y_transformed = x[:, self.transformed] * torch.exp(log_scale) + shift
        return x.index_copy(1, self.transformed, y_transformed), log_scale.sum(dim=1)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        log_scale, shift = self._scale_and_shift(y[:, self.conditioning], context)
        x_transformed = (y[:, self.transformed] - shift) * torch.exp(-log_scale)
        return y.index_copy(1, self.transformed, x_transformed)
