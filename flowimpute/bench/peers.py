"""Imputers of other libraries that users weigh flowimpute against: miceforest
and HyperImpute (its automatic imputer and its MissForest, MIWAE, GAIN and
Sinkhorn plugins).

Both are optional (``pip install -e .[peers]``). :func:`peer_imputers` gives
factories of those that import, and a note for each library that does not.
Every peer takes a numeric array (``fit`` / ``transform``: fitted on some
rows, imputing others) and a mixed DataFrame (``fit_transform``: categories
and flags enter HyperImpute as integer codes, every column z-scored, and
come back as the nearest code; miceforest takes pandas categories itself).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..preprocessing.table import LABEL_KINDS, TableEncoder
from .mixed_baselines import column_codes, decode_codes

INSTALL_HINT = "pip install -e .[peers]"

#: HyperImpute plugins in the comparison, by the name the report gives them.
HYPERIMPUTE_PLUGINS = {
    "HyperImpute": "hyperimpute",
    "HyperImpute MissForest": "missforest",
    "HyperImpute MIWAE": "miwae",
    "HyperImpute GAIN": "gain",
    "HyperImpute Sinkhorn": "sinkhorn",
}


def _columns(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(X, dtype=np.float64),
                        columns=[f"x{i}" for i in range(np.shape(X)[1])])


class MiceForestImputer:
    """miceforest's ``ImputationKernel`` (LightGBM per column, mean matching),
    ``iterations`` rounds of MICE, one dataset; new rows are imputed by
    ``impute_new_data`` with the fitted models."""

    def __init__(self, iterations: int = 5, random_state: int = 0) -> None:
        self.iterations = iterations
        self.random_state = random_state

    def _kernel(self, frame: pd.DataFrame):
        import miceforest

        kernel = miceforest.ImputationKernel(frame.reset_index(drop=True),
                                             random_state=self.random_state)
        kernel.mice(self.iterations)
        return kernel

    def fit(self, X, y=None) -> MiceForestImputer:
        self.kernel_ = self._kernel(_columns(X))
        return self

    def transform(self, X) -> np.ndarray:
        completed = self.kernel_.impute_new_data(
            _columns(X), random_state=self.random_state).complete_data(0)
        return completed.to_numpy(dtype=np.float64)

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        # LightGBM takes NaN, not pd.NA: nullable numbers become floats, and
        # text and flags (nullable or not) pandas categories.
        kinds = {}
        for name, dtype in frame.dtypes.items():
            if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
                kinds[name] = "category"
            elif isinstance(dtype, pd.api.extensions.ExtensionDtype):
                kinds[name] = "float64"
        data = frame.astype(kinds)
        completed = self._kernel(data).complete_data(0)
        completed.index = frame.index
        return completed.astype(frame.dtypes.to_dict())


#: HyperImpute plugins whose ``fit`` learns nothing: ``transform`` learns from
#: the rows it fills.
IN_SAMPLE_PLUGINS = frozenset({"hyperimpute", "gain", "sinkhorn"})


class HyperImputeImputer:
    """One HyperImpute imputation plugin (``plugin``, a name its
    ``Imputers().list()`` knows) with its default settings.

    ``in_sample`` is true for the plugins of :data:`IN_SAMPLE_PLUGINS`: a
    fair comparison fills the training rows together with the new ones.
    """

    def __init__(self, plugin: str = "hyperimpute", random_state: int = 0) -> None:
        self.plugin = plugin
        self.random_state = random_state

    @property
    def in_sample(self) -> bool:
        return self.plugin in IN_SAMPLE_PLUGINS

    def _new_plugin(self):
        from hyperimpute.plugins.imputers import Imputers

        return Imputers().get(self.plugin, random_state=self.random_state)

    def fit(self, X, y=None) -> HyperImputeImputer:
        self.plugin_ = self._new_plugin().fit(_columns(X))
        return self

    def transform(self, X) -> np.ndarray:
        return np.asarray(self.plugin_.transform(_columns(X)), dtype=np.float64)

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        table = TableEncoder().fit(frame)
        codes = column_codes(frame, table)
        # z-scored, as the numeric tables reach every imputer: HyperImpute's
        # neural plugins do not scale their input.
        location, scale = np.nanmean(codes, axis=0), np.nanstd(codes, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        filled = np.asarray(self._new_plugin().fit_transform(
            _columns((codes - location) / scale)), dtype=np.float64) * scale + location
        for index, kind in enumerate(table.kinds_):
            if kind in LABEL_KINDS:
                observed = codes[:, index][~np.isnan(codes[:, index])]
                filled[:, index] = np.clip(np.round(filled[:, index]), observed.min(),
                                           observed.max())
        filled = np.where(np.isnan(codes), filled, codes)
        return decode_codes(filled, table, frame)


def peer_imputers(seed: int) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """Factories of the installed peers, and one note per library that is not
    installed."""
    factories: dict[str, Callable[[], object]] = {}
    notes = []
    if importlib.util.find_spec("miceforest") is None:
        notes.append(f"miceforest is not installed ({INSTALL_HINT}).")
    else:
        factories["miceforest"] = lambda: MiceForestImputer(random_state=seed)
    if importlib.util.find_spec("hyperimpute") is None:
        notes.append(f"HyperImpute is not installed ({INSTALL_HINT}).")
    elif int(pd.__version__.split(".")[0]) >= 3:
        # Its imputations are written back by chained assignment, which
        # pandas 3's copy-on-write makes a no-op: every plugin then returns
        # the column means without an error.
        notes.append("HyperImpute is left out: under pandas 3 it silently returns the "
                     "column means; it needs pandas < 3 (the peers extra installs it).")
    else:
        for name, plugin in HYPERIMPUTE_PLUGINS.items():
            factories[name] = (lambda plugin=plugin: HyperImputeImputer(plugin, seed))
    return factories, notes
