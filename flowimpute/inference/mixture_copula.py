"""A Gaussian mixture over Yeo-Johnson-transformed columns: exact
conditionals and marginal densities of a row in the table's own units.

Each column ``x_j`` is mapped by a monotone Yeo-Johnson transform, fitted by
maximum likelihood on its observed values and standardized, to ``z_j``; the
rows of ``z`` follow a mixture of full-covariance Gaussians fitted by EM on
the incomplete rows
(:class:`~flowimpute.inference.gaussian_mixture.IncompleteGaussianMixture`).
The per-column maps are invertible, so everything the mixture gives in ``z``
holds in ``x`` too:

- the density of a row's observed entries is the mixture's marginal density
  of their ``z`` times the maps' derivatives (exact, no bound);
- the conditional of the unknown entries given the known ones is, in ``z``,
  a mixture of Gaussians; its mean in ``x`` is computed per coordinate by
  Gauss-Hermite quadrature of the inverse map under each component's
  conditional, and draws are mapped back one by one.

A column's transform keeps a heavy tail from claiming mixture components
of its own. ``z`` is confined to the image of each column's training range
(``low``, ``high`` at fit), so values mapped back stay inside it.

Self-masking (values that go missing by their size) is modelled by a
logistic chance of a gap in ``z``, ``sigmoid(a_j z_j + c_j)``: the unknown
entries' conditional is then the learned one tilted by ``exp(a . z_u)``,
which for every Gaussian component is again a Gaussian, shifted by its
covariance times ``a``, with its weight scaled by the tilt's expectation:
exact for the mean and for draws.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.preprocessing import PowerTransformer
from torch import Tensor, nn

from .gaussian_mixture import CHUNK_ROWS, IncompleteGaussianMixture

#: Exponents closer than this to the singular values (0 for nonnegative
#: entries, 2 for negative ones) use the transform's logarithmic limit.
_LOG_LIMIT = 1e-8
#: Gauss-Hermite nodes of the conditional mean's quadrature, per coordinate
#: and component.
QUADRATURE_NODES = 16


def _safe(exponents: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Masks of the logarithmic limits and the exponents with them replaced by 1."""
    upper_log = exponents.abs() <= _LOG_LIMIT
    lower_log = (2 - exponents).abs() <= _LOG_LIMIT
    upper = torch.where(upper_log, torch.ones_like(exponents), exponents)
    lower = torch.where(lower_log, torch.ones_like(exponents), 2 - exponents)
    return upper_log, lower_log, upper, lower


def yeo_johnson(x: Tensor, exponents: Tensor) -> Tensor:
    """The Yeo-Johnson transform of each column of ``x`` by its exponent."""
    upper_log, lower_log, upper, lower = _safe(exponents)
    positive, negative = x.clamp_min(0), (-x).clamp_min(0)
    above = torch.where(upper_log, torch.log1p(positive),
                        torch.expm1(upper * torch.log1p(positive)) / upper)
    below = torch.where(lower_log, -torch.log1p(negative),
                        -torch.expm1(lower * torch.log1p(negative)) / lower)
    return torch.where(x >= 0, above, below)


def yeo_johnson_inverse(y: Tensor, exponents: Tensor) -> Tensor:
    """The inverse of :func:`yeo_johnson`. Where the image is bounded (an
    exponent below 0 above zero, above 2 below it), a ``y`` at or beyond
    its end, as rounding can put one, maps to the largest finite value
    short of it rather than NaN."""
    upper_log, lower_log, upper, lower = _safe(exponents)
    positive, negative = y.clamp_min(0), (-y).clamp_min(0)
    inside = -1 + torch.finfo(y.dtype).eps
    above = torch.where(upper_log, torch.expm1(positive),
                        torch.expm1(torch.log1p((upper * positive).clamp_min(inside)) / upper))
    below = torch.where(lower_log, -torch.expm1(negative),
                        -torch.expm1(torch.log1p((lower * negative).clamp_min(inside)) / lower))
    return torch.where(y >= 0, above, below)


