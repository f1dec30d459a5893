"""A VAE of incomplete rows, fitted by the importance-weighted bound on observed entries.

MIWAE (Mattei and Frellsen, 2019): the encoder reads a row with its missing
entries set to zero, and its mask; the decoder gives an independent
likelihood per column given the latent code ``z``; the bound

``log p(x_o) >= E[log (1/K) sum_k p(x_o | z_k) p(z_k) / q(z_k | x_o)]``

scores observed entries only, so the model is fitted on incomplete data
directly. The posterior ``q`` is a diagonal Gaussian, optionally followed by
planar or residual layers whose parameters follow the encoder's output
(an amortized flow posterior).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..nn.mlp import make_mlp
from ..transforms import Compose, Planar, ResidualBlock, Transform
from .importance import ImportanceVAE, standard_normal_log_prob

POSTERIOR_FLOWS = ("none", "planar", "residual")


def _latent_flow(kind: str, latent_dim: int, n_layers: int,
                 context_features: int) -> Transform | None:
    """Planar or residual layers over the latent code (None for "none");
    residual blocks compute their exact log-determinant (latent codes are small)."""
    if kind == "planar":
        return Compose(*(Planar(latent_dim, context_features) for _ in range(n_layers)))
    if kind == "residual":
        return Compose(*(ResidualBlock(latent_dim, (64,), context_features=context_features)
                         for _ in range(n_layers)))
    return None


class MIWAE(ImportanceVAE):
    """Encoder, decoder and optional flow posterior of a missing-data VAE.

    Parameters
    ----------
    n_features, latent_dim : int
    hidden_dims : sequence of int
        Hidden widths of the encoder and of the decoder.
    activation : str
    likelihood : {"gaussian", "student_t"}
        Per-column likelihood; its location, scale (and degrees of freedom)
        come from the decoder.
    posterior_flow : {"none", "planar", "residual"}
    n_flow_layers : int
        Layers of the posterior flow, whose context is the encoder's output,
        and of the prior flow.
    prior_flow : {"none", "planar", "residual"}, default="none"
        A flow prior: ``log p(z) = log N(f(z)) + log |det df/dz|``.
    self_masking : bool, default=False
        See :class:`~flowimpute.vae.importance.ImportanceVAE`.
    """

    def __init__(self, n_features: int, latent_dim: int, hidden_dims: Sequence[int],
                 activation: str, likelihood: str, posterior_flow: str,
                 n_flow_layers: int, prior_flow: str = "none",
                 self_masking: bool = False) -> None:
        super().__init__(n_features, likelihood, self_masking)
        self.latent_dim = latent_dim
        self.encoder = make_mlp(2 * n_features, hidden_dims, 2 * latent_dim, activation,
                                zero_last=False)
        self.decoder = make_mlp(latent_dim, hidden_dims, self.outputs_per_column * n_features,
                                activation, zero_last=False)
        self.flow = _latent_flow(posterior_flow, latent_dim, n_flow_layers, 2 * latent_dim)
        self.prior_flow = _latent_flow(prior_flow, latent_dim, n_flow_layers, 0)

    def posterior(self, values: Tensor, observed: Tensor, noise: Tensor
                  ) -> tuple[Tensor, Tensor]:
        observed_float = observed.to(values.dtype)
        encoded = self.encoder(torch.cat([values * observed_float, observed_float], dim=1))
        mean, log_scale = encoded.chunk(2, dim=1)
        log_scale = log_scale.clamp(-10, 5)
        z = mean + torch.exp(log_scale) * noise                      # (K, n, latent)
        log_q = torch.distributions.Normal(mean, torch.exp(log_scale)).log_prob(z).sum(-1)
        if self.flow is not None:
            n_draws, n_rows = z.shape[:2]
            context = encoded.expand(n_draws, -1, -1).reshape(n_draws * n_rows, -1)
            z_flat, log_det = self.flow(z.reshape(n_draws * n_rows, -1), context)
            z = z_flat.view(n_draws, n_rows, -1)
            log_q = log_q - log_det.view(n_draws, n_rows)
        return z, log_q

    def log_prior(self, z: Tensor) -> Tensor:
        if self.prior_flow is None:
            return standard_normal_log_prob(z)
        u, log_det = self.prior_flow(z.reshape(-1, z.shape[-1]))
        return (standard_normal_log_prob(u) + log_det).view(z.shape[:-1])

    def decoder_outputs(self, z: Tensor) -> Tensor:
        return self.decoder(z).unflatten(-1, (-1, self.outputs_per_column))
