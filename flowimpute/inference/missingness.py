"""A self-masking model of values missing not at random (as in not-MIWAE).

Each column with gaps gets a logistic model of its probability of being
missing given its own value, ``P(m_j = 1 | x_j) = sigmoid(a_j x_j + c_j)`` in
model coordinates. An imputer that adds :meth:`SelfMaskingModel.log_prob_of_gaps`
to a density's log-density targets ``p(x_mis | x_obs, m)`` instead of
``p(x_mis | x_obs)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor
from torch.nn.functional import logsigmoid


@dataclass(frozen=True)
class SelfMaskingModel:
    """Per column, the slope ``coef[j]`` and intercept ``intercept[j]`` of the
    logistic model of its missingness given its own value (0 and 0 for a
    column without gaps)."""

    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, filled: np.ndarray, gaps: np.ndarray) -> SelfMaskingModel:
        """Fit each column's logistic model (L2 penalty, ``C=1``) of its
        ``gaps`` given its completed values ``filled``."""
        coef, intercept = np.zeros(filled.shape[1]), np.zeros(filled.shape[1])
        for column in np.flatnonzero(gaps.any(axis=0) & (~gaps).any(axis=0)):
            model = LogisticRegression(C=1.0).fit(filled[:, [column]], gaps[:, column])
            coef[column], intercept[column] = model.coef_[0, 0], model.intercept_[0]
        return cls(coef, intercept)

    def log_prob_of_gaps(self, z: Tensor, gaps: Tensor) -> Tensor:
        """Per row, the log-probability that the ``gaps`` entries went missing
        given the values ``z`` (the other entries' terms do not depend on the
        imputations and are left out)."""
        def tensor(array: np.ndarray) -> Tensor:
            return torch.as_tensor(np.ascontiguousarray(array), dtype=z.dtype, device=z.device)

        logits = z * tensor(self.coef) + tensor(self.intercept)
        return (logsigmoid(logits) * gaps).sum(1)


class LearnedSelfMasking(torch.nn.Module):
    """The same self-masking model with trainable slopes and intercepts, for
    models that learn it jointly with the data's density (not-MIWAE, Ipsen
    et al. 2021): ``log p(m | x)`` of whole rows, so that a bound on
    ``log p(x_obs, m)`` can be maximized over both.

    Parameters
    ----------
    n_features : int
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.coef = torch.nn.Parameter(torch.zeros(n_features))
        self.intercept = torch.nn.Parameter(torch.zeros(n_features))

    def log_prob(self, x: Tensor, gaps: Tensor) -> Tensor:
        """``log p(m | x)`` summed over the last dimension, for completed
        rows ``x`` and their missing mask ``gaps`` (broadcast together)."""
        logits = x * self.coef + self.intercept
        gaps = gaps.to(x.dtype)
        return (gaps * logsigmoid(logits) + (1 - gaps) * logsigmoid(-logits)).sum(-1)

    def as_model(self) -> SelfMaskingModel:
        """The fitted slopes and intercepts as a :class:`SelfMaskingModel`."""
        return SelfMaskingModel(self.coef.detach().cpu().double().numpy(),
                                self.intercept.detach().cpu().double().numpy())
