"""Flow density estimators with the scikit-learn API."""

from __future__ import annotations

import math
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import DensityMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import Tensor

from ._base import (
    BaseFlowEstimator,
    check_hidden_dims,
    draw_seed,
    make_generator,
    seeded_torch,
)
from ._lattice import lattice_steps
from ._training import Augmentation, make_optimizer, run_epoch, train
from .distributions import BASE_DISTRIBUTION_NAMES, make_base_distribution
from .mask_search import MaskSearch
from .masks import check_masks, parity_masks, random_masks
from .models import Flow, autoregressive_transform, coupling_transform
from .transforms import (
    AffineTransformer,
    DeepDenseSigmoidalTransformer,
    MonotoneTransformer,
    RationalQuadraticSpline,
)
from .transforms._mlp import ACTIVATIONS

#: Rows used for the data-dependent initialization of affine-constant layers.
_INIT_ROWS = 4096

#: Constraints of the base-distribution parameters every flow density takes.
BASE_CONSTRAINTS: dict = {
    "base_distribution": [StrOptions(set(BASE_DISTRIBUTION_NAMES))],
    "n_components": [Interval(Integral, 1, None, closed="left")],
}

#: Constraints of the training-noise parameters every flow density takes.
TRAINING_NOISE_CONSTRAINTS: dict = {
    "dequantization": [StrOptions({"none", "auto"}), "array-like"],
    "noise_std": [Interval(Real, 0, None, closed="left")],
}


def _mean_negative_log_likelihood(flow: Flow):
    """The training loss of ``flow``: mean negative log-likelihood of a batch."""
    return lambda batch: -flow.log_prob(batch).mean()


class FlowDensityMixin(DensityMixin):
    """``fit`` / ``score_samples`` / ``score`` / ``sample`` / ``bits_per_dim``
    for estimators whose fitted ``module_`` is a :class:`~flowimpute.models.Flow`
    of standardized data. Subclasses implement ``_build_flow(X_train, seed)``,
    given the standardized training rows (a structure search may use them),
    and take the training-noise parameters ``dequantization`` and
    ``noise_std`` (:data:`TRAINING_NOISE_CONSTRAINTS`)."""

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
        self._fit_scaler(X)
        self.dequantization_widths_ = self._dequantization_widths(X)
        self._resolve_compute()
        self.optimizer_ = None
        self._partial_fit_seed = seed = draw_seed(self.random_state)
        return self._standardize(X), seed

    def _dequantization_widths(self, X: np.ndarray) -> np.ndarray:
        """Each column's dequantization width in the units of ``X`` (0: none)."""
        if isinstance(self.dequantization, str):
            if self.dequantization == "auto":
                return lattice_steps(X)
            return np.zeros(X.shape[1])
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
        widths = self.dequantization_widths_ / self.scale_
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
        its data-dependent layers initialized on them."""
        flow = self._build_flow(X_std, seed).to(device=self.device_, dtype=self.dtype_)
        flow.initialize(self._to_tensor(X_std[:_INIT_ROWS]), seed)
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
            X = self._validated(X, reset=False)
            mean, scale = self._to_tensor(self.mean_), self._to_tensor(self.scale_)
            data = (self._to_tensor(X) - mean) / scale
        flow = self.module_
        config = self._training_config(type(self).__name__, data.shape[0])
        if getattr(self, "optimizer_", None) is None:
            self.optimizer_ = make_optimizer(flow, config)
        seed = getattr(self, "_partial_fit_seed", None)
        if seed is None:
            seed = self._partial_fit_seed = draw_seed(self.random_state)
        loss = run_epoch(flow, _mean_negative_log_likelihood(flow), data,
                         self.optimizer_, config.batch_size, config.clip_grad_norm,
                         torch.Generator().manual_seed(seed + self.n_iter_), self.n_iter_ + 1,
                         self._training_noise())
        self.history_["train_loss"].append(loss)
        self.n_iter_ += 1
        return self

    def _train_more(self, X: np.ndarray, n_epochs: int, seed: int) -> None:
        """Warm start: ``n_epochs`` more epochs on ``X`` (units of the fit),
        with the fitted scaling, training noise and optimizer settings and no
        early stopping. Other fitted attributes, ``history_`` included, are
        left as fitted."""
        flow = self.module_
        data = self._to_tensor(self._standardize(X))
        config = replace(self._training_config(type(self).__name__, len(data)),
                         max_epochs=n_epochs, n_iter_no_change=None)
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
            smoothed version of the data's distribution.
        """
        check_is_fitted(self)
        X = self._validated(X, reset=False)
        mean, scale = self._to_tensor(self.mean_), self._to_tensor(self.scale_)
        log_density = self._map_chunks(lambda rows: self.module_.log_prob((rows - mean) / scale), X)
        return log_density + self._log_scale_jacobian

    def score(self, X, y=None):
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

    def bits_per_dim(self, X) -> float:
        """Mean negative log-likelihood of ``X`` in bits per feature.

        ``-score(X) / (n_features * ln 2)``, the unit of the structure-search
        paper; lower is better. Computed in the units of ``X``.
        """
        return -self.score(X) / (self.n_features_in_ * math.log(2.0))

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Draw rows from the fitted density.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Seeds the draw; the global torch and numpy RNGs are left untouched.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples in the units of the training data.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        generator = make_generator(draw_seed(random_state), self.device_)
        samples = np.empty((n_samples, self.n_features_in_))
        with torch.no_grad():
            for rows in self._row_chunks(n_samples):
                chunk = self.module_.sample(rows.stop - rows.start, self.n_features_in_, generator)
                samples[rows] = self._unstandardize(chunk.cpu().numpy())
        return samples


