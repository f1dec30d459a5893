"""CouplingFlowDensity: a RealNVP-style flow with parity, random, explicit or searched masks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseFlowEstimator, check_hidden_dims
from ..flows import Flow, coupling_transform
from ..nn.mlp import ACTIVATIONS
from ..structure.mask_search import MaskSearch
from ..structure.masks import check_masks, parity_masks, random_masks
from ._base import BASE_CONSTRAINTS, TRAINING_NOISE_CONSTRAINTS, FlowDensityMixin


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
        (:class:`~flowimpute.flows.distributions.GaussianMixtureBase`), for tables
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
