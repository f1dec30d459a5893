"""Mixed tables: a DataFrame's typed columns to numeric coordinates and back.

Every estimator models numbers. :class:`TableEncoder` is the one place that
reads a table's column kinds from its pandas dtypes, maps each column to its
numeric coordinates (a float, integer or boolean column to one, a categorical
column to one indicator coordinate per category seen at fit), and maps
coordinates back to valid values in the input's dtypes: the category of the
largest coordinate, the integer nearest to the value within the observed
range, a flag by the side of 1/2 it falls on.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd

#: A categorical column with more distinct values than this is refused.
MAX_CATEGORIES = 256

FLOAT, INTEGER, BOOLEAN, CATEGORICAL = "float", "integer", "boolean", "categorical"
#: The kinds whose values are labels (0/1 indicator coordinates), not quantities.
LABEL_KINDS = (BOOLEAN, CATEGORICAL)


class TableEncoder:
    """Map a table's columns to numeric coordinates and back.

    Parameters
    ----------
    categorical_features : "auto" or array-like of int, str or bool
        "auto": categorical columns are those of ``category``, ``object`` or
        ``string`` dtype holding text. Otherwise the columns to model as
        categories (indices, names, or a boolean mask), whatever their dtype;
        every other column must then be numeric or boolean.
    estimator : str
        The name that error messages give.

    Attributes
    ----------
    kinds_ : list of str
        Each column's kind: "float", "integer", "boolean" or "categorical".
    categories_ : list of ndarray or None
        Each categorical column's categories seen at fit (None for others).
    integer_ranges_ : dict
        The observed minimum and maximum of each integer column, by index.
    column_coordinates_ : list of ndarray of int
        The coordinates of each column.
    coordinate_columns_ : ndarray of int of shape (n_coordinates,)
        The column of each coordinate.
    """

    def __init__(self, categorical_features="auto", estimator: str = "The estimator") -> None:
        self.categorical_features = categorical_features
        self.estimator = estimator

    # ----------------------------------------------------------------- fit
    def fit(self, X: pd.DataFrame) -> TableEncoder:
        """Read the kind of every column of ``X`` and the categories of the
        categorical ones. Raises a ValueError that names each column it
        cannot model and says what to do."""
        self.columns_ = list(X.columns)
        self.dtypes_ = list(X.dtypes)
        named = self._named_categorical(X)
        self.kinds_, problems = [], []
        for index, (name, column) in enumerate(X.items()):
            kind, problem = column_kind(name, column, index in named)
            self.kinds_.append(kind)
            if problem:
                problems.append(problem)
        if problems:
            raise ValueError(f"{self.estimator} cannot model column(s): "
                             + "; ".join(problems) + ".")
        self.categories_ = [self._categories(name, X[name]) if kind == CATEGORICAL else None
                            for name, kind in zip(self.columns_, self.kinds_, strict=True)]
        sizes = [1 if categories is None else max(len(categories), 1)
                 for categories in self.categories_]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        self.column_coordinates_ = [np.arange(starts[i], starts[i + 1])
                                    for i in range(len(sizes))]
        self.coordinate_columns_ = np.repeat(np.arange(len(sizes)), sizes)
        self.integer_ranges_ = {
            index: (X.iloc[:, index].min(), X.iloc[:, index].max())
            for index, kind in enumerate(self.kinds_) if kind == INTEGER}
        return self

    def _named_categorical(self, X: pd.DataFrame) -> set[int]:
        """Indices of the columns ``categorical_features`` names."""
        given = self.categorical_features
        if isinstance(given, str) and given == "auto":
            return set()
        given = np.asarray(given)
        n_columns = X.shape[1]
        if given.dtype == bool:
            if given.shape != (n_columns,):
                raise ValueError(f"categorical_features as a boolean mask needs one entry per "
                                 f"column ({n_columns}), got {given.shape[0]}.")
            return set(np.flatnonzero(given).tolist())
        indices = set()
        for entry in given.ravel().tolist():
            if isinstance(entry, str):
                if entry not in self.columns_:
                    raise ValueError(f"categorical_features names {entry!r}, which is not a "
                                     f"column of X (columns: {self.columns_}).")
                indices.add(self.columns_.index(entry))
            elif isinstance(entry, Integral) and -n_columns <= entry < n_columns:
                indices.add(int(entry) % n_columns)
            else:
                raise ValueError(f"categorical_features must hold column indices in "
                                 f"[0, {n_columns}) or column names, got {entry!r}.")
        return indices

    def _categories(self, name, column: pd.Series) -> np.ndarray:
        """The categories of ``column`` seen among its observed entries, in
        the dtype's order for a ``category`` column, sorted otherwise."""
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories[np.unique(column.cat.codes[column.notna()])]
        else:
            categories = pd.Index(pd.unique(column.dropna())).sort_values()
        if len(categories) > MAX_CATEGORIES:
            raise ValueError(
                f"{self.estimator} cannot model column {name!r}: it has {len(categories)} "
                f"distinct categories, more than {MAX_CATEGORIES}; each category is one model "
                "coordinate. An identifier or free text carries no distribution to learn: drop "
                "it, or group rare categories into one (e.g. 'other') before fitting.")
        return np.asarray(categories, dtype=object)

    # ----------------------------------------------------------- properties
    @property
    def n_coordinates(self) -> int:
        return self.coordinate_columns_.size

    @property
    def has_categorical(self) -> bool:
        return CATEGORICAL in self.kinds_

    def coordinate_names(self) -> list[str]:
        """A name per coordinate: the column's, with ``=category`` for categories."""
        names = []
        for name, categories in zip(self.columns_, self.categories_, strict=True):
            if categories is None or not len(categories):
                names.append(str(name))
            else:
                names += [f"{name}={category}" for category in categories]
        return names

    def discrete_widths(self) -> np.ndarray:
        """Each coordinate's grid step in table units: 1 for integer, boolean
        and category coordinates, 0 for float ones."""
        return np.array([0.0 if self.kinds_[column] == FLOAT else 1.0
                         for column in self.coordinate_columns_])

    # -------------------------------------------------------------- encode
    def frame(self, X) -> pd.DataFrame:
        """``X`` as a DataFrame with the fitted columns (an array is read in
        the fitted column order)."""
        if isinstance(X, pd.DataFrame):
            return X
        return pd.DataFrame(np.asarray(X, dtype=object), columns=self.columns_)

    def encode(self, X) -> np.ndarray:
        """The coordinates of the rows of ``X`` (n_rows, n_coordinates), NaN
        at every coordinate of a missing entry. A category not seen at fit
        is refused by name."""
        X = self.frame(X)
        Z = np.empty((X.shape[0], self.n_coordinates))
        for index, name in enumerate(self.columns_):
            column, coordinates = X.iloc[:, index], self.column_coordinates_[index]
            kind = self.kinds_[index]
            if kind == CATEGORICAL:
                Z[:, coordinates] = self._one_hot(name, column, self.categories_[index])
            elif kind == BOOLEAN:
                Z[:, coordinates[0]] = _as_float(column.map(_flag, na_action="ignore"))
            else:
                Z[:, coordinates[0]] = _as_float(column)
        return Z

    def _one_hot(self, name, column: pd.Series, categories: np.ndarray) -> np.ndarray:
        missing = column.isna().to_numpy()
        codes = pd.Index(categories).get_indexer(column.astype(object).where(~missing, None))
        unknown = (codes < 0) & ~missing
        if unknown.any():
            seen = ", ".join(repr(value) for value in pd.unique(column[unknown])[:5])
            raise ValueError(
                f"Column {name!r} holds categories not seen at fit: {seen}. The model has no "
                "coordinate for them: set them to missing (NaN) to have them imputed, or "
                "refit on data that has them.")
        one_hot = np.zeros((len(column), max(len(categories), 1)))
        one_hot[np.flatnonzero(~missing), codes[~missing]] = 1.0
        one_hot[missing] = np.nan
        return one_hot

    # -------------------------------------------------------------- decode
    def decode(self, Z: np.ndarray, columns: Sequence[int], index=None) -> pd.DataFrame:
        """The ``columns`` of a table from coordinates ``Z`` (no NaN at a
        decoded column), in the fitted dtypes: a categorical column takes the
        category of its largest coordinate, an integer column the nearest
        integer within its observed range at fit, a boolean one True from 1/2
        up."""
        decoded = {}
        for column in columns:
            values = Z[:, self.column_coordinates_[column]]
            kind, dtype = self.kinds_[column], self.dtypes_[column]
            if kind == CATEGORICAL:
                categories = self.categories_[column]
                if not len(categories):      # no category at fit: nothing to fill in
                    series = pd.Series([None] * len(Z), dtype=object)
                else:
                    series = pd.Series(categories[np.argmax(values, axis=1)], dtype=object)
            elif kind == INTEGER:
                series = pd.Series(np.clip(np.round(values[:, 0]),
                                           *self.integer_ranges_[column]))
            elif kind == BOOLEAN:
                series = pd.Series(values[:, 0] >= 0.5)
            else:
                series = pd.Series(values[:, 0])
            decoded[self.columns_[column]] = series.astype(dtype)   # categories kept
        frame = pd.DataFrame(decoded)
        if index is not None:
            frame.index = index
        return frame


