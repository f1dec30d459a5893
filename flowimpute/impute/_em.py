"""Fitting flow densities on incomplete data: the initial fill and Monte Carlo EM.

The missing training entries are first filled (:class:`InitialFill`); the
densities are fitted on the completed table with Gaussian noise on every
filled entry, so that they learn the gaps' spread rather than a sharp surface
of point fills; then, round after round, the gaps are refilled from the
current densities and training continues from the current parameters
(:func:`fit_by_em`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from ..density import BaseFlowDensity, NAFDensity
from ..inference.selection import HiddenEntries, squared_errors

#: Share of a column's entries hidden when it has no gap, so that the
#: initial IterativeImputer learns a model for every column.
HIDDEN_FOR_REGRESSION = 0.2
#: Most other columns each column's initial regression reads (the most
#: correlated, drawn by IterativeImputer's ``n_nearest_features``), so that
#: on a wide table the initial fill does not grow with the square of the
#: number of columns.
NEAREST_FEATURES = 20


class InitialFill:
    """The first fill of the gaps of model coordinates (NaN where missing).

    Parameters
    ----------
    strategy : {"iterative", "mean"}
        scikit-learn's IterativeImputer (Bayesian ridge on at most
        :data:`NEAREST_FEATURES` other columns, 10 rounds), fitted with some
        entries of every gap-free column hidden so that it can predict every
        column, or the column means.
    """

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy

    def fit(self, Z: np.ndarray, rng: np.random.RandomState) -> InitialFill:
        self.means_ = np.nanmean(Z, axis=0)   # NaN-free: no column is empty
        self.imputer_ = None
        if self.strategy == "iterative" and Z.shape[1] > 1:
            nearest = NEAREST_FEATURES if Z.shape[1] - 1 > NEAREST_FEATURES else None
            self.imputer_ = IterativeImputer(
                max_iter=10, n_nearest_features=nearest, random_state=int(rng.randint(2**31)),
                keep_empty_features=True)
            # Only a start for EM: ten rounds that have not converged do, and
            # the user could not act on scikit-learn's warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.imputer_.fit(_with_gaps_in_every_column(Z, rng))
        return self

    def transform(self, Z: np.ndarray) -> np.ndarray:
        if self.imputer_ is None:
            return np.where(np.isnan(Z), self.means_, Z)
        return self.imputer_.transform(Z)

    def error(self, held: HiddenEntries, encode: Callable[[np.ndarray, np.ndarray], np.ndarray]
              ) -> np.ndarray:
        """Per column, the RMS error (model coordinates, ``encode(values,
        observed)``) of the fill on the ``held`` entries; a column without
        hidden entries takes the RMS error of all columns together, and with
        nothing hidden every column gets 0."""
        if not held.hidden.any():
            return np.zeros(held.truth.shape[1])
        start = self.transform(encode(held.truth, held.kept))
        truth = encode(held.truth, np.ones_like(held.kept))
        errors = squared_errors(start, truth, held.hidden)
        counts = held.hidden.sum(axis=0)
        per_column = np.where(counts > 0, errors / np.maximum(counts, 1),
                              errors.sum() / counts.sum())
        return np.sqrt(per_column)


def density_templates(density) -> list:
    """The densities of one ensemble round: ``density`` (one, a list, or
    None for the default NAF), checked to be flowimpute flow densities: the
    imputer sets their device, trains them on and follows their gradient."""
    if density is None:
        return [NAFDensity(n_flows=3, hidden_dims=(64, 64), max_epochs=100)]
    single = not isinstance(density, list | tuple)
    templates = [density] if single else list(density)
    if not templates:
        raise ValueError("density is an empty list: give at least one flow density.")
    for template in templates:
        if not isinstance(template, BaseFlowDensity):
            what = "density" if single else "every element of the density list"
            raise TypeError(f"{what} must be a flowimpute flow density (NAFDensity, "
                            f"CouplingFlowDensity); got {type(template).__name__}.")
    return templates


def fit_by_em(
    templates: Sequence, ensemble_size: int, settings: dict, filled: np.ndarray,
    gaps: np.ndarray, noise_std: np.ndarray, rng: np.random.RandomState, *, max_rounds: int,
    epochs: int, tol: float, refill: Callable[[list, np.ndarray], np.ndarray],
    after_fill: Callable[[np.ndarray], None],
) -> tuple[list, np.ndarray, list[float]]:
    """Fit ``ensemble_size`` clones of each template on ``filled``, then
    refine by EM rounds.

    Every density trains on the fill with Gaussian noise of ``noise_std``
    (per column) on the ``gaps`` entries, redrawn for every fit. Each round
    calls ``refill(densities, filled)`` for a new fill, trains every density
    ``epochs`` more epochs on it, and stops early when the fill moved by less
    than ``tol`` (RMS). ``after_fill(filled)`` runs after the first fit and
    after every round (e.g. to refit a missingness model). Densities are
    cloned with seeds from ``rng`` and ``settings`` (device, dtype, ...).

    Returns
    -------
    densities : list
    filled : ndarray
        The last fill.
    history : list of float
        The RMS change of the fill in each round.
    """
    def with_gap_noise(fill: np.ndarray) -> np.ndarray:
        if not noise_std.any():
            return fill
        return fill + gaps * noise_std * rng.standard_normal(fill.shape)

    densities = []
    for _ in range(ensemble_size):
        for template in templates:
            density = clone(template).set_params(random_state=int(rng.randint(2**31)),
                                                 **settings)
            densities.append(density.fit(with_gap_noise(filled)))
    history: list[float] = []
    after_fill(filled)
    for _ in range(max_rounds if gaps.any() else 0):
        refilled = refill(densities, filled)
        change = float(np.sqrt(np.mean((refilled[gaps] - filled[gaps]) ** 2)))
        history.append(change)
        filled = refilled
        for density in densities:
            density.train_more(with_gap_noise(filled), epochs, int(rng.randint(2**31)))
        after_fill(filled)
        if change < tol:
            break
    return densities, filled, history


def _with_gaps_in_every_column(Z: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Copy of ``Z`` in which every column without a gap loses a random
    :data:`HIDDEN_FOR_REGRESSION` share of its entries (at least one).
    IterativeImputer learns a model only for the columns that had gaps during
    fit and fills the others with their mean at transform; hiding some
    entries gives every column a regression model."""
    Z = Z.copy()
    for column in np.flatnonzero(~np.isnan(Z).any(axis=0)):
        n_hidden = max(1, int(HIDDEN_FOR_REGRESSION * Z.shape[0]))
        Z[rng.choice(Z.shape[0], n_hidden, replace=False), column] = np.nan
    return Z
