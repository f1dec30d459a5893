"""Each section's entries given its own decode and its observed entries: a Gaussian.

The VFG decodes a section from the roots alone, so an entry observed beside a
gap informs the gap only through the average at the root. A
:class:`SectionGaussian` closes that path: for each section ``t`` it holds
the joint Gaussian of ``(x_t, d_t)``, where ``x_t`` are the section's values
and ``d_t`` the section as the fitted VFG decodes it from the *other*
sections (``t`` itself hidden), estimated on training rows. A missing entry is
then imputed from the conditional Gaussian given ``d_t`` and whichever of the
section's entries are observed: a gap beside an observed partner moves with
the partner's residual, and a wholly hidden section gets ``E[x_t | d_t]``, a
linear calibration of its decode.

Under a self-masking model of missingness (``slopes``), the conditional of
the missing entries is the Gaussian's tilted by the odds of going missing,
``exp(a . x_u)``: for a Gaussian, the same covariance about a mean moved by
the conditional covariance times ``a``.

Shapes: ``n`` rows, ``k`` sections padded to ``m`` entries; the joint lives on
``2m`` coordinates ``(x_t, d_t)``. Padding entries are never conditioned on
nor imputed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Smallest eigenvalue kept in each section's covariance (standardized units),
#: so that every conditional is well posed.
EIGENVALUE_FLOOR = 1e-3


class SectionGaussian(nn.Module):
    """Joint Gaussian of each section's values and its decode from the others.

    Parameters
    ----------
    real : BoolTensor of shape (k, m)
        Which padded entries are real columns.

    Attributes
    ----------
    slopes : Tensor of shape (k, m)
        Per entry, the slope ``a`` of a self-masking model ``P(missing | x) =
        sigmoid(a x + c)`` (0: missing at random), by which the conditional
        of the missing entries is tilted. Set by the estimator.
    """

    def __init__(self, real: Tensor) -> None:
        super().__init__()
        n_sections, width = real.shape
        self.width = width
        self.register_buffer("real", torch.cat([real, real], dim=1))
        self.register_buffer("mean", torch.zeros(n_sections, 2 * width))
        self.register_buffer("covariance", torch.eye(2 * width).repeat(n_sections, 1, 1))
        self.register_buffer("slopes", torch.zeros(n_sections, width))

    @torch.no_grad()
    def fit(self, leaves: Tensor, entry_observed: Tensor, decoded: Tensor) -> SectionGaussian:
        """Estimate every section's mean and covariance from rows.

        Means and standard deviations use every row where their coordinate
        is observed; each correlation, the rows where both of its
        coordinates are (pairwise-complete Pearson correlations, each within
        [-1, 1], unlike pairwise covariances, which mix moments from
        different rows and can imply an impossible fit between near-copies).
        The covariance is then made positive definite by raising its
        eigenvalues to :data:`EIGENVALUE_FLOOR`.

        Parameters
        ----------
        leaves : Tensor (n, k, m)
            Padded sections (missing entries arbitrary).
        entry_observed : BoolTensor (n, k, m)
            Observed real entries.
        decoded : Tensor (n, k, m)
            Each section decoded from the other sections.
        """
        joint, present = self._joint(leaves, entry_observed, decoded)
        weight = present.to(joint.dtype)
        joint = joint * weight
        count = weight.sum(0).clamp_min(1)
        mean = joint.sum(0) / count
        deviation = torch.sqrt((joint.pow(2).sum(0) / count - mean.pow(2)).clamp_min(0))
        pairs = torch.einsum("nki,nkj->kij", weight, weight).clamp_min(1)
        pair_mean = torch.einsum("nki,nkj->kij", joint, weight) / pairs   # of i, where j too
        pair_square = torch.einsum("nki,nkj->kij", joint.pow(2), weight) / pairs
        pair_variance = (pair_square - pair_mean.pow(2)).clamp_min(1e-12)
        pair_covariance = (torch.einsum("nki,nkj->kij", joint, joint) / pairs
                           - pair_mean * pair_mean.transpose(1, 2))
        correlation = pair_covariance / torch.sqrt(pair_variance * pair_variance.transpose(1, 2))
        covariance = correlation.clamp(-1, 1) * deviation.unsqueeze(2) * deviation.unsqueeze(1)
        eigenvalues, vectors = torch.linalg.eigh(covariance)
        covariance = (vectors * eigenvalues.clamp_min(EIGENVALUE_FLOOR).unsqueeze(-2)
                      ) @ vectors.transpose(-1, -2)
        real = self.real.to(joint.dtype)
        self.mean.copy_(mean * real)
        self.covariance.copy_(covariance * real.unsqueeze(2) * real.unsqueeze(1)
                              + torch.diag_embed(1 - real))
        return self

    def _joint(self, leaves: Tensor, entry_observed: Tensor,
               decoded: Tensor) -> tuple[Tensor, Tensor]:
        """The (n, k, 2m) joint coordinates and which of them are known (the
        observed real entries and every real entry of the decode)."""
        joint = torch.cat([leaves, decoded], dim=-1)
        present = torch.cat([entry_observed, self.real[:, self.width:].expand_as(entry_observed)],
                            dim=-1) & self.real
        return joint, present

    def conditional(self, leaves: Tensor, entry_observed: Tensor, decoded: Tensor,
                    noise: Tensor | None = None) -> Tensor:
        """Every entry of ``leaves`` not observed, from its section's
        conditional Gaussian given the observed entries and ``decoded``:
        the conditional mean, or with ``noise`` (standard normal, the shape
        of ``leaves``) a draw from the conditional, tilted by ``slopes``
        where they are not 0. Observed and padding entries are returned as
        given."""
        joint, known = self._joint(leaves, entry_observed, decoded)
        known = known.to(joint.dtype)
        covariance = self.covariance
        # Sigma_OO with the unknown rows and columns replaced by the identity:
        # its inverse holds Sigma_OO^{-1} on O and zeros across.
        masked = (covariance * known.unsqueeze(-1) * known.unsqueeze(-2)
                  + torch.diag_embed(1 - known))
        weights = torch.linalg.solve(masked, ((joint - self.mean) * known).unsqueeze(-1))
        mean = self.mean + (covariance @ weights).squeeze(-1)
        estimate = mean[..., : self.width]
        tilted = bool(self.slopes.any())
        if noise is not None or tilted:
            conditional, unknown = self._unknown_covariance(masked, known)
            if tilted:
                estimate = estimate + (conditional @ (self.slopes * unknown).unsqueeze(-1)
                                       ).squeeze(-1)
            if noise is not None:
                eye = torch.eye(self.width, dtype=conditional.dtype, device=conditional.device)
                factor = torch.linalg.cholesky(conditional + 1e-9 * eye)
                estimate = estimate + (factor @ noise.unsqueeze(-1)).squeeze(-1) * unknown
        given = entry_observed | ~self.real[:, : self.width]
        return torch.where(given, leaves, estimate)

    def _unknown_covariance(self, masked: Tensor, known: Tensor) -> tuple[Tensor, Tensor]:
        """Each row's conditional covariance of its unknown section values,
        (n, k, m, m), the identity in the rows and columns of the others;
        and which entries are unknown real ones, (n, k, m) as 0/1."""
        covariance = self.covariance
        projected = torch.linalg.solve(masked, covariance * known.unsqueeze(-1))
        conditional = (covariance - covariance @ projected)[..., : self.width, : self.width]
        unknown = (1 - known[..., : self.width]) * self.real[:, : self.width]
        conditional = (conditional * unknown.unsqueeze(-1) * unknown.unsqueeze(-2)
                       + torch.diag_embed(1 - unknown))
        return conditional, unknown