def column_kind(name, column: pd.Series, named_categorical: bool) -> tuple[str, str | None]:
    """The kind of ``column`` and, where it cannot be modelled, why and what to do."""
    dtype = column.dtype
    if named_categorical:
        return CATEGORICAL, None
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN, None
    if pd.api.types.is_integer_dtype(dtype):
        return INTEGER, None
    if pd.api.types.is_float_dtype(dtype):
        return FLOAT, None
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL, None
    values = column.dropna()
    examples = ", ".join(repr(value) for value in pd.unique(values)[:3])
    found = f"{name!r} ({dtype}" + (f", e.g. {examples})" if examples else ")")
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return FLOAT, (f"{found} holds dates or durations: convert them to numbers (e.g. days "
                       "since a reference date) or drop the column")
    if not pd.api.types.is_object_dtype(dtype) and not pd.api.types.is_string_dtype(dtype):
        return FLOAT, f"{found} is of a kind flowimpute does not model: convert it or drop it"
    types = {type(value) for value in values}
    if not types:                       # no observed entry: an empty column
        return FLOAT, None
    if all(issubclass(t, (bool, np.bool_)) for t in types):
        return BOOLEAN, None
    if all(issubclass(t, Real) and not issubclass(t, (bool, np.bool_))
                     for t in types):
        return FLOAT, None
    if all(issubclass(t, str) for t in types):
        if pd.to_numeric(values, errors="coerce").notna().all():
            return FLOAT, (f"{found} holds numbers written as text: convert it with "
                           f"X[{name!r}] = pd.to_numeric(X[{name!r}]), or name it in "
                           "categorical_features to model it as categories")
        return CATEGORICAL, None
    kinds = ", ".join(sorted(t.__name__ for t in types))
    return FLOAT, (f"{found} mixes Python objects of types {kinds}: make it one kind (text "
                   "for categories, numbers for quantities) before fitting")


def _flag(value) -> float:
    return 1.0 if bool(value) else 0.0


def _as_float(column: pd.Series) -> np.ndarray:
    """A numeric (or nullable) column as float64, NaN where missing."""
    return pd.to_numeric(column.astype(object).where(column.notna(), np.nan),
                         errors="raise").to_numpy(dtype=np.float64)

