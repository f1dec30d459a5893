"""PlanarFlowDensity: a stack of planar layers (Rezende and Mohamed, 2015)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from ..flows import Flow, planar_transform
from ._base import BaseFlowDensity


class PlanarFlowDensity(BaseFlowDensity):
    """Planar flow density estimator.

    An element-wise affine-constant layer (ActNorm), then ``n_layers``
    planar layers ``x + u tanh(w . x + b)``
    (:class:`~flowimpute.transforms.Planar`), each constrained to be
    invertible. A planar layer bends the space along one direction only, so
    a planar flow needs many layers and stays a modest density estimator on
    tables: it is here as the classic baseline and as the layer of VAE
    posteriors. Densities are exact and cost ``O(d)`` per layer and row;
    sampling inverts each layer by a scalar root search.

    Parameters
    ----------
    n_layers : int, default=16
        Number of planar layers.
    {base_distribution}
    {training}
    {training_noise}
    {table}
    {compute}

    Attributes
    ----------
    {density_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import PlanarFlowDensity
    >>> X = np.random.RandomState(0).normal(size=(200, 3))
    >>> flow = PlanarFlowDensity(n_layers=4, max_epochs=5, random_state=0).fit(X)
    >>> flow.score_samples(X[:2]).shape
    (2,)
    """

    parameters = {"n_layers": 16}

    _parameter_constraints: dict = {
        **BaseFlowDensity._parameter_constraints,
        "n_layers": [Interval(Integral, 1, None, closed="left")],
    }

    def _build_flow(self, X_train: np.ndarray, seed: int) -> Flow:
        return Flow(planar_transform(X_train.shape[1], self.n_layers),
                    self._make_base(X_train.shape[1]))
