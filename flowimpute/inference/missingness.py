"""A self-masking model of values missing not at random (as in not-MIWAE).

Each column with gaps gets a logistic model of its probability of being
missing given its own value, ``P(m_j = 1 | x_j) = sigmoid(a_j x_j + c_j)`` in
model coordinates. An imputer that adds :meth:`SelfMaskingModel.log_prob_of_gaps`
to a density's log-density targets ``p(x_mis | x_obs, m)`` instead of
``p(x_mis | x_obs)``.
"""

from __future__ import annotations

import math
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


#: Draws of a column's value per row behind :func:`fit_tilted_self_masking`
#: (the mean of ``exp(a x)`` over them estimates each row's expectation).
TILT_FIT_DRAWS = 32


def fit_tilted_self_masking(draws: np.ndarray, gaps: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of one column's self-masking model, fitted
    through a conditional learned from the observed values alone.

    A model fitted to the observed entries of a column whose values go
    missing by their size learns ``q(x | x_c) = p(x | x_c, m = 0)``, which is
    ``p(x | x_c) (1 - sigmoid(a x + c))`` up to normalization. The missing
    values then follow ``p(x | x_c, m = 1)``, proportional to ``q(x | x_c)
    exp(a x)`` (the odds of going missing; ``c`` cancels), and the chance of
    a gap given the other entries is ``r / (1 + r)`` with ``r = exp(c)
    E_q[exp(a x)]``. This maximizes that likelihood of the column's gaps
    over ``(a, c)`` (with ``a^2 / 2`` as penalty), each row's expectation
    estimated by the mean over its draws from ``q``, then the imputations
    reweight draws of ``q`` by ``exp(a x)``.

    Parameters
    ----------
    draws : ndarray of shape (n_draws, n_rows)
        Draws of the column's value from ``q`` given each row's other
        observed entries.
    gaps : ndarray of bool, shape (n_rows,)
        Whether the column is missing in each row.

    Returns
    -------
    coef, intercept : float
    """
    x = torch.as_tensor(draws, dtype=torch.float64)
    missing = torch.as_tensor(gaps, dtype=torch.float64)
    log_k = math.log(x.shape[0])
    parameters = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([parameters], max_iter=200, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        optimizer.zero_grad()
        slope, intercept = parameters
        logits = intercept + torch.logsumexp(slope * x, dim=0) - log_k
        loss = (torch.nn.functional.softplus(logits) - missing * logits).sum() + slope ** 2 / 2
        loss.backward()
        return loss

    optimizer.step(objective)
    slope, intercept = parameters.detach().tolist()
    return slope, intercept
