"""The one estimator base: parameters, input checks, scaling, seeding, device, persistence."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, validate_data
from torch import Tensor, nn

from ._docs import fill_doc
from ._training import Augmentation, Data, Loss, TrainingConfig, TrainingResult, as_tuple, train
from .preprocessing.table import CATEGORICAL, FLOAT, TableEncoder, column_kind

#: The precisions an estimator may compute in (its ``dtype`` parameter).
#: float64 is the default: a matrix product may sum a row's terms in a
#: different order depending on the batch it sits in, which moves float32
#: results by ~1e-7 relative, at the edge of the row-independence tolerance of
#: scikit-learn's checks (float64: ~1e-16). float32 is several times faster on
#: the CPU (user guide, "Speed and scale") and the native precision of GPUs.
#: The mask search trains its candidates in float64.
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: Fewest rows worth holding out for early stopping. The mean loss of fewer
#: rows is too noisy to stop on (10% of a 15-row table is one row), and a
#: small table needs every row to learn from: below this, training uses every
#: row and stops on the training loss.
MIN_VALIDATION_ROWS = 50


def resolve_device(device: str) -> torch.device:
    """``"auto"`` means CUDA when available, else the CPU; anything else is
    passed to :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"Invalid device {device!r}: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return resolved


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch inside the block and restore the caller's global RNG state after."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def draw_seed(random_state) -> int:
    """An integer seed from anything ``check_random_state`` accepts."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def check_hidden_dims(hidden_dims) -> tuple[int, ...]:
    """``hidden_dims`` as a tuple of positive ints, or a ValueError naming it."""
    dims = tuple(hidden_dims)
    if not all(isinstance(h, Integral) and h > 0 for h in dims):
        raise ValueError(f"hidden_dims must be positive integers, got {hidden_dims!r}.")
    return dims


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A private torch generator on ``device``, leaving the global RNG untouched."""
    return torch.Generator(device=device).manual_seed(seed)


def numeric_input(X, estimator: str):
    """``X`` ready for scikit-learn's float conversion, for an estimator
    fitted on numbers only, or a ValueError that names each column it cannot
    read as numbers and says why.

    Anything but a DataFrame is returned as is. A DataFrame's number and
    boolean columns pass; an object column whose entries are all numbers or
    missing (None, ``pd.NA``, NaN) is converted to float64 on a copy (the
    caller's frame is never modified), its missing entries becoming NaN;
    every other column is refused.
    """
    if not isinstance(X, pd.DataFrame):
        return X
    refused, convertible = [], []
    for name, column in X.items():
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        kind, problem = column_kind(name, column, named_categorical=False)
        if problem:
            refused.append(problem)
        elif kind == CATEGORICAL:
            refused.append(f"{name!r} holds categories, but the columns were all numeric at "
                           "fit: fit on a table whose column has this kind")
        else:
            convertible.append(name)
    if refused:
        raise ValueError(f"{estimator} needs numeric columns here; not numeric: "
                         + "; ".join(refused) + ".")
    if not convertible:
        return X
    X = X.copy()
    for name in convertible:
        X[name] = pd.to_numeric(X[name]).astype(np.float64)
    return X


def read_table(X, categorical_features, estimator: str) -> TableEncoder | None:
    """The fitted :class:`~flowimpute.preprocessing.table.TableEncoder` of a
    training table that needs one (a DataFrame with an integer, boolean or
    categorical column, or any input with ``categorical_features`` named),
    None for a table of floats, which is read as an array."""
    named = not (isinstance(categorical_features, str) and categorical_features == "auto")
    if not isinstance(X, pd.DataFrame):
        if not named:
            return None
        X = pd.DataFrame(np.asarray(X, dtype=object))
    table = TableEncoder(categorical_features, estimator).fit(X)
    return table if any(kind != FLOAT for kind in table.kinds_) else None


