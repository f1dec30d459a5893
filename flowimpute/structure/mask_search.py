"""Evolutionary search for coupling masks (Algorithm 1 of "Structure Search for
Normalizing Flows").

Start from random masks with ``floor(d/2)`` conditioning features per layer.
Each iteration makes an offspring of the best structure so far by
re-shuffling the masks of ``k`` randomly chosen layers, ``k`` drawn from a
geometric distribution with p = 0.5; trains a freshly initialized flow with
that structure for a short budget of SGD steps with a cyclic learning rate;
and keeps the offspring if its loss is not worse than the best so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ..flows import Flow, StandardNormal, coupling_transform
from .masks import random_masks

#: Largest held-out evaluation batch ("holdout" evaluation).
_MAX_HOLDOUT_ROWS = 1024


@dataclass
class SearchResult:
    """Outcome of a mask search.

    Attributes
    ----------
    masks : ndarray of shape (n_layers, n_features)
        The best structure found (1 = transformed, 0 = conditioning).
    history : dict of lists
        Per evaluated structure (iteration 0 is the random start):
        ``"loss"``, ``"accepted"``, ``"n_modified_layers"``.
    seconds : float
        Wall time of the search.
    """

    masks: np.ndarray
    history: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0


def modify_masks(masks: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, int]:
    """Offspring of ``masks``: the masks of ``k ~ Geometric(0.5)`` (at most
    ``n_layers``) distinct random layers are re-drawn, each keeping its number
    of conditioning features. Returns the new masks and ``k``."""
    n_layers, n_features = masks.shape
    n_modified = min(int(rng.geometric(0.5)), n_layers)
    offspring = masks.copy()
    for layer in rng.choice(n_layers, size=n_modified, replace=False):
        offspring[layer] = offspring[layer, rng.permutation(n_features)]
    return offspring, n_modified


class MaskSearch(BaseEstimator):
    """Settings of the evolutionary coupling-mask search.

    Pass an instance as ``CouplingFlowDensity(mask=MaskSearch(...))``;
    ``mask="search"`` uses the defaults. The flow being searched for (depth,
    conditioner, seed) is the density estimator's; its training rows are
    searched on, after which the best structure is trained fully with the
    estimator's own optimizer and budget.

    Parameters
    ----------
    search_iter : int, default=200
        Offspring to evaluate (the paper's budget T).
    search_steps : int, default=50
        SGD steps that train each offspring (from a fresh initialization)
        before it is evaluated.
    search_patience : int or None, default=None
        Stop after this many consecutive offspring without a strict
        improvement; None runs all ``search_iter``.
    evaluation : {"holdout", "last_batch"}, default="holdout"
        "last_batch" is the paper's choice: the NLL of the last training
        batch. "holdout" scores every offspring on the same held-out batch
        (10% of the rows, at most 1,024, never trained on). It is the
        default because structures are then compared on identical data: with
        "last_batch" each offspring is judged on a different random batch,
        and batch-to-batch noise in the NLL decides many acceptances.
    learning_rate : float, default=0.01
        Peak of the triangular cyclic learning rate (base: a tenth of it),
        one cycle over ``search_steps``; SGD with momentum 0.9.
    n_offspring : int, default=1
        Offspring made from the current best per round, evaluated in
        parallel; the best of them is accepted if not worse than the best so
        far. 1 is the paper's sequential algorithm; larger values trade
        strict sequentiality for parallel speed (a (1+lambda) strategy).
    n_jobs : int or None, default=None
        Worker processes for evaluating a round's offspring (joblib). Each
        offspring's randomness comes from its own seed, so the result for a
        given ``random_state`` does not depend on ``n_jobs``.

    See Also
    --------
    SearchResult : what :meth:`search` returns; the density estimator keeps it
        as ``masks_``, ``search_history_`` and ``search_seconds_``.

    Examples
    --------
    >>> import numpy as np
    >>> from flowimpute import CouplingFlowDensity, MaskSearch
    >>> X = np.random.RandomState(0).normal(size=(300, 6))
    >>> flow = CouplingFlowDensity(n_layers=3, mask=MaskSearch(search_iter=5, search_steps=5),
    ...                            max_epochs=2, random_state=0).fit(X)
    >>> flow.masks_.shape, len(flow.search_history_["loss"])
    ((3, 6), 6)
    """

    _parameter_constraints: dict = {
        "search_iter": [Interval(Integral, 0, None, closed="left")],
        "search_steps": [Interval(Integral, 1, None, closed="left")],
        "search_patience": [Interval(Integral, 1, None, closed="left"), None],
        "evaluation": [StrOptions({"holdout", "last_batch"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_offspring": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        search_iter: int = 200,
        *,
        search_steps: int = 50,
        search_patience: int | None = None,
        evaluation: str = "holdout",
        learning_rate: float = 0.01,
        n_offspring: int = 1,
        n_jobs: int | None = None,
    ) -> None:
        self.search_iter = search_iter
        self.search_steps = search_steps
        self.search_patience = search_patience
        self.evaluation = evaluation
        self.learning_rate = learning_rate
        self.n_offspring = n_offspring
        self.n_jobs = n_jobs

    def search(
        self,
        X: np.ndarray,
        n_layers: int,
        hidden_dims: Sequence[int],
        activation: str,
        log_scale_bound: float,
        batch_size: int,
        seed: int,
    ) -> SearchResult:
        """Search masks for a coupling flow on standardized rows ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Standardized training rows (at least 2 features).
        n_layers, hidden_dims, activation, log_scale_bound
            The flow searched for (see :func:`~flowimpute.flows.coupling_transform`).
        batch_size : int
            Rows per SGD step.
        seed : int
            Seeds the start, the offspring and their training.

        Returns
        -------
        SearchResult
        """
        self._validate_params()
        start_time = time.perf_counter()
        rng = np.random.RandomState(seed)
        train_rows, holdout_rows = X, None
        if self.evaluation == "holdout":
            order = rng.permutation(len(X))
            n_holdout = min(_MAX_HOLDOUT_ROWS, max(1, len(X) // 10))
            holdout_rows, train_rows = X[order[:n_holdout]], X[order[n_holdout:]]
        evaluate = delayed(_train_and_evaluate)
        settings = dict(X_train=train_rows, X_holdout=holdout_rows, hidden_dims=tuple(hidden_dims),
                        activation=activation, log_scale_bound=log_scale_bound,
                        batch_size=min(batch_size, len(train_rows)),
                        steps=self.search_steps, learning_rate=self.learning_rate)
        best = random_masks(n_layers, X.shape[1], rng)
        best_loss = _train_and_evaluate(best, seed=int(rng.randint(2**31)), **settings)
        history = {"loss": [best_loss], "accepted": [True], "n_modified_layers": [0]}
        stale = 0
        parallel = Parallel(n_jobs=self.n_jobs)
        n_rounds = math.ceil(self.search_iter / self.n_offspring)
        for round_ in range(n_rounds):
            n_children = min(self.n_offspring, self.search_iter - round_ * self.n_offspring)
            children = [modify_masks(best, rng) for _ in range(n_children)]
            seeds = [int(rng.randint(2**31)) for _ in children]
            # joblib runs in-process when n_jobs is None or 1.
            losses = parallel(evaluate(masks, seed=s, **settings)
                              for (masks, _), s in zip(children, seeds, strict=True))
            winner = int(np.argmin(losses))
            accepted = losses[winner] <= best_loss
            for index, ((_, n_modified), loss) in enumerate(zip(children, losses, strict=True)):
                history["loss"].append(loss)
                history["accepted"].append(bool(accepted and index == winner))
                history["n_modified_layers"].append(n_modified)
            stale = 0 if losses[winner] < best_loss else stale + n_children
            if accepted:
                best, best_loss = children[winner][0], losses[winner]
            if self.search_patience is not None and stale >= self.search_patience:
                break
        return SearchResult(best, history, time.perf_counter() - start_time)


def _train_and_evaluate(
    masks: np.ndarray,
    *,
    X_train: np.ndarray,
    X_holdout: np.ndarray | None,
    hidden_dims: tuple[int, ...],
    activation: str,
    log_scale_bound: float,
    batch_size: int,
    steps: int,
    learning_rate: float,
    seed: int,
) -> float:
    """Train a fresh flow with ``masks`` for ``steps`` SGD steps; its loss.

    The loss is the mean NLL (standardized units) of the held-out rows, or
    of the last training batch when ``X_holdout`` is None. A diverged run
    (non-finite loss) scores +inf, so it is never accepted.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        data = torch.as_tensor(X_train, dtype=torch.float64)
        flow = Flow(coupling_transform(masks, hidden_dims, activation, log_scale_bound),
                    StandardNormal()).double()
        flow.transform.initialize(data[torch.randperm(len(data), generator=generator)[:4096]])
        optimizer = torch.optim.SGD(flow.parameters(), lr=learning_rate, momentum=0.9)
        schedule = torch.optim.lr_scheduler.CyclicLR(
            optimizer, base_lr=learning_rate / 10, max_lr=learning_rate,
            step_size_up=max(1, steps // 2))
        loss = torch.tensor(float("inf"))
        for _ in range(steps):
            batch = data[torch.randint(len(data), (batch_size,), generator=generator)]
            loss = -flow.log_prob(batch).mean()
            if not torch.isfinite(loss):
                return float("inf")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
            optimizer.step()
            schedule.step()
        if X_holdout is not None:
            with torch.no_grad():
                loss = -flow.log_prob(torch.as_tensor(X_holdout, dtype=torch.float64)).mean()
        value = float(loss.detach())
    return value if math.isfinite(value) else float("inf")
