"""Imputers of mixed tables that the benchmark compares with: each takes a
DataFrame with gaps and returns it filled, in its dtypes, with the categories
it had."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import KNNImputer

from ..preprocessing.table import CATEGORICAL, INTEGER, LABEL_KINDS, TableEncoder


class MostFrequentMeanImputer:
    """Each numeric column's mean (an integer one's, rounded), each
    categorical or boolean column's most frequent value."""

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        table = TableEncoder().fit(frame)
        filled = frame.copy()
        for index, name in enumerate(frame):
            column = frame[name]
            if table.kinds_[index] in LABEL_KINDS:
                value = column.mode().iloc[0]
            elif table.kinds_[index] == INTEGER:
                value = round(column.mean())
            else:
                value = column.mean()
            filled[name] = column.fillna(value)
        return filled.astype(frame.dtypes.to_dict())


class OneHotKNNImputer:
    """KNN imputation on the standardized table with categories one-hot
    encoded; a category back as its largest coordinate, an integer rounded."""

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        table = TableEncoder().fit(frame)
        coordinates = table.encode(frame)
        location = np.nanmean(coordinates, axis=0)
        scale = np.nanstd(coordinates, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        imputed = KNNImputer(n_neighbors=self.n_neighbors, keep_empty_features=True) \
            .fit_transform((coordinates - location) / scale) * scale + location
        imputed = np.where(np.isnan(coordinates), imputed, coordinates)
        return table.decode(imputed, range(frame.shape[1]), frame.index)


class MixedMissForest:
    """MissForest (Stekhoven and Buehlmann, 2012): mean / most frequent
    fill, then rounds over the columns with gaps, fewest gaps first, each
    predicted from all the others by a random forest (a regressor for
    numbers, a classifier for categories and flags; categories enter as
    integer codes), until the change of the fill stops shrinking or
    ``max_iter`` rounds."""

    def __init__(self, n_estimators: int = 50, max_iter: int = 5, random_state: int = 0,
                 n_jobs: int = 1) -> None:
        self.n_estimators, self.max_iter = n_estimators, max_iter
        self.random_state, self.n_jobs = random_state, n_jobs

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        table = TableEncoder().fit(frame)
        discrete = [kind in LABEL_KINDS for kind in table.kinds_]
        gaps = np.isnan(column_codes(frame, table))
        current = column_codes(MostFrequentMeanImputer().fit_transform(frame), table)
        order = [i for i in np.argsort(gaps.sum(axis=0), kind="stable") if gaps[:, i].any()]
        previous_change = np.inf
        for _ in range(self.max_iter):
            before = current.copy()
            for column in order:
                others = np.delete(current, column, axis=1)
                known = ~gaps[:, column]
                forest = (RandomForestClassifier if discrete[column] else RandomForestRegressor)(
                    n_estimators=self.n_estimators, random_state=self.random_state,
                    n_jobs=self.n_jobs)
                forest.fit(others[known], current[known, column])
                current[~known, column] = forest.predict(others[~known])
            change = _change(before, current, gaps, discrete)
            if change >= previous_change:
                current = before
                break
            previous_change = change
        return decode_codes(current, table, frame)


def column_codes(frame: pd.DataFrame, table: TableEncoder) -> np.ndarray:
    """The table as floats, a column each: a category as its index, a flag
    as 0/1, NaN at gaps."""
    coordinates = table.encode(frame)
    columns = []
    for kind, indices in zip(table.kinds_, table.column_coordinates_, strict=True):
        block = coordinates[:, indices]
        if kind == CATEGORICAL:
            block = np.where(np.isnan(block[:, :1]), np.nan,
                             np.argmax(np.nan_to_num(block), axis=1)[:, None])
        columns.append(block[:, 0])
    return np.column_stack(columns)


def _change(before: np.ndarray, after: np.ndarray, gaps: np.ndarray, discrete) -> float:
    """MissForest's stopping statistic: the relative squared change of the
    numeric fill plus the share of changed categorical fill."""
    discrete = np.asarray(discrete)
    numeric = np.sum(((after - before)[:, ~discrete] * gaps[:, ~discrete]) ** 2) / max(
        np.sum((after[:, ~discrete] * gaps[:, ~discrete]) ** 2), 1e-12)
    categorical = np.sum((after != before)[:, discrete] & gaps[:, discrete]) / max(
        gaps[:, discrete].sum(), 1)
    return float(numeric + categorical)


def decode_codes(codes: np.ndarray, table: TableEncoder, frame: pd.DataFrame) -> pd.DataFrame:
    """Filled integer codes and numbers back to the table's dtypes."""
    coordinates = np.zeros((len(frame), table.n_coordinates))
    for index, coordinate_range in enumerate(table.column_coordinates_):
        if table.kinds_[index] == CATEGORICAL:
            coordinates[np.arange(len(frame)),
                        coordinate_range[0] + codes[:, index].astype(int)] = 1.0
        else:
            coordinates[:, coordinate_range[0]] = codes[:, index]
    return table.decode(coordinates, range(frame.shape[1]), frame.index)


def mixed_baseline_imputers(seed: int) -> dict[str, Callable[[], object]]:
    """Factories of the baselines of mixed tables (the libraries' peers are
    :mod:`flowimpute.bench.peers`)."""
    return {
        "most frequent + mean": MostFrequentMeanImputer,
        "KNN(k=5) one-hot": OneHotKNNImputer,
        "MissForest(RF)": lambda: MixedMissForest(random_state=seed, n_jobs=2),
    }
