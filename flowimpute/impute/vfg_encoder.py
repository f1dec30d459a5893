"""VFGEncoder: a fitted VFG's node states as features, for a Pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .vfg_imputer import VFGImputer


class VFGEncoder(VFGImputer):
    """The Variational Flow Graphical model as a feature extractor.

    Fits exactly as :class:`VFGImputer` (same parameters, same model), but
    ``transform`` returns each row's state at chosen aggregation nodes
    (:meth:`VFGImputer.encode`), the roots by default: a representation of
    the observed sections that a classifier can use in a Pipeline. With
    ``prior="label"`` and ``fit(X, y)`` the roots' prior is centred on a
    learned mean per class, which pulls each class together in the
    representation (the paper's disentangled representations); rows with
    missing values are encoded from their observed sections.

    Parameters
    ----------
    nodes : sequence of str or int, or None, default=None
        Aggregation nodes whose states make the features (see
        :meth:`VFGImputer.encode`); None: the roots.
    **params
        Every parameter of :class:`VFGImputer`.

    Attributes
    ----------
    The attributes of :class:`VFGImputer`.

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import VFGEncoder
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> encoder = VFGEncoder(sections=[[0, 1], [2, 3]], max_epochs=2, random_state=0)
    >>> encoder.fit_transform(X).shape
    (200, 2)
    """

    _parameter_constraints: dict = {**VFGImputer._parameter_constraints,
                                    "nodes": [list, tuple, str, None]}

    parameters = {"nodes": None, **VFGImputer.parameters}

    def transform(self, X) -> np.ndarray:
        """The states of ``nodes`` for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May contain missing values.

        Returns
        -------
        states : ndarray of shape (n_samples, n_nodes * width)
            Each node's coordinates in turn (``latent_dim_`` each; a
            concatenating root has one per modelled column).
        """
        return self.encode(X, self.nodes)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``<node>_<coordinate>`` for each coordinate of each node's state.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = [self.graph_.names[node].replace(" ", "_")
                 for node in self._node_numbers(self.nodes)]
        return np.array([f"{name}_{j}" for name in names for j in range(self._state_width())],
                        dtype=object)