def yeo_johnson_log_derivative(x: Tensor, exponents: Tensor) -> Tensor:
    """``log d yeo_johnson(x) / dx``, entry by entry."""
    return torch.where(x >= 0, (exponents - 1) * torch.log1p(x.clamp_min(0)),
                       (1 - exponents) * torch.log1p((-x).clamp_min(0)))


class GaussianMixtureCopula(nn.Module):
    """Yeo-Johnson marginals joined by a Gaussian mixture (see the module
    docstring). Computations run in float64; inputs of any float dtype come
    back in theirs.

    Parameters
    ----------
    n_features : int
    n_components : int
    """

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        for name, value in (("exponents", 1.0), ("location", 0.0), ("scale", 1.0),
                            ("z_low", -math.inf), ("z_high", math.inf)):
            self.register_buffer(name, torch.full((n_features,), value, dtype=torch.float64))
        self.register_buffer("slopes", torch.zeros(n_features, dtype=torch.float64))
        self.mixture = IncompleteGaussianMixture(n_features, n_components).double()
        nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
        self.register_buffer("nodes", torch.as_tensor(nodes))
        self.register_buffer("node_weights", torch.as_tensor(weights / weights.sum()))

    # ------------------------------------------------------------- the maps
    def gaussianized(self, values: Tensor) -> Tensor:
        """``z`` of ``values`` (n, n_features), in float64."""
        return (yeo_johnson(values.double(), self.exponents) - self.location) / self.scale

    def log_derivative(self, values: Tensor) -> Tensor:
        """``log dz/dx`` of every entry of ``values``, in float64."""
        return yeo_johnson_log_derivative(values.double(), self.exponents) - torch.log(self.scale)

    def values_of(self, z: Tensor) -> Tensor:
        """The inverse map of ``z`` (..., n_features), confined to the
        training range."""
        z = torch.minimum(torch.maximum(z, self.z_low), self.z_high)
        return yeo_johnson_inverse(z * self.scale + self.location, self.exponents)

    # -------------------------------------------------------------- fitting
    @torch.no_grad()
    def fit(self, values: Tensor, observed: Tensor, low: Tensor, high: Tensor, seed: int,
            max_iter: int, ridge: float = 0.1) -> GaussianMixtureCopula:
        """Fit each column's exponent by maximum likelihood on its observed
        values (as scikit-learn's
        :class:`~sklearn.preprocessing.PowerTransformer`), its
        standardization, and the mixture by ``max_iter`` EM iterations at
        most on the ``observed`` entries of ``values`` (``ridge``
        regularizes its covariances: see
        :meth:`IncompleteGaussianMixture.fit`); ``low`` and ``high``
        bound the values mapped back (infinite bounds leave a column's
        image unbounded, and its inverse may be infinite at its ends)."""
        picked = np.where(observed.cpu().numpy(), values.to("cpu", torch.float64).numpy(),
                          np.nan)
        power = PowerTransformer(method="yeo-johnson", standardize=False).fit(picked)
        self.exponents.copy_(torch.as_tensor(power.lambdas_))
        transformed = power.transform(picked)
        self.location.copy_(torch.as_tensor(np.nanmean(transformed, axis=0)))
        self.scale.copy_(torch.as_tensor(np.maximum(np.nanstd(transformed, axis=0), 1e-12)))
        bounds = torch.stack([low, high]).to(self.exponents.device, torch.float64)
        z_low, z_high = self.gaussianized(bounds)
        self.z_low.copy_(z_low)
        self.z_high.copy_(z_high)
        self.mixture.fit(self.gaussianized(values), observed, max_iter=max_iter, ridge=ridge,
                         seed=seed)
        return self

    # -------------------------------------------------------------- queries
    @torch.no_grad()
    def log_prob(self, values: Tensor, observed: Tensor) -> Tensor:
        """Log-density of each row's ``observed`` entries (a marginal), in
        the units of ``values``."""
        log_derivative = (self.log_derivative(values) * observed).sum(1)
        return (self.mixture.log_prob(self.gaussianized(values), observed)
                + log_derivative).to(values.dtype)

    @torch.no_grad()
    def root_state(self, values: Tensor, observed: Tensor) -> Tensor:
        """``z`` of every row: the observed entries' own, and the mixture's
        conditional mean of the others given them (untilted)."""
        weights, means = self.mixture.conditional(self.gaussianized(values), observed)
        return torch.einsum("nk,nkd->nd", weights, means).to(values.dtype)

    def _tilted(self, values: Tensor, observed: Tensor, tilt: bool
                ) -> tuple[Tensor, Tensor, Tensor]:
        """The conditional of the unknown ``z`` given the known: component
        weights (n, k), means (n, k, d) and covariances (n, k, d, d; zero on
        the known rows and columns), tilted by the self-masking slopes
        when ``tilt``."""
        known = observed.double()
        joint, means, covariances = self.mixture.conditional_components(
            self.gaussianized(values), known)
        if tilt and bool(self.slopes.any()):
            slopes = self.slopes * (1 - known)
            shift = covariances @ slopes[:, None, :, None]
            joint = joint + (slopes[:, None, :] * means).sum(-1) + 0.5 * (
                slopes[:, None, :, None] * shift).sum((-2, -1))
            means = means + shift.squeeze(-1)
        return torch.softmax(joint, 1), means, covariances

    @torch.no_grad()
    def conditional_mean(self, values: Tensor, observed: Tensor, tilt: bool = True) -> Tensor:
        """``E[x_u | x_o]`` of every row (observed entries as given), by
        quadrature of the inverse maps under each component's conditional."""
        outputs = []
        for v, o in zip(values.split(CHUNK_ROWS), observed.split(CHUNK_ROWS), strict=True):
            weights, means, covariances = self._tilted(v, o, tilt)
            spread = torch.diagonal(covariances, dim1=-2, dim2=-1).clamp_min(0).sqrt()
            points = means[..., None, :] + spread[..., None, :] * self.nodes[:, None]
            mapped = torch.einsum("nkqd,q->nkd", self.values_of(points), self.node_weights)
            mean = torch.einsum("nk,nkd->nd", weights, mapped)
            outputs.append(torch.where(o, v.double(), mean))
        return torch.cat(outputs).to(values.dtype)

    @torch.no_grad()
    def sample(self, values: Tensor, observed: Tensor, noise: Tensor, tilt: bool = True
               ) -> Tensor:
        """One draw of every row's unknown entries from their conditional,
        from ``noise``: standard normals (n, n_features + 1), the first
        choosing the component."""
        outputs = []
        for v, o, e in zip(values.split(CHUNK_ROWS), observed.split(CHUNK_ROWS),
                           noise.split(CHUNK_ROWS), strict=True):
            weights, means, covariances = self._tilted(v, o, tilt)
            e = e.double()
            uniform = torch.special.ndtr(e[:, :1])
            component = (weights.cumsum(1) < uniform).sum(1).clamp_max(weights.shape[1] - 1)
            rows = torch.arange(v.shape[0], device=v.device)
            known = o.double()
            factor = torch.linalg.cholesky(covariances[rows, component]
                                           + torch.diag_embed(known))
            z = means[rows, component] + (factor @ e[:, 1:, None]).squeeze(-1) * (1 - known)
            outputs.append(torch.where(o, v.double(), self.values_of(z)))
        return torch.cat(outputs).to(values.dtype)

    @torch.no_grad()
    def column_draws(self, values: Tensor, observed: Tensor, column: int, n_draws: int,
                     generator: torch.Generator) -> Tensor:
        """``n_draws`` draws of column ``column``'s ``z`` given each row's
        other observed entries (n_draws, n), untilted: what a self-masking
        model is fitted on."""
        others = observed.clone()
        others[:, column] = False
        draws = []
        for v, o in zip(values.split(CHUNK_ROWS), others.split(CHUNK_ROWS), strict=True):
            weights, means, covariances = (t.cpu() for t in self._tilted(v, o, tilt=False))
            spread = covariances[:, :, column, column].clamp_min(0).sqrt()
            component = torch.multinomial(weights, n_draws, replacement=True,
                                          generator=generator)
            normals = torch.randn(component.shape, generator=generator, dtype=torch.float64)
            draws.append(torch.gather(means[:, :, column], 1, component)
                         + torch.gather(spread, 1, component) * normals)
        return torch.cat(draws).T
