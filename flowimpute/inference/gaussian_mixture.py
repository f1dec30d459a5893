"""A Gaussian mixture with full covariances, fitted by EM on incomplete rows.

Every marginal and conditional of a Gaussian mixture is exact: the marginal
of some coordinates is the mixture of the components' marginals, and the
conditional of the others given them is the mixture of the components'
Gaussian conditionals, reweighted by how well each component explains the
given coordinates. That makes it the model of choice wherever rows must be
completed from any subset of their coordinates, and it is fitted on such
rows directly: the E-step takes each row's expected sufficient statistics
given its observed coordinates (Ghahramani and Jordan, 1994), so no row
needs to be complete.

All computations use one trick: a covariance whose rows and columns of
unknown coordinates are replaced by the identity has, on the known block,
the inverse of the known block, and zeros across, so one batched Cholesky
solve per row and component serves every missingness pattern.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from torch import Tensor, nn

#: Rows per batched solve (each holds n_components covariances).
CHUNK_ROWS = 512


def kmeans_labels(points: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """The k-means cluster of each row of ``points``, where a mixture's
    components start (three restarts; with fewer distinct rows than
    clusters some stay empty, without a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(n_clusters, n_init=3, random_state=seed).fit_predict(points)


class IncompleteGaussianMixture(nn.Module):
    """Mixture of ``n_components`` full-covariance Gaussians over
    ``n_features`` coordinates, with exact marginals and conditionals.

    Parameters
    ----------
    n_features : int
    n_components : int

    Attributes
    ----------
    log_weights : Tensor (n_components,)
    means : Tensor (n_components, n_features)
    covariances : Tensor (n_components, n_features, n_features)
    log_likelihoods_ : list of float
        After :meth:`fit`, the mean log-likelihood per row at each E-step.
    """

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        self.register_buffer("log_weights",
                             torch.full((n_components,), -math.log(n_components)))
        self.register_buffer("means", torch.zeros(n_components, n_features))
        self.register_buffer("covariances", torch.eye(n_features).repeat(n_components, 1, 1))

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    # ------------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit(self, Z: Tensor, observed: Tensor, *, ridge: float = 0.1, max_iter: int = 100,
            tol: float = 1e-4, seed: int = 0) -> IncompleteGaussianMixture:
        """Maximize the likelihood of the ``observed`` entries of ``Z`` (n,
        n_features; other entries arbitrary) by EM, from a k-means
        clustering of the rows with their gaps at the column means.

        ``ridge`` times each coordinate's observed variance is added to the
        diagonal of every covariance at each M-step (a component of a few
        rows must not collapse onto them). EM stops when the mean
        log-likelihood per row gains less than ``tol``.
        """
        known = observed.to(Z.dtype)
        count = known.sum(0).clamp_min(1)
        mean = (Z * known).sum(0) / count
        variance = ((Z - mean).pow(2) * known).sum(0) / count
        floor = torch.diag_embed(ridge * variance.clamp_min(1e-12))
        filled = torch.where(observed, Z, mean)
        responsibilities = self._initial_responsibilities(filled, seed)
        self._m_step(responsibilities.sum(0), responsibilities.T @ filled,
                     torch.einsum("nk,nd,ne->kde", responsibilities, filled, filled), floor)
        previous = -math.inf
        self.log_likelihoods_ = []
        for _ in range(max_iter):
            log_likelihood, statistics = self._em_pass(Z, known)
            self.log_likelihoods_.append(log_likelihood)
            if log_likelihood - previous < tol:
                break
            previous = log_likelihood
            self._m_step(*statistics, floor)
        return self

    def _initial_responsibilities(self, filled: Tensor, seed: int) -> Tensor:
        n_rows, n_components = filled.shape[0], self.n_components
        if n_components == 1:
            return filled.new_ones(n_rows, 1)
        labels = kmeans_labels(filled.cpu().double().numpy(), n_components, seed)
        labels = torch.as_tensor(labels, dtype=torch.long, device=filled.device)
        return nn.functional.one_hot(labels, n_components).to(filled.dtype)

    def _em_pass(self, Z: Tensor, known: Tensor
                 ) -> tuple[float, tuple[Tensor, Tensor, Tensor]]:
        """One E-step: the mean log-likelihood of the known entries under
        the current parameters, and per component the responsibilities'
        sum and the weighted sums of the rows' conditional means and second
        moments, which the M-step turns into new parameters."""
        n_features = Z.shape[1]
        total_log_likelihood = 0.0
        totals = Z.new_zeros(self.n_components)
        first = Z.new_zeros(self.n_components, n_features)
        second = Z.new_zeros(self.n_components, n_features, n_features)
        for z, k in zip(Z.split(CHUNK_ROWS), known.split(CHUNK_ROWS), strict=True):
            joint, means, covariances = self._terms(z, k, with_covariance=True)
            total_log_likelihood += float(torch.logsumexp(joint, 1).sum())
            r = torch.softmax(joint, 1)
            totals += r.sum(0)
            first += torch.einsum("nk,nkd->kd", r, means)
            second += torch.einsum("nk,nkd,nke->kde", r, means, means)
            second += torch.einsum("nk,nkde->kde", r, covariances)
        return total_log_likelihood / Z.shape[0], (totals, first, second)

    def _m_step(self, totals: Tensor, first: Tensor, second: Tensor, floor: Tensor) -> None:
        totals = totals.clamp_min(1e-10)
        means = first / totals[:, None]
        covariances = second / totals[:, None, None] - means[:, :, None] * means[:, None, :]
        self.means.copy_(means)
        self.covariances.copy_(0.5 * (covariances + covariances.transpose(1, 2)) + floor)
        self.log_weights.copy_(torch.log(totals / totals.sum()))

    # -------------------------------------------------------------- the trick
    def _terms(self, Z: Tensor, known: Tensor, with_covariance: bool = False
               ) -> tuple[Tensor, Tensor, Tensor | None]:
        """From one Cholesky factor per row and component, of the component's
        covariance with the unknown rows and columns replaced by the
        identity: (n, n_components) log weights plus log-densities of the
        known entries; each component's conditional mean of every
        coordinate given them (n, n_components, d; the known ones as
        given); with ``with_covariance``, its conditional covariance (zero
        on the known rows and columns)."""
        pair = known[:, None, :, None] * known[:, None, None, :]
        factor = torch.linalg.cholesky(self.covariances * pair
                                       + torch.diag_embed(1 - known)[:, None])
        residual = ((Z[:, None, :] - self.means) * known[:, None, :]).unsqueeze(-1)
        solved = torch.linalg.solve_triangular(factor, residual, upper=False)
        log_det = 2 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)
        joint = (self.log_weights - 0.5 * solved.squeeze(-1).pow(2).sum(-1) - 0.5 * log_det
                 - 0.5 * known.sum(1, keepdim=True) * math.log(2 * math.pi))
        weights = torch.linalg.solve_triangular(factor.transpose(-1, -2), solved, upper=True)
        means = self.means + (self.covariances @ weights).squeeze(-1)
        means = torch.where(known[:, None, :] > 0, Z[:, None, :], means)
        if not with_covariance:
            return joint, means, None
        across = self.covariances * known[:, None, None, :]     # Sigma[:, O]
        projected = torch.cholesky_solve(across.transpose(-1, -2), factor)
        return joint, means, self.covariances - across @ projected

    # ------------------------------------------------------------------- queries
    @torch.no_grad()
    def log_prob(self, Z: Tensor, observed: Tensor) -> Tensor:
        """Log-density of each row's ``observed`` entries (a marginal)."""
        known = observed.to(Z.dtype)
        return torch.cat([torch.logsumexp(self._terms(z, k)[0], 1)
                          for z, k in zip(Z.split(CHUNK_ROWS), known.split(CHUNK_ROWS),
                                          strict=True)])

    def conditional_components(self, Z: Tensor, known: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """For rows of at most :data:`CHUNK_ROWS` and ``known`` (0 or 1, the
        dtype of ``Z``): each component's log weight plus log-density of the
        known entries (n, n_components), conditional mean (n,
        n_components, d; the known entries as given) and conditional
        covariance (n, n_components, d, d; zero on the known rows and
        columns)."""
        return self._terms(Z, known, with_covariance=True)

    @torch.no_grad()
    def conditional(self, Z: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """The conditional of every coordinate given each row's ``observed``
        ones: the components' posterior weights (n, n_components) and their
        conditional means (n, n_components, n_features; observed
        coordinates as given). Their weighted sum is the conditional mean."""
        known = observed.to(Z.dtype)
        weights, means = [], []
        for z, k in zip(Z.split(CHUNK_ROWS), known.split(CHUNK_ROWS), strict=True):
            joint, component_means, _ = self._terms(z, k)
            weights.append(torch.softmax(joint, 1))
            means.append(component_means)
        return torch.cat(weights), torch.cat(means)