def parameter_init(own: dict, shared: dict):
    """An ``__init__`` that only stores its arguments: ``own`` parameters
    (name: default, in order; the first may be given by position, every
    other only by keyword), then the ``shared`` ones ``own`` does not
    redefine. Its signature is explicit, so ``get_params``, ``clone`` and
    the documentation see every parameter."""
    names = list(own) + [name for name in shared if name not in own]
    defaults = {**shared, **own}
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD if index == 0
                             else inspect.Parameter.KEYWORD_ONLY, default=defaults[name])
           for index, name in enumerate(names)])

    def __init__(self, *args, **kwargs) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


class MeanLogLikelihoodMixin:
    """``score`` as the mean of ``score_samples``, for estimators that give
    each row a log-likelihood (densities, and imputers of incomplete rows)."""

    def score(self, X, y=None) -> float:
        """Mean log-likelihood of the rows of ``X`` (higher is better).

        As for :class:`sklearn.mixture.GaussianMixture`, this is the average
        (not the sum) of :meth:`score_samples`, so it is the default score of
        :class:`~sklearn.model_selection.GridSearchCV`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))


class BaseFlowEstimator(BaseEstimator):
    """Machinery shared by every flowimpute estimator.

    An estimator declares ``parameters``, its own parameters and their
    defaults in signature order; it takes the ``shared_parameters`` of its
    base after them (the first parameter may be given by position, the rest
    only by keyword, as in scikit-learn), gets an ``__init__`` that only
    stores them (:func:`parameter_init`), and its docstring's shared blocks
    filled in (:func:`flowimpute._docs.fill_doc`).

    It also gives them input checks, the device and precision, seeding, the
    training loop (:meth:`_fit_module`), chunked inference and persistence;
    each learns its column scaling with a
    :class:`~flowimpute.preprocessing.codec.ColumnCodec`.
    """

    #: Parameters every estimator of this base takes after its own.
    shared_parameters: ClassVar[dict] = {
        "categorical_features": "auto", "device": "auto", "dtype": "float64",
        "inference_batch_size": 4096, "random_state": None, "verbose": 0,
    }
    #: The estimator's own parameters and their defaults, in signature order.
    parameters: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "parameters" in cls.__dict__:
            cls.__init__ = parameter_init(cls.parameters, cls.shared_parameters)
            fill_doc(cls)

    _parameter_constraints: dict = {
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "clip_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "categorical_features": [StrOptions({"auto"}), "array-like"],
        "device": [str],
        "dtype": [StrOptions(set(DTYPES))],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -------------------------------------------------------------------- input
    def _validated(self, X, *, reset: bool = True, **kwargs) -> np.ndarray:
        """``X`` as float64 coordinates (``kwargs`` passed to
        :func:`~sklearn.utils.check_array`). On a fit (``reset``) a table with
        integer, boolean or categorical columns gets a ``table_`` encoder and
        is read through it; a table of numbers is read as an array, after
        :func:`numeric_input` has refused columns it cannot read, by name."""
        name = type(self).__name__
        if reset:
            self.table_ = read_table(X, self.categorical_features, name)
        table = getattr(self, "table_", None)
        if table is None:
            return validate_data(self, numeric_input(X, name), dtype=np.float64, reset=reset,
                                 **kwargs)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return check_array(table.encode(X), dtype=np.float64, input_name="X", estimator=self,
                           **kwargs)

    @property
    def n_coordinates_(self) -> int:
        """The number of numeric coordinates the model sees: one per column,
        one per category of a categorical column."""
        table = getattr(self, "table_", None)
        return self.n_features_in_ if table is None else table.n_coordinates

    def _coordinate_names(self) -> list[str] | None:
        """A name per coordinate where the columns have names."""
        table = getattr(self, "table_", None)
        if table is not None:
            return table.coordinate_names()
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else list(names)

    # -------------------------------------------------------------- torch utils
    def _resolve_compute(self) -> None:
        """Set ``device_`` and ``dtype_`` (a torch dtype) from the parameters."""
        self.device_ = resolve_device(self.device)
        self.dtype_ = DTYPES[self.dtype]

    def _to_tensor(self, X: np.ndarray) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(X), dtype=self.dtype_, device=self.device_)

    def _row_chunks(self, n_rows: int) -> list[slice]:
        """Consecutive slices of at most ``inference_batch_size`` rows."""
        step = self.inference_batch_size
        return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]

    @torch.no_grad()
    def _map_chunks(self, function: Callable[..., Tensor], *arrays: np.ndarray) -> np.ndarray:
        """Apply ``function`` to the same chunks of ``inference_batch_size``
        rows of each array (float arrays become tensors of ``dtype_``, boolean
        and integer ones boolean and integer tensors); return a float64 array."""
        def tensor(array: np.ndarray) -> Tensor:
            if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
                return torch.as_tensor(array, device=self.device_)
            return self._to_tensor(array)

        outputs = [function(*(tensor(array[rows]) for array in arrays))
                   .to("cpu", torch.float64).numpy()
                   for rows in self._row_chunks(arrays[0].shape[0])]
        return np.concatenate(outputs, axis=0)

    def _resolve_batch_size(self, n_train: int) -> int:
        """``batch_size``, where ``"auto"`` means ``min(256, max(16, n_train // 16))``:
        at least about 16 optimizer steps per epoch, however small the table."""
        if self.batch_size == "auto":
            return min(256, max(16, n_train // 16))
        return self.batch_size

    def _training_config(self, description: str, n_train: int) -> TrainingConfig:
        return TrainingConfig(
            max_epochs=self.max_epochs,
            batch_size=self._resolve_batch_size(n_train),
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            clip_grad_norm=self.clip_grad_norm,
            verbose=self.verbose,
            description=description,
        )

    def _split_validation(self, n_rows: int, seed: int, fraction: float | None = None
                          ) -> tuple[np.ndarray, np.ndarray | None]:
        """Row indices for training and, when ``fraction`` (by default
        ``validation_fraction``) of the rows makes at least
        :data:`MIN_VALIDATION_ROWS`, validation."""
        order = np.random.RandomState(seed).permutation(n_rows)
        fraction = self.validation_fraction if fraction is None else fraction
        n_validation = int(fraction * n_rows)
        if n_validation < MIN_VALIDATION_ROWS or n_rows - n_validation < 2:
            return order, None
        return order[n_validation:], order[:n_validation]

    def _fit_module(
        self,
        module: nn.Module,
        loss_fn: Loss,
        train_data: Data,
        validation_data: Data | None,
        seed: int,
        augment: Augmentation | None = None,
    ) -> TrainingResult:
        """Train ``module`` on a tensor or a tuple of tensors (each batch's
        values mapped by ``augment``, if given) and record ``history_`` and
        ``n_iter_``."""
        result = train(
            module, loss_fn, train_data, validation_data,
            self._training_config(type(self).__name__, as_tuple(train_data)[0].shape[0]),
            torch.Generator().manual_seed(seed), augment,
        )
        self.history_ = result.history
        self.n_iter_ = result.n_epochs
        return result

    # -------------------------------------------------------------- persistence
    #: The fitted attributes that hold torch modules, moved across devices
    #: by pickling.
    _module_attributes: ClassVar[tuple[str, ...]] = ("module_",)

    def __getstate__(self):
        """Pickle with the torch modules on the CPU, so a model fitted on a
        GPU loads on a machine without one."""
        state = dict(super().__getstate__())   # the instance's own dict: leave it be
        if getattr(self, "device_", torch.device("cpu")).type == "cpu":
            return state
        memo: dict = {}   # one copy of a module that several attributes hold
        for name in self._module_attributes:
            if state.get(name) is not None:
                state[name] = copy.deepcopy(state[name], memo).to("cpu")
                if state.get("optimizer_") is not None:  # it would point at the GPU copy
                    state["optimizer_"] = None
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        device = getattr(self, "device_", None)
        if device is None or getattr(self, "module_", None) is None:
            return
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"{type(self).__name__} was fitted on {device}, which is not available "
                "here; it is loaded on the CPU.", stacklevel=2,
            )
            device = torch.device("cpu")
        self.device_ = device
        for name in self._module_attributes:
            if getattr(self, name, None) is not None:
                getattr(self, name).to(device)
