"""CouplingFlowDensity: a RealNVP-style flow with parity, random, explicit or searched masks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import check_hidden_dims
from ..flows import Flow, coupling_transform
from ..nn.mlp import ACTIVATIONS
from ..structure.mask_search import MaskSearch
from ..structure.masks import check_masks, parity_masks, random_masks
from ._base import BaseFlowDensity


class CouplingFlowDensity(BaseFlowDensity):
    """RealNVP-style normalizing flow density estimator.

    Each of the ``n_layers`` layers is an element-wise affine-constant layer
    followed by an affine coupling, as in "Structure Search for Normalizing
    Flows". Data are standardized with the training mean and standard
    deviation before the flow; densities are reported in the units of ``X``.

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
    {base_distribution}
    {training}
    {training_noise}
    {table}
    {compute}

    Attributes
    ----------
    {density_attributes}
    masks_ : ndarray of shape (n_layers, n_features)
        The coupling masks used.
    search_history_, search_seconds_
        With a mask search: the search's best loss per iteration and its
        duration (see :class:`~flowimpute.MaskSearch`).

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

    parameters = {"n_layers": 4, "hidden_dims": (64, 64), "mask": "parity",
                  "activation": "tanh", "log_scale_bound": 3.0}

    _parameter_constraints: dict = {
        **BaseFlowDensity._parameter_constraints,
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [tuple, list],
        "mask": [StrOptions({"parity", "random", "search"}), MaskSearch, "array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "log_scale_bound": [Interval(Real, 0, None, closed="neither")],
    }

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
