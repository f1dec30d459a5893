"""The column codec: a table's columns to a model's coordinates and back.

Every estimator models its data in coordinates of comparable scale, not in the
units of the table. :class:`ColumnCodec` is the one place that learns and
applies that map: per-column standardization (with its log-Jacobian, so that
densities are reported in the table's units), an optional Yeo-Johnson power
transform, the bounds imputations are kept in, and the grid of discrete
columns. It maps one column to one coordinate: a table's categories are
already indicator columns when they reach it
(:class:`~flowimpute.preprocessing.table.TableEncoder`).
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import PowerTransformer

from .lattice import lattice_steps

#: A column whose standard deviation is below this share of its magnitude is constant.
CONSTANT_TOLERANCE = 1e-12
#: Magnitudes between which squares neither overflow nor underflow (with room
#: for sums over rows).
_SQUARE_SAFE_LOW, _SQUARE_SAFE_HIGH = 1e-140, 1e140



def column_location_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of the non-NaN entries of ``X``
    (every column has one), finite and nonzero for any finite, non-constant
    input: where the direct computation would overflow (values beyond about
    1e154 square to infinity) or underflow (below about 1e-154 they square
    to zero), each column is divided by its largest absolute value first."""
    magnitude = np.nanmax(np.abs(X), axis=0)
    tiny = (magnitude > 0) & (magnitude < _SQUARE_SAFE_LOW)
    if ((magnitude < _SQUARE_SAFE_HIGH) & ~tiny).all():
        return np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    return (np.nanmean(X / magnitude, axis=0) * magnitude,
            np.nanstd(X / magnitude, axis=0) * magnitude)


def two_level_gaps(X: np.ndarray) -> np.ndarray:
    """The gap between the two values of each column whose observed entries
    take exactly two (a flag, a category's indicator), 0 for the others."""
    gaps = np.zeros(X.shape[1])
    for column, values in enumerate(X.T):
        levels = np.unique(values[~np.isnan(values)])
        if levels.size == 2:
            gaps[column] = levels[1] - levels[0]
    return gaps


