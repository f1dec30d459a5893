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

The mixture lives on Yeo-Johnson-transformed coordinates, each standardized
(:class:`~flowimpute.inference.mixture_copula.GaussianMixtureCopula`), so
that a column's heavy tail (a few rooms per household in the hundreds) does
not claim components of its own; the conditional mean is reported in those
coordinates, a feature rather than an estimate in the table's units. It is
computed in float64 whatever the network's precision.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..inference.mixture_copula import GaussianMixtureCopula

#: EM iterations of the mixture's fit (each costs a batched Cholesky
#: factorization per row and component; the user guide has the count's
#: measurement).
EM_ITERATIONS = 25


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
        self.copula = GaussianMixtureCopula(self.coordinates.numel(), n_components)

    @property
    def width(self) -> int:
        """Coordinates of the conditional mean (those of the mixture)."""
        return self.coordinates.numel()

    @torch.no_grad()
    def fit(self, values: Tensor, observed: Tensor, seed: int) -> MixtureConditionalMean:
        """Fit the transforms and the mixture on the ``observed`` entries of
        ``values``."""
        unbounded = torch.full((self.width,), math.inf, dtype=torch.float64)
        self.copula.fit(values[:, self.coordinates], observed[:, self.coordinates],
                        -unbounded, unbounded, seed, EM_ITERATIONS)
        return self

    @torch.no_grad()
    def forward(self, values: Tensor, conditioning: Tensor) -> Tensor:
        """The mixture's conditional mean of its coordinates given the
        ``conditioning`` entries of ``values`` (n, width; the conditioning
        coordinates as given), in the dtype of ``values``."""
        return self.copula.root_state(values[:, self.coordinates],
                                      conditioning[:, self.coordinates])