class CouplingFlowDensity(FlowDensityMixin, BaseFlowEstimator):
    """RealNVP-style normalizing flow density estimator.

    Each of the ``n_layers`` layers is an element-wise affine-constant layer
    followed by an affine coupling, as in "Structure Search for Normalizing
    Flows". Data are standardized with the training mean and standard
    deviation before the flow; densities are reported in the original units.
    Computation is in float64, which keeps every row's result independent of
    the batch it is evaluated in.

    Parameters
    ----------
    n_layers : int, default=4
        Number of (affine-constant, coupling) layers.
    hidden_dims : tuple of int, default=(64, 64)
        Hidden widths of each coupling's conditioner MLP.
    mask : {"parity", "random", "search"}, MaskSearch or array-like of shape \
            (n_layers, n_features), default="parity"
        Coupling structure. ``1`` marks a transformed feature, ``0`` a
        conditioning one. "parity" alternates odd and even features between
        layers; "random" conditions each layer on ``n_features // 2`` random
        features (drawn from ``random_state``); "search" or a
        :class:`~flowimpute.MaskSearch` runs the evolutionary structure
        search on the training rows first (``search_history_``), then
        trains the best structure fully.
    activation : {"relu", "tanh", "silu", "elu"}, default="tanh"
        Conditioner non-linearity.
    log_scale_bound : float, default=3.0
        Bound on each coupling's log-scale (``s = bound * tanh(raw / bound)``).
    base_distribution : {"normal", "laplace", "mixture"}, default="normal"
        Distribution of the latent variables. "mixture": a mixture of
        ``n_components`` Gaussians with diagonal covariances, trained with
        the flow and started from k-means on the initial latent rows
        (:class:`~flowimpute.distributions.GaussianMixtureBase`), for tables
        made of separate groups.
    n_components : int, default=8
        Number of Gaussians of the "mixture" base (ignored otherwise); at
        most the number of training rows.
    max_epochs : int, default=100
        Maximum passes over the training data.
    batch_size : int or "auto", default="auto"
        Rows per minibatch of Adam; "auto" is ``min(256, max(16, n_train // 16))``:
        at least about 16 steps per epoch, so a flow fitted to a few hundred
        rows is not left half-trained after a few epochs (with 256 rows per
        batch, 675 rows give 3 steps per epoch).
    learning_rate : float, default=1e-3
        Adam step size.
    weight_decay : float, default=0.0
        Adam L2 penalty.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping (0 disables the hold-out;
        early stopping then watches the training loss).
    n_iter_no_change : int or None, default=10
        Stop after this many epochs without improvement of at least ``tol``
        and restore the best epoch's parameters; None trains ``max_epochs``.
    tol : float, default=1e-4
        Minimum improvement of the monitored mean negative log-likelihood.
    clip_grad_norm : float or None, default=10.0
        Clip the gradient's global norm to this value.
    dequantization : {"none", "auto"} or array-like of shape (n_features,), \
            default="none"
        Uniform dequantization of discrete columns during training: each
        training batch gets noise ``U(-w/2, w/2)`` on a column of width
        ``w``, so the flow learns a smooth density over the column's grid
        cells instead of spikes at its values. "auto": ``w`` is the grid
        step of every column with at most 64 distinct values on one evenly
        spaced grid (counts, ratings, codes, flags), 0 elsewhere; an array
        gives the widths in the units of ``X``. The fitted density is then
        that of the dequantized data (see ``score_samples``).
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added to every standardized
        training batch (noise regularization, Rothfuss et al., 2019): it
        smooths the fitted density at the cost of sharpness, which can pay
        on tables of a few hundred rows.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; "auto" uses CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the torch computations. float64 keeps every row's
        result independent of the batch it is computed in (to ~1e-16);
        float32 is several times faster on the CPU and the usual choice on a
        GPU, with results that move by ~1e-7 relative between batchings.
    inference_batch_size : int, default=4096
        Rows evaluated at once by ``score_samples`` and ``sample``: their
        working memory beyond the input and the output grows with it, not with
        the number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, random masks, the validation split and batch
        order through a private generator; the global RNG state is untouched.
    verbose : int, default=0
        Show a progress bar with the current loss.

    Attributes
    ----------
    masks_ : ndarray of shape (n_layers, n_features)
        The coupling masks used.
    search_history_ : dict of lists
        Only with a mask search: per evaluated structure (0 is the random
        start) its search loss (mean NLL of standardized data), whether it
        was accepted, and how many layers were re-shuffled.
    search_seconds_ : float
        Only with a mask search: its wall time.
    module_ : Flow
        The fitted torch module (acts on standardized data).
    dequantization_widths_ : ndarray of shape (n_features,)
        The dequantization width of each column (units of ``X``; 0: none).
    mean_, scale_ : ndarray of shape (n_features,)
        Standardization statistics.
    history_ : dict
        ``"train_loss"`` and ``"validation_loss"`` (mean negative
        log-likelihood of standardized data) per epoch.
    n_iter_ : int
        Epochs run.
    device_ : torch.device
        Device the module lives on.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import CouplingFlowDensity
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> flow = CouplingFlowDensity(n_layers=2, max_epochs=5, random_state=0).fit(X)
    >>> flow.score_samples(X[:2]).shape
    (2,)
    >>> flow.sample(4, random_state=0).shape
    (4, 3)
    """

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        **TRAINING_NOISE_CONSTRAINTS,
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "mask": [StrOptions({"parity", "random", "search"}), MaskSearch, "array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "log_scale_bound": [Interval(Real, 0, None, closed="neither")],
        **BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_layers: int = 4,
        hidden_dims: tuple[int, ...] = (64, 64),
        mask="parity",
        activation: str = "tanh",
        log_scale_bound: float = 3.0,
        base_distribution: str = "normal",
        n_components: int = 8,
        max_epochs: int = 100,
        batch_size: int | str = "auto",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | None = 10,
        tol: float = 1e-4,
        clip_grad_norm: float | None = 10.0,
        dequantization="none",
        noise_std: float = 0.0,
        device: str = "auto",
        dtype: str = "float64",
        inference_batch_size: int = 4096,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.n_layers = n_layers
        self.hidden_dims = hidden_dims
        self.mask = mask
        self.activation = activation
        self.log_scale_bound = log_scale_bound
        self.base_distribution = base_distribution
        self.n_components = n_components
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.dequantization = dequantization
        self.noise_std = noise_std
        self.device = device
        self.dtype = dtype
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _resolve_masks(self, X_train: np.ndarray, seed: int) -> np.ndarray:
        n_features = X_train.shape[1]
        if isinstance(self.mask, str) and self.mask == "parity":
            return parity_masks(self.n_layers, n_features)
        if isinstance(self.mask, str) and self.mask == "random":
            return random_masks(self.n_layers, n_features, np.random.RandomState(seed))
        if isinstance(self.mask, MaskSearch) or (isinstance(self.mask, str)
                                                 and self.mask == "search"):
            if n_features < 2:
                return parity_masks(self.n_layers, n_features)
            search = self.mask if isinstance(self.mask, MaskSearch) else MaskSearch()
            result = search.search(
                X_train, self.n_layers, check_hidden_dims(self.hidden_dims), self.activation,
                self.log_scale_bound, self._resolve_batch_size(len(X_train)), seed)
            self.search_history_ = result.history
            self.search_seconds_ = result.seconds
            return result.masks
        return check_masks(self.mask, self.n_layers, n_features)

    def _build_flow(self, X_train: np.ndarray, seed: int) -> Flow:
        hidden_dims = check_hidden_dims(self.hidden_dims)
        self.masks_ = self._resolve_masks(X_train, seed)
        transform = coupling_transform(
            self.masks_, hidden_dims, self.activation, self.log_scale_bound
        )
        return Flow(transform, self._make_base(X_train.shape[1]))


class NAFDensity(FlowDensityMixin, BaseFlowEstimator):
    """Neural autoregressive flow density estimator (Huang et al., 2018).

    Each of the ``n_flows`` layers is an element-wise affine-constant layer
    followed by a masked autoregressive layer: a MADE conditioner emits, for
    every feature, the pseudo-parameters of a strictly increasing
    *transformer* of that feature from the features before it. The order is
    natural in even layers and reversed in odd ones. Data are standardized
    with the training mean and standard deviation; densities are reported in
    the original units.

    Densities are exact. Sampling inverts the flow feature by feature in
    autoregressive order (one conditioner pass per feature and layer): the
    sigmoidal transformers numerically, by bracketing and safeguarded Newton
    steps vectorized over the rows, the affine and spline transformers in
    closed form. Numerical inversion is exact to float64 precision whenever
    the preimage lies within ``|x| <= 1e6`` in every layer; beyond it the
    value is clamped to that bound. Trained models map the base
    distribution's bulk far inside it.

    Parameters
    ----------
    n_flows : int, default=3
        Number of autoregressive layers.
    hidden_dims : tuple of int, default=(64, 64)
        Hidden widths of each MADE conditioner.
    transformer : {"dsf", "ddsf", "affine", "spline"}, default="dsf"
        "dsf": deep sigmoidal flow ``y = logit(w . sigmoid(a x + b))`` with
        ``a > 0`` and ``w`` on the simplex; "ddsf": deep dense sigmoidal flow
        of ``n_transformer_layers`` such layers with ``n_transformer_units``
        units each, joined by convex mixing; "affine": ``y = x exp(s) + t``,
        the masked autoregressive flow (MAF); "spline": a monotone
        rational-quadratic spline of ``n_transformer_units`` bins on
        ``[-5, 5]`` with linear tails (the autoregressive neural spline flow
        of Durkan et al., 2019; inverted in closed form). Sigmoidal
        transformers add ``1e-3 * x`` so they keep a positive slope where all
        units saturate; their log-derivatives are computed in log space, so
        they stay finite far in the tails.
    n_transformer_units : int, default=16
        Sigmoid units per transformer layer ("dsf", "ddsf"), or bins of the
        "spline" transformer.
    n_transformer_layers : int, default=2
        Layers of the "ddsf" transformer (ignored otherwise: "dsf" has one).
    activation : {"relu", "tanh", "silu", "elu"}, default="relu"
        Conditioner non-linearity.
    log_scale_bound : float, default=3.0
        Bound on the affine transformer's log-scale (ignored otherwise).
    base_distribution : {"normal", "laplace", "mixture"}, default="normal"
        Distribution of the latent variables. "mixture": a mixture of
        ``n_components`` Gaussians with diagonal covariances, trained with
        the flow and started from k-means on the initial latent rows
        (:class:`~flowimpute.distributions.GaussianMixtureBase`), for tables
        made of separate groups.
    n_components : int, default=8
        Number of Gaussians of the "mixture" base (ignored otherwise); at
        most the number of training rows.
    max_epochs : int, default=100
        Maximum passes over the training data.
    batch_size : int or "auto", default="auto"
        Rows per minibatch of Adam; "auto" is ``min(256, max(16, n_train // 16))``:
        at least about 16 steps per epoch, so a flow fitted to a few hundred
        rows is not left half-trained after a few epochs (with 256 rows per
        batch, 675 rows give 3 steps per epoch).
    learning_rate : float, default=1e-3
        Adam step size.
    weight_decay : float, default=0.0
        Adam L2 penalty.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping (0 disables the hold-out).
    n_iter_no_change : int or None, default=10
        Stop after this many epochs without improvement of at least ``tol``
        and restore the best epoch's parameters; None trains ``max_epochs``.
    tol : float, default=1e-4
        Minimum improvement of the monitored mean negative log-likelihood.
    clip_grad_norm : float or None, default=10.0
        Clip the gradient's global norm to this value.
    dequantization : {"none", "auto"} or array-like of shape (n_features,), \
            default="none"
        Uniform dequantization of discrete columns during training: each
        training batch gets noise ``U(-w/2, w/2)`` on a column of width
        ``w``, so the flow learns a smooth density over the column's grid
        cells instead of spikes at its values. "auto": ``w`` is the grid
        step of every column with at most 64 distinct values on one evenly
        spaced grid (counts, ratings, codes, flags), 0 elsewhere; an array
        gives the widths in the units of ``X``. The fitted density is then
        that of the dequantized data (see ``score_samples``).
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added to every standardized
        training batch (noise regularization, Rothfuss et al., 2019): it
        smooths the fitted density at the cost of sharpness, which can pay
        on tables of a few hundred rows.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Torch device; "auto" uses CUDA when available.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the torch computations. float64 keeps every row's
        result independent of the batch it is computed in (to ~1e-16);
        float32 is several times faster on the CPU and the usual choice on a
        GPU, with results that move by ~1e-7 relative between batchings.
    inference_batch_size : int, default=4096
        Rows evaluated at once by ``score_samples`` and ``sample``: their
        working memory beyond the input and the output grows with it, not with
        the number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, the validation split and batch order through a
        private generator; the global RNG state is untouched.
    verbose : int, default=0
        Show a progress bar with the current loss.

    Attributes
    ----------
    module_ : Flow
        The fitted torch module (acts on standardized data).
    dequantization_widths_ : ndarray of shape (n_features,)
        The dequantization width of each column (units of ``X``; 0: none).
    mean_, scale_ : ndarray of shape (n_features,)
        Standardization statistics.
    history_ : dict
        ``"train_loss"`` and ``"validation_loss"`` per epoch.
    n_iter_ : int
        Epochs run.
    device_ : torch.device
        Device the module lives on.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import NAFDensity
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> flow = NAFDensity(n_flows=2, hidden_dims=(16,), max_epochs=5, random_state=0).fit(X)
    >>> flow.score_samples(X[:2]).shape
    (2,)
    >>> flow.sample(4, random_state=0).shape
    (4, 3)
    """

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        **TRAINING_NOISE_CONSTRAINTS,
        "n_flows": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "transformer": [StrOptions({"dsf", "ddsf", "affine", "spline"})],
        "n_transformer_units": [Interval(Integral, 1, None, closed="left")],
        "n_transformer_layers": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "log_scale_bound": [Interval(Real, 0, None, closed="neither")],
        **BASE_CONSTRAINTS,
    }

    def __init__(
        self,
        n_flows: int = 3,
        hidden_dims: tuple[int, ...] = (64, 64),
        transformer: str = "dsf",
        n_transformer_units: int = 16,
        n_transformer_layers: int = 2,
        activation: str = "relu",
        log_scale_bound: float = 3.0,
        base_distribution: str = "normal",
        n_components: int = 8,
        max_epochs: int = 100,
        batch_size: int | str = "auto",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | None = 10,
        tol: float = 1e-4,
        clip_grad_norm: float | None = 10.0,
        dequantization="none",
        noise_std: float = 0.0,
        device: str = "auto",
        dtype: str = "float64",
        inference_batch_size: int = 4096,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.n_flows = n_flows
        self.hidden_dims = hidden_dims
        self.transformer = transformer
        self.n_transformer_units = n_transformer_units
        self.n_transformer_layers = n_transformer_layers
        self.activation = activation
        self.log_scale_bound = log_scale_bound
        self.base_distribution = base_distribution
        self.n_components = n_components
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.dequantization = dequantization
        self.noise_std = noise_std
        self.device = device
        self.dtype = dtype
        self.inference_batch_size = inference_batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _make_transformer(self) -> MonotoneTransformer:
        if self.transformer == "affine":
            return AffineTransformer(self.log_scale_bound)
        if self.transformer == "spline":
            return RationalQuadraticSpline(self.n_transformer_units)
        n_layers = self.n_transformer_layers if self.transformer == "ddsf" else 1
        return DeepDenseSigmoidalTransformer(self.n_transformer_units, n_layers)

    def _build_flow(self, X_train: np.ndarray, seed: int) -> Flow:
        transform = autoregressive_transform(
            X_train.shape[1], self.n_flows, self._make_transformer(),
            check_hidden_dims(self.hidden_dims), self.activation,
        )
        return Flow(transform, self._make_base(X_train.shape[1]))
