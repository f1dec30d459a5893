"""The exact conditional mean of a Gaussian mixture, as context for a network.

A network that predicts every conditional mean ``E[x_t | x_c]`` from random
splits must learn, from a few hundred rows, how each coordinate moves with
every subset of the others. A Gaussian mixture fitted by EM on the same
incomplete rows has every one of those conditionals in closed form
(:class:`~flowimpute.inference.gaussian_mixture.IncompleteGaussianMixture`):
its conditional mean is linear in the conditioning values within each
component and switches between components as they explain the row.
:class:`MixtureConditionalMean` computes it for any split, to be read by a
network beside the conditioning values, which keeps what it finds useful.

The mixture lives on Yeo-Johnson-transformed coordinates, each standardized,
so that a column's heavy tail (a few rooms per household in the hundreds)
does not claim components of its own; the conditional mean is reported in
those coordinates, a feature rather than an estimate in the table's units.
It is computed in float64 whatever the network's precision.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.preprocessing import PowerTransformer
from torch import Tensor, nn

from ..inference.gaussian_mixture import IncompleteGaussianMixture

#: EM iterations of the mixture's fit (each costs a batched Cholesky
#: factorization per row and component; the user guide has the count's
#: measurement).
EM_ITERATIONS = 25
#: Exponents closer than this to the singular values (0 for nonnegative
#: entries, 2 for negative ones) use the transform's logarithmic limit.
_LOG_LIMIT = 1e-8


def yeo_johnson(x: Tensor, exponents: Tensor) -> Tensor:
    """The Yeo-Johnson transform of each column of ``x`` by its exponent."""
    positive, negative = x.clamp_min(0), (-x).clamp_min(0)
    upper = torch.where(exponents.abs() > _LOG_LIMIT, exponents, torch.ones_like(exponents))
    lower = torch.where((2 - exponents).abs() > _LOG_LIMIT, 2 - exponents,
                        torch.ones_like(exponents))
    above = torch.where(exponents.abs() > _LOG_LIMIT,
                        torch.expm1(upper * torch.log1p(positive)) / upper,
                        torch.log1p(positive))
    below = torch.where((2 - exponents).abs() > _LOG_LIMIT,
                        -torch.expm1(lower * torch.log1p(negative)) / lower,
                        -torch.log1p(negative))
    return torch.where(x >= 0, above, below)


class MixtureConditionalMean(nn.Module):
    """``E[z_u | z_c]`` of a Gaussian mixture over chosen coordinates of a
    row, after a Yeo-Johnson transform of each, for any conditioning set.

    Parameters
    ----------
    coordinates : sequence of int
        The row's coordinates the mixture is over (continuous ones).
    n_components : int
    """

    def __init__(self, coordinates, n_components: int) -> None:
        super().__init__()
        self.register_buffer("coordinates", torch.as_tensor(coordinates, dtype=torch.long))
        width = self.coordinates.numel()
        self.register_buffer("exponents", torch.ones(width, dtype=torch.float64))
        self.register_buffer("location", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(width, dtype=torch.float64))
        self.mixture = IncompleteGaussianMixture(width, n_components).double()

    @property
    def width(self) -> int:
        """Coordinates of the conditional mean (those of the mixture)."""
        return self.coordinates.numel()

    def gaussianized(self, values: Tensor) -> Tensor:
        """The mixture's coordinates of ``values`` (n, n_row_coordinates),
        in float64."""
        picked = values[:, self.coordinates].double()
        return (yeo_johnson(picked, self.exponents) - self.location) / self.scale

    @torch.no_grad()
    def fit(self, values: Tensor, observed: Tensor, seed: int) -> MixtureConditionalMean:
        """Fit the transform's exponents (by maximum likelihood, as
        scikit-learn's :class:`~sklearn.preprocessing.PowerTransformer`
        does), its standardization and the mixture on the ``observed``
        entries of ``values``."""
        known = observed[:, self.coordinates]
        picked = values[:, self.coordinates].to("cpu", torch.float64).numpy()
        picked = np.where(known.cpu().numpy(), picked, np.nan)
        power = PowerTransformer(method="yeo-johnson", standardize=False).fit(picked)
        self.exponents.copy_(torch.as_tensor(power.lambdas_))
        transformed = power.transform(picked)
        self.location.copy_(torch.as_tensor(np.nanmean(transformed, axis=0)))
        self.scale.copy_(torch.as_tensor(np.maximum(np.nanstd(transformed, axis=0), 1e-12)))
        self.mixture.fit(self.gaussianized(values), known, max_iter=EM_ITERATIONS, seed=seed)
        return self

    @torch.no_grad()
    def forward(self, values: Tensor, conditioning: Tensor) -> Tensor:
        """The mixture's conditional mean of its coordinates given the
        ``conditioning`` entries of ``values`` (n, width; the conditioning
        coordinates as given), in the dtype of ``values``."""
        weights, means = self.mixture.conditional(self.gaussianized(values),
                                                  conditioning[:, self.coordinates])
        return torch.einsum("nk,nkd->nd", weights, means).to(values.dtype)
