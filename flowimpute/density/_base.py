"""The density protocol: what every flow density estimator is and offers.

:class:`BaseFlowDensity` is the abstract base of the flow densities. A family
(coupling, autoregressive, ...) declares its own parameters with their
defaults and implements :meth:`BaseFlowDensity._build_flow`; the base gives
it the shared parameters, a keyword-only ``__init__`` that only stores them
and their documentation (:class:`~flowimpute._base.BaseFlowEstimator`), and
the whole estimator: ``fit``, ``partial_fit``,
``score_samples``, ``score``, ``bits_per_dim`` and ``sample``.

Imputers and other inference engines use a fitted density through two public
methods only: :meth:`BaseFlowDensity.torch_log_density`, a differentiable
log-density of rows given as tensors, and :meth:`BaseFlowDensity.train_more`,
a warm start on new rows.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import DensityMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import Tensor

from .._base import (
    BaseFlowEstimator,
    MeanLogLikelihoodMixin,
    draw_seed,
    make_generator,
    seeded_torch,
)
from .._training import Augmentation, make_optimizer, run_epoch, train
from ..flows import Flow
from ..flows.distributions import BASE_DISTRIBUTION_NAMES, make_base_distribution
from ..preprocessing.codec import ColumnCodec

#: Rows used for the data-dependent initialization of affine-constant layers.
_INIT_ROWS = 4096

#: Uniform points per row that estimate the probability of a table's discrete values.
DEQUANTIZATION_DRAWS = 16

def _mean_negative_log_likelihood(flow: Flow):
    """The training loss of ``flow``: mean negative log-likelihood of a batch."""
    return lambda batch: -flow.log_prob(batch).mean()


class BaseFlowDensity(MeanLogLikelihoodMixin, DensityMixin, BaseFlowEstimator, ABC):
    """Abstract base of the flow density estimators.

    A family declares ``parameters``, its own parameters and their defaults
    in signature order (the ``shared_parameters`` below follow them), adds
    their constraints to ``_parameter_constraints``, and implements
    :meth:`_build_flow`. Its docstring may name the shared parameter blocks
    ``{base_distribution}``, ``{training}``, ``{training_noise}``,
    ``{compute}`` and ``{density_attributes}`` (:mod:`flowimpute._docs`).
    """

    shared_parameters: ClassVar[dict] = {
        "base_distribution": "normal", "n_components": 8,
        "max_epochs": 100, "batch_size": "auto", "learning_rate": 1e-3, "weight_decay": 0.0,
        "validation_fraction": 0.1, "n_iter_no_change": 10, "tol": 1e-4,
        "clip_grad_norm": 10.0, "dequantization": "none", "noise_std": 0.0,
        **BaseFlowEstimator.shared_parameters,
    }

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        "base_distribution": [StrOptions(set(BASE_DISTRIBUTION_NAMES))],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "dequantization": [StrOptions({"none", "auto"}), "array-like"],
        "noise_std": [Interval(Real, 0, None, closed="left")],
    }

    @abstractmethod
    def _build_flow(self, X_train: np.ndarray, seed: int) -> Flow:
        """The untrained flow for standardized training rows ``X_train`` (a
        structure search may use them), its parameters drawn from the global
        torch RNG (seeded by the caller)."""

    def fit(self, X, y=None):
        """Fit the flow to ``X`` by maximum likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN and infinite values are rejected.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X_std, seed = self._start_fit(X)
        train_rows, validation_rows = self._split_validation(X_std.shape[0], seed)
        X_train = self._to_tensor(X_std[train_rows])
        X_validation = None if validation_rows is None else self._to_tensor(X_std[validation_rows])
        with seeded_torch(seed, self.device_):
            flow = self.module_ = self._new_flow(X_std[train_rows], seed)
            self._fit_module(flow, _mean_negative_log_likelihood(flow),
                             X_train, X_validation, seed, self._training_noise())
        return self

    def _start_fit(self, X) -> tuple[np.ndarray, int]:
        """Validate the first training rows, learn the scaling, resolve the
        device and draw the seed; return the standardized rows and the seed."""
        self._validate_params()
        X = self._validated(X, ensure_min_samples=2)
        self.codec_ = ColumnCodec().fit(X, self._coordinate_names(), type(self).__name__)
        self.dequantization_widths_ = self._dequantization_widths(X)
        self._resolve_compute()
        self.optimizer_ = None
        self._partial_fit_seed = seed = draw_seed(self.random_state)
        return self.codec_.standardize(X), seed

    def _dequantization_widths(self, X: np.ndarray) -> np.ndarray:
        """Each coordinate's dequantization width in the units of ``X`` (0:
        none): a table's integer, boolean and category coordinates always
        have width 1, so that their density is one of probability cells;
        ``dequantization`` sets the others."""
        table = self.table_
        discrete = np.zeros(X.shape[1]) if table is None else table.discrete_widths()
        if isinstance(self.dequantization, str):
            if self.dequantization == "auto":
                return np.where(discrete > 0, discrete, self.codec_.lattice_widths(X))
            return discrete
        if table is not None:
            raise ValueError(
                "dequantization as an array gives a width per column of a table of numbers; "
                "this table's integer, boolean and categorical columns are dequantized by "
                "their kind: use 'none' or 'auto' for its float columns.")
        widths = np.asarray(self.dequantization, dtype=np.float64)
        if widths.shape != (X.shape[1],) or not (np.isfinite(widths) & (widths >= 0)).all():
            raise ValueError(
                f"dequantization must be 'none', 'auto' or one finite, non-negative width per "
                f"feature ({X.shape[1]}); got an array of shape {widths.shape}.")
        return widths

    def _training_noise(self) -> Augmentation | None:
        """The map that adds training noise to a batch of standardized rows:
        uniform noise over each column's dequantization width, then Gaussian
        noise of ``noise_std``; None when there is neither."""
        widths = self.dequantization_widths_ / self.codec_.scale_
        if not widths.any() and self.noise_std == 0:
            return None
        widths_tensor, noise_std = self._to_tensor(widths), self.noise_std

        def add_noise(batch: Tensor, generator: torch.Generator) -> Tensor:
            uniform = torch.rand(batch.shape, generator=generator, dtype=batch.dtype)
            noisy = batch + (uniform.to(batch.device) - 0.5) * widths_tensor
            if noise_std:
                normal = torch.randn(batch.shape, generator=generator, dtype=batch.dtype)
                noisy = noisy + noise_std * normal.to(batch.device)
            return noisy

        return add_noise

    def _make_base(self, n_features: int):
        """The base distribution named by ``base_distribution``."""
        return make_base_distribution(self.base_distribution, n_features, self.n_components)

    def _new_flow(self, X_std: np.ndarray, seed: int) -> Flow:
        """The flow built from standardized rows (a mask search uses them),
        its data-dependent layers initialized on them with the training noise
        it will be trained on (without it, the layers would scale a
        dequantized column to the spread of its grid values, which can be
        tiny for a rare one)."""
        flow = self._build_flow(X_std, seed).to(device=self.device_, dtype=self.dtype_)
        rows, add_noise = self._to_tensor(X_std[:_INIT_ROWS]), self._training_noise()
        if add_noise is not None:
            rows = add_noise(rows, torch.Generator().manual_seed(seed))
        flow.initialize(rows, seed)
        return flow

    def partial_fit(self, X, y=None):
        """One epoch of minibatch Adam over ``X``, continuing the current fit.

        For data that arrives in chunks or does not fit in memory: call it
        once per chunk, and pass over the chunks again for more epochs. On an
        unfitted estimator the first call learns the column scaling from its
        chunk, builds the flow from it (masks, a mask search, the
        data-dependent initialization) and creates the optimizer; later calls
        keep that scaling and the optimizer's state, so make the first chunk
        representative (e.g. shuffled rows). After :meth:`fit` it continues
        from the fitted flow with a fresh optimizer. There is no validation
        split and no early stopping: score a held-out chunk with
        :meth:`score` to decide when to stop. ``history_["train_loss"]``
        gains one entry per call and ``n_iter_`` counts the calls' epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training rows; NaN and infinite values are rejected.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if getattr(self, "module_", None) is None:
            X_std, seed = self._start_fit(X)
            with seeded_torch(seed, self.device_):
                self.module_ = self._new_flow(X_std, seed)
            self.history_ = {"train_loss": [], "validation_loss": []}
            self.n_iter_ = 0
            data = self._to_tensor(X_std)
        else:
            data = self._standardized_tensor(self._to_tensor(self._validated(X, reset=False)))
        flow = self.module_
        config = self._training_config(type(self).__name__, data.shape[0])
        if getattr(self, "optimizer_", None) is None:
            self.optimizer_ = make_optimizer(flow, config)
        seed = getattr(self, "_partial_fit_seed", None)
        if seed is None:
            seed = self._partial_fit_seed = draw_seed(self.random_state)
        # The torch RNG is seeded too: a flow may draw in its forward pass (a
        # residual flow's log-determinant estimator).
        with seeded_torch(seed + self.n_iter_, self.device_):
            loss = run_epoch(flow, _mean_negative_log_likelihood(flow), data,
                             self.optimizer_, config.batch_size, config.clip_grad_norm,
                             torch.Generator().manual_seed(seed + self.n_iter_),
                             self.n_iter_ + 1, self._training_noise())
        self.history_["train_loss"].append(loss)
        self.n_iter_ += 1
        return self

    def train_more(self, X: np.ndarray, n_epochs: int, seed: int) -> None:
        """Warm start: ``n_epochs`` more epochs of minibatch Adam on ``X``.

        With the fitted scaling, training noise and optimizer settings, a
        fresh optimizer and no early stopping; other fitted attributes,
        ``history_`` included, stay as fitted. For inference engines that
        refit a density on new fills of the same table (EM).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Complete rows in the units of the fit.
        n_epochs : int
        seed : int
            Seeds the batch order and the training noise.
        """
        check_is_fitted(self)
        flow = self.module_
        data = self._to_tensor(self.codec_.standardize(X))
        config = replace(self._training_config(type(self).__name__, len(data)),
                         max_epochs=n_epochs, n_iter_no_change=None)
        with seeded_torch(seed, self.device_):
            train(flow, _mean_negative_log_likelihood(flow), data, None, config,
                  torch.Generator().manual_seed(seed), self._training_noise())

    def score_samples(self, X):
        """Log-density of each row of ``X``, in the units of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Natural logarithm of the fitted density at each row. The
            standardization applied internally is accounted for by its
            log-Jacobian, so values are comparable with other density
            estimators fitted on the same data. With ``dequantization`` or
            ``noise_std``, it is the density of the noisy training data: a
            smoothed version of the data's distribution. On a table with
            integer, boolean or categorical columns it is a log-probability
            of their values times the density of the float columns: each
            discrete value is the unit cell around it (a category the cell
            around its indicator vector), and the cell's probability is
            estimated by the mean density of ``DEQUANTIZATION_DRAWS`` fixed
            uniform points in it, whose logarithm is a lower bound on the
            log-probability in expectation (the dequantization bound) that
            tightens with more points.
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        if self.table_ is None:
            return self._map_chunks(self.torch_log_density, X)
        widths = self._to_tensor(self.table_.discrete_widths())
        generator = torch.Generator().manual_seed(0)
        offsets = (torch.rand(DEQUANTIZATION_DRAWS, X.shape[1], generator=generator,
                              dtype=self.dtype_).to(self.device_) - 0.5) * widths

        def cell_log_probability(rows: Tensor) -> Tensor:
            log_densities = torch.stack([self.torch_log_density(rows + offset)
                                         for offset in offsets])
            return torch.logsumexp(log_densities, dim=0) - math.log(DEQUANTIZATION_DRAWS)

        return self._map_chunks(cell_log_probability, X)

    def torch_log_density(self, X: Tensor, *, normalized: bool = True) -> Tensor:
        """Differentiable log-density of rows given as a tensor.

        The inference face of the density, for engines that follow its
        gradient (conditional-mode searches, Langevin chains): no input
        checks, no chunking, gradients kept.

        Parameters
        ----------
        X : Tensor of shape (n_samples, n_features)
            Rows in the units of the fit, of ``dtype_`` on ``device_``.
        normalized : bool, default=True
            False leaves out the constant log-Jacobian of the internal
            scaling: the same gradient, one addition fewer.

        Returns
        -------
        log_density : Tensor of shape (n_samples,)
        """
        log_density = self.module_.log_prob(self._standardized_tensor(X))
        return log_density + self.codec_.log_jacobian if normalized else log_density

    def _standardized_tensor(self, X: Tensor) -> Tensor:
        codec = self.codec_
        return (X - self._to_tensor(codec.location_)) / self._to_tensor(codec.scale_)

    def bits_per_dim(self, X) -> float:
        """Mean negative log-likelihood of ``X`` in bits per feature.

        ``-score(X) / (n_features * ln 2)``, the unit of the structure-search
        paper; lower is better. Computed in the units of ``X``.
        """
        return -self.score(X) / (self.n_features_in_ * math.log(2.0))

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray | pd.DataFrame:
        """Draw rows from the fitted density.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Seeds the draw; the global torch and numpy RNGs are left untouched.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Samples in the units of the training data. A table fitted with
            integer, boolean or categorical columns gives a DataFrame of
            valid rows in its dtypes: each category the one of its largest
            coordinate, each integer the nearest one within the observed
            range, each flag True from 1/2 up.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        generator = make_generator(draw_seed(random_state), self.device_)
        n_coordinates = self.n_coordinates_
        samples = np.empty((n_samples, n_coordinates))
        with torch.no_grad():
            for rows in self._row_chunks(n_samples):
                chunk = self.module_.sample(rows.stop - rows.start, n_coordinates, generator)
                samples[rows] = self.codec_.unstandardize(chunk.cpu().numpy())
        if self.table_ is None:
            return samples
        return self.table_.decode(samples, range(self.n_features_in_))