class ColumnCodec:
    """Map a table's columns to model coordinates and back.

    Two stages: *standardized* columns (``(x - location) / scale``) and
    *model* coordinates (the standardized columns, through the power
    transform if any, kept within the model bounds). Missing entries are NaN
    throughout.

    Parameters
    ----------
    power : {None, "yeo-johnson"}, default=None
        Gaussianize each standardized column by a Yeo-Johnson transform
        fitted on its observed entries (exact inverse), so heavy tails do not
        dominate a fit.
    constant_columns : {"refuse", "unit-scale"}, default="refuse"
        A column with (numerically) no spread: "refuse" raises a ValueError
        naming it (a density over it is degenerate); "unit-scale" scales it by
        1.
    widen_gapped : bool, default=False
        Widen the bounds of every column with missing entries by the width of
        its observed range on either side, for values that went missing
        because of their size.

    Attributes
    ----------
    location_, scale_ : ndarray of shape (n_columns,)
        Mean and standard deviation of each column's observed entries; the
        scale of a column with exactly two values (a flag, a category's
        indicator) is half their gap instead, as for a fair coin, so that a
        rare value stays a few units from the common one (its own standard
        deviation would put it dozens away).
    data_min_, data_max_ : ndarray of shape (n_columns,)
        Each column's observed range.
    coordinate_columns_ : ndarray of int of shape (n_coordinates,)
        The column each model coordinate belongs to.
    power_ : PowerTransformer or None
    model_low_, model_high_ : ndarray of shape (n_coordinates,)
        Bounds of the model coordinates: the images of the (widened) range.
    """

    def __init__(self, *, power: str | None = None, constant_columns: str = "refuse",
                 widen_gapped: bool = False) -> None:
        self.power = power
        self.constant_columns = constant_columns
        self.widen_gapped = widen_gapped

    def fit(self, X: np.ndarray, feature_names=None, estimator: str = "The estimator"):
        """Learn the map from ``X`` (n_rows, n_columns), NaN at missing
        entries; every column needs an observed entry. ``feature_names`` and
        ``estimator`` name what a refused constant column belongs to."""
        location, scale = column_location_scale(X)
        # Relative to the column's magnitude, as float rounding is: a column
        # in tiny units (1e-300) varies as much as one in ordinary units.
        constant = ~(scale > CONSTANT_TOLERANCE * np.abs(location))
        if self.constant_columns == "refuse" and constant.any():
            described = ", ".join(
                f"{i}" + (f" ({feature_names[i]!r})" if feature_names is not None else "")
                + ("" if scale[i] == 0 else
                   f" (spread {scale[i]:.3g} around {location[i]:.3g})")
                for i in np.flatnonzero(constant))
            raise ValueError(
                f"{estimator} cannot model constant column(s): {described}. "
                "A density over a constant column is degenerate; drop it before fitting "
                f"(a column whose spread is below {CONSTANT_TOLERANCE:g} of its magnitude is "
                "constant to float precision: subtract an offset to keep it).")
        self.location_ = location
        self.scale_ = np.where(scale > 0, scale, 1.0)
        two_levels = two_level_gaps(X)
        self.scale_ = np.where(two_levels > 0, two_levels / 2, self.scale_)
        self.data_min_ = np.nanmin(X, axis=0)
        self.data_max_ = np.nanmax(X, axis=0)
        self.coordinate_columns_ = np.arange(X.shape[1])
        standardized = self.standardize(X)
        self.power_ = None
        if self.power == "yeo-johnson":
            self.power_ = PowerTransformer(method="yeo-johnson", standardize=True).fit(
                standardized)
        low, high = self.standardize(self.data_min_), self.standardize(self.data_max_)
        if self.widen_gapped:
            width = (high - low) * np.isnan(X).any(axis=0)
            low, high = low - width, high + width
        self.standardized_low_, self.standardized_high_ = low, high
        self.model_low_, self.model_high_ = self._powered(low), self._powered(high)
        return self

    # ------------------------------------------------------------ the two stages
    def standardize(self, X: np.ndarray) -> np.ndarray:
        """Columns in units of their standard deviation, centred."""
        return (X - self.location_) / self.scale_

    def unstandardize(self, Z: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`standardize`."""
        return Z * self.scale_ + self.location_

    @property
    def log_jacobian(self) -> float:
        """``log|det|`` of :meth:`standardize`, added to a density of
        standardized rows to give it in the table's units."""
        return -float(np.log(self.scale_).sum())

    def _powered(self, row: np.ndarray) -> np.ndarray:
        """One row of standardized values through the power transform, if any."""
        return row if self.power_ is None else self.power_.transform(row[None])[0]

    def to_model(self, Z: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Standardized columns -> model coordinates, NaN where not
        ``observed``. Values beyond the bounds are clipped to them: they
        condition a model as the nearest value it has seen."""
        Z = np.where(observed, Z, np.nan)
        if self.power_ is not None:
            Z = self.power_.transform(Z)
        return np.clip(Z, self.model_low_, self.model_high_)

    def from_model(self, Z: np.ndarray) -> np.ndarray:
        """Model coordinates -> standardized columns (the power transform's
        inverse is defined on the image of the bounds only, so the
        coordinates are clipped to them first)."""
        if self.power_ is None:
            return Z
        return self.power_.inverse_transform(np.clip(Z, self.model_low_, self.model_high_))

    # --------------------------------------------------------------- discreteness
    def lattice_widths(self, X: np.ndarray) -> np.ndarray:
        """Each discrete column's grid step in the table's units (0 for a
        continuous column), from the non-NaN entries of ``X``."""
        return lattice_steps(X)

    def model_lattice_widths(self, Z: np.ndarray) -> np.ndarray:
        """Each discrete column's grid cell width in model coordinates, from
        the non-NaN standardized entries ``Z``: the grid step, and with a
        power transform the median width of the steps' images."""
        steps = lattice_steps(Z)
        if self.power_ is None or not steps.any():
            return steps
        upper = self.power_.transform(Z + steps / 2)
        lower = self.power_.transform(Z - steps / 2)
        return np.nan_to_num(np.nanmedian(upper - lower, axis=0)) * (steps > 0)
