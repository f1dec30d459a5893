"""The scikit-learn imputer surface shared by flowimpute's imputers.

Handles what every imputer must do the same way: ``missing_values``,
``keep_empty_features``, ``add_indicator``, per-column scaling of the observed
entries, keeping decoded values inside the training range, putting observed
entries back untouched, and ``get_feature_names_out``. A subclass implements
``_fit_model(X_scaled, observed, seed)`` and ``_impute(X_scaled, observed)`` on
the modelled columns (those with at least two distinct observed values at fit
time), in scaled units; empty columns are dropped or zero-filled and constant
ones filled with their value here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils._param_validation import MissingValues
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from .._base import BaseFlowEstimator, draw_seed, seeded_torch
from ..preprocessing.codec import ColumnCodec
from ..preprocessing.table import LABEL_KINDS


def _pandas_output(estimator) -> bool:
    """Whether ``set_output`` asks ``estimator`` for DataFrames from ``transform``."""
    return _get_output_config("transform", estimator)["dense"] == "pandas"


def _is_nan_marker(value) -> bool:
    return isinstance(value, Real) and bool(np.isnan(value))


class BaseFlowImputer(TransformerMixin, BaseFlowEstimator):
    """Imputer machinery on top of :class:`~flowimpute._base.BaseFlowEstimator`."""

    shared_parameters: ClassVar[dict] = {
        "missing_values": np.nan, "add_indicator": False, "keep_empty_features": False,
        **BaseFlowEstimator.shared_parameters,
    }

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        "missing_values": [MissingValues(numeric_only=True)],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan_marker(self.missing_values)
        return tags

    # ---------------------------------------------------------------- input
    def _validate_input(self, X, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as float64 with NaN at every missing entry (a copy where the
        marker is not NaN, since it is then replaced; never written to
        otherwise), and the boolean mask of observed entries. Infinite values
        are rejected."""
        nan_marker = _is_nan_marker(self.missing_values)
        X = self._validated(
            X, reset=reset, copy=not nan_marker,
            ensure_all_finite="allow-nan" if nan_marker else True,
            ensure_min_samples=2 if reset else 1,
        )
        if not nan_marker:
            if reset and self.table_ is not None and any(
                    kind in LABEL_KINDS for kind in self.table_.kinds_):
                raise ValueError(
                    f"missing_values={self.missing_values!r} cannot mark gaps in a table "
                    "with boolean or categorical columns, whose gaps are NaN, None or "
                    "pd.NA: replace the marker by NaN and use missing_values=np.nan.")
            X[X == self.missing_values] = np.nan
        return X, ~np.isnan(X)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Fit the imputer on ``X``, which may contain missing values anywhere.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X_scaled, observed, seed = self._start_fit(X)
        with seeded_torch(seed, self.device_):
            self._fit_model(X_scaled, observed, seed)
        return self

    def _start_fit(self, X) -> tuple[np.ndarray, np.ndarray, int]:
        """Validate the training table, sort its columns into empty, constant
        and modelled ones, fit the indicator and the codec, resolve the
        device and draw the seed; return the scaled modelled columns, their
        observed mask and the seed."""
        self._validate_params()
        X, observed = self._validate_input(X, reset=True)
        seen = observed.any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN columns
            low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        constant = seen & (low == high)
        self.empty_features_ = np.flatnonzero(~seen)
        self.constant_features_ = np.flatnonzero(constant)
        self.constant_values_ = high[constant]
        self.modelled_features_ = np.flatnonzero(seen & ~constant)
        if not seen.any():
            raise ValueError("Every column of X is entirely missing; there is nothing to learn.")
        if self.modelled_features_.size == 0:
            raise ValueError(
                "Every observed column of X takes a single value; there is nothing to learn. "
                "Each gap's imputation is its column's value: SimpleImputer("
                "strategy='most_frequent') fills them.")
        if self.empty_features_.size and not self.keep_empty_features:
            warnings.warn(
                f"Skipping features without any observed values: {self.empty_features_.tolist()}. "
                "They are dropped from the output (set keep_empty_features=True to keep "
                "them, filled with 0).", UserWarning, stacklevel=3,
            )
        self.indicator_ = (
            MissingIndicator(missing_values=np.nan, error_on_new=False).fit(
                self._indicator_input(X)) if self.add_indicator else None
        )
        X = X[:, self.modelled_features_]
        observed = observed[:, self.modelled_features_]
        self.codec_ = self._make_codec().fit(X)
        self._resolve_compute()
        return self._scaled(X, observed), observed, draw_seed(self.random_state)

    # The codec's statistics of the modelled columns, under scikit-learn's names.
    mean_ = property(lambda self: self.codec_.location_)
    scale_ = property(lambda self: self.codec_.scale_)
    data_min_ = property(lambda self: self.codec_.data_min_)
    data_max_ = property(lambda self: self.codec_.data_max_)

    def _make_codec(self) -> ColumnCodec:
        """The unfitted column codec of the modelled columns (a constant
        column is scaled by 1)."""
        return ColumnCodec(constant_columns="unit-scale")

    def _scaled(self, X_modelled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Modelled columns standardized, missing entries at 0 (the column mean)."""
        return np.where(observed, self.codec_.standardize(X_modelled), 0.0)

    def _indicator_input(self, X: np.ndarray) -> np.ndarray:
        """One coordinate per input column of ``X`` (its first), with the
        columns empty at fit all missing, as the indicator saw them."""
        X = X.copy()
        X[:, self.empty_features_] = np.nan
        if self.table_ is None:
            return X
        return X[:, [coordinates[0] for coordinates in self.table_.column_coordinates_]]

    def _output_features(self) -> np.ndarray:
        """The input columns of the output: all with ``keep_empty_features``,
        else those with an observed value at fit (modelled or constant)."""
        if self.keep_empty_features:
            return np.arange(self.n_features_in_)
        kept = np.union1d(self.modelled_features_, self.constant_features_)
        if self.table_ is None:
            return kept
        return np.unique(self.table_.coordinate_columns_[kept])

    def _output(self, completed: np.ndarray, X: np.ndarray, index) -> np.ndarray | pd.DataFrame:
        """The output of completed coordinates ``completed`` of validated
        ``X``: the output columns, then the indicator's. An array for a table
        of numbers; a DataFrame in the input's dtypes (``index`` kept) for
        one read through ``table_`` when it has a categorical column or the
        output is set to pandas, else an array of its decoded values."""
        columns = self._output_features()
        indicator = (None if self.indicator_ is None
                     else self.indicator_.transform(self._indicator_input(X)))
        if self.table_ is None:
            output = completed[:, columns]
            return output if indicator is None else np.hstack([output, indicator])
        frame = self.table_.decode(completed, columns, index)
        if indicator is not None:
            names = self.get_feature_names_out()[len(columns):]
            frame = pd.concat([frame, pd.DataFrame(indicator, columns=names,
                                                   index=frame.index)], axis=1)
        if self.table_.has_categorical or _pandas_output(self):
            return frame
        return frame.to_numpy(dtype=np.float64)

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Impute every missing entry of ``X``.

        Observed entries are returned unchanged, bit for bit; imputed values
        lie within each column's training range (widened by the self-masking
        models of FlowImputer, ACFlowImputer and VFGImputer, see there). A
        column whose observed training entries all take one value is filled
        with it and kept out of the model. The result never contains NaN.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            ``n_features_out`` drops columns that were empty at fit time
            (unless ``keep_empty_features``) and adds the missing indicator
            columns when ``add_indicator``.
        """
        check_is_fitted(self)
        index = X.index if isinstance(X, pd.DataFrame) else None
        X, observed = self._validate_input(X, reset=False)
        return self._output(self._complete(X, observed, self._impute), X, index)

    def _complete(self, X: np.ndarray, observed: np.ndarray, impute) -> np.ndarray:
        """Every coordinate of validated ``X`` with its missing entries
        filled by ``impute(X_scaled, observed)`` (scaled units, modelled
        columns), ``inference_batch_size`` rows at a time: clipped, observed
        entries restored, empty columns at 0. ``X`` is not modified."""
        output = np.empty(X.shape)
        for rows in self._row_chunks(X.shape[0]):
            output[rows] = self._complete_rows(X[rows], observed[rows], impute)
        return output

    def _complete_rows(self, X: np.ndarray, observed: np.ndarray, impute) -> np.ndarray:
        """:meth:`_complete` on one chunk of rows."""
        X_modelled = X[:, self.modelled_features_]
        observed_modelled = observed[:, self.modelled_features_]
        imputed = X_modelled.copy()
        if (~observed_modelled).any():
            X_scaled = self._scaled(X_modelled, observed_modelled)
            estimate = self._in_units(impute(X_scaled, observed_modelled))
            estimate = np.clip(estimate, *self._imputation_range())
            imputed[~observed_modelled] = estimate[~observed_modelled]
        output = np.zeros_like(X)
        output[:, self.modelled_features_] = imputed
        constant = self.constant_features_
        output[:, constant] = np.where(observed[:, constant], X[:, constant],
                                       self.constant_values_)
        return output

    def _in_units(self, Z: np.ndarray) -> np.ndarray:
        """Estimates of the modelled columns, standardized -> the table's units."""
        return self.codec_.unstandardize(Z)

    def _validate_draw_request(self, X, n_imputations) -> tuple[np.ndarray, np.ndarray, object]:
        """The checks of ``sample_imputations``: fitted, a positive number of
        draws; returns validated ``X``, its observed mask and the input's
        index (None for an array)."""
        check_is_fitted(self)
        if not isinstance(n_imputations, Integral) or n_imputations < 1:
            raise ValueError(f"n_imputations must be a positive integer, got {n_imputations!r}.")
        index = X.index if isinstance(X, pd.DataFrame) else None
        return (*self._validate_input(X, reset=False), index)

    def _complete_draws(
        self, X: np.ndarray, observed: np.ndarray, n_imputations: int,
        draw_estimates: Callable[[np.ndarray, np.ndarray, slice], Sequence[np.ndarray]],
        index=None,
    ) -> np.ndarray | list[pd.DataFrame]:
        """Multiple imputation, ``inference_batch_size`` rows at a time:
        ``draw_estimates(X_scaled, observed_modelled, rows)`` returns the
        ``n_imputations`` estimates of a chunk of rows that has missing
        entries (scaled units, modelled columns), and each is completed as
        :meth:`transform` completes its estimate. Returns an array of shape
        (n_imputations, n_samples, n_features_out), or where
        :meth:`transform` gives DataFrames, a list of them."""
        completed = np.empty((n_imputations, *X.shape))
        for rows in self._row_chunks(X.shape[0]):
            X_rows, observed_rows = X[rows], observed[rows]
            modelled = observed_rows[:, self.modelled_features_]
            estimates = [None] * n_imputations   # not called when nothing is missing
            if (~modelled).any():
                estimates = draw_estimates(
                    self._scaled(X_rows[:, self.modelled_features_], modelled), modelled, rows)
            for draw, estimate in enumerate(estimates):
                completed[draw, rows] = self._complete_rows(
                    X_rows, observed_rows, lambda *_, estimate=estimate: estimate)
        outputs = [self._output(draw, X, index) for draw in completed]
        if isinstance(outputs[0], pd.DataFrame):
            return outputs
        return np.stack(outputs)

    def _modelled_input(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``X`` (fitted imputer): its modelled columns scaled, and
        their observed mask."""
        check_is_fitted(self)
        X, observed = self._validate_input(X, reset=False)
        X, observed = X[:, self.modelled_features_], observed[:, self.modelled_features_]
        return self._scaled(X, observed), observed

    def _model_values(self, X_scaled: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Model coordinates (observed entries clipped to the training range
        as in every imputer), 0 at the missing entries: the input of models
        that read a row with its mask."""
        return np.nan_to_num(self.codec_.to_model(X_scaled, observed))

    def _imputation_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of imputed values per modelled column: the training range,
        widened where the codec widens it."""
        codec = self.codec_
        if codec.widen_gapped:
            return (codec.unstandardize(codec.standardized_low_),
                    codec.unstandardize(codec.standardized_high_))
        return codec.data_min_, codec.data_max_

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None
            Defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length {self.n_features_in_}, "
                    f"got {len(input_features)}.")
            if names is not None and not np.array_equal(input_features, names):
                raise ValueError("input_features is not equal to feature_names_in_.")
            names = input_features
        if names is None:
            names = np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        names = np.asarray(names, dtype=object)
        kept = names[self._output_features()]
        if self.indicator_ is None:
            return kept
        indicated = names[self.indicator_.features_]
        return np.concatenate([kept, np.array([f"missingindicator_{n}" for n in indicated],
                                              dtype=object)])
