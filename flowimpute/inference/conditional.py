"""Conditionals of flow densities: p(x_missing | x_observed) by search and by MCMC.

A flow gives ``log p(x)`` exactly, so for a row with missing entries it gives
the conditional ``p(x_mis | x_obs)`` up to a constant. :class:`FlowConditional`
searches towards its mode (projected Adam on the missing entries, every
density of an ensemble side by side), runs Metropolis-adjusted Langevin chains
on it, and averages chains into a conditional mean. It holds no estimator
state: fitted densities (through their public
:meth:`~flowimpute.density.BaseFlowDensity.torch_log_density`), the bounds of
the model coordinates, an optional missingness model, and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._base import make_generator
from .mcmc import independent_noise, mala, shared_noise
from .search import projected_adam


@dataclass(frozen=True)
class FlowConditional:
    """The conditionals of an ensemble of fitted flow densities.

    Parameters
    ----------
    densities : sequence of BaseFlowDensity
        Fitted on the model coordinates.
    low, high : Tensor of shape (n_columns,)
        Bounds every search step and chain proposal stays within.
    step_size : float
        Adam step size of the mode search.
    n_mcmc_steps : int
        Steps of each Langevin chain (half of them tune its step size).
    chunks : callable
        ``chunks(n_rows)``: the row slices to process at once.
    missingness : object with ``log_prob_of_gaps(z, gaps)``, or None
        A missing-not-at-random model whose log-probability of the gaps is
        added to every density's (see :mod:`flowimpute.inference.missingness`).
    """

    densities: Sequence
    low: Tensor
    high: Tensor
    step_size: float
    n_mcmc_steps: int
    chunks: Callable[[int], list[slice]]
    missingness: object | None = None

    def as_tensor(self, array: np.ndarray) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), dtype=self.low.dtype,
                               device=self.low.device)

    def as_mask(self, array: np.ndarray) -> Tensor:
        return torch.as_tensor(array, device=self.low.device)

    def log_target(self, z: Tensor, gaps: Tensor, density) -> Tensor:
        """Per-row ``log p(z)`` under ``density`` (up to a constant), plus the
        missingness model's log-probability that the ``gaps`` went missing."""
        log_p = density.torch_log_density(z, normalized=False)
        if self.missingness is None:
            return log_p
        return log_p + self.missingness.log_prob_of_gaps(z, gaps)

    def mode_search(self, z: Tensor, missing: Tensor, n_steps: int, gaps: Tensor,
                    densities: Sequence | None = None) -> Iterator[tuple[int, Tensor]]:
        """Adam on ``-log_target`` over the ``missing`` entries of ``z``, for
        every density (or those of ``densities``) side by side; yields
        ``(step, current)`` after every step, ``current`` the mean of the
        searches. ``gaps``: the entries that went missing in the data (they
        differ from ``missing`` where observed entries are hidden)."""
        searches = [
            projected_adam(z, missing, lambda x, d=density: -self.log_target(x, gaps, d),
                           self.low, self.high, self.step_size, n_steps)
            for density in (self.densities if densities is None else densities)]
        for states in zip(*searches, strict=True):
            yield states[0][0], torch.stack([current for _, current in states]).mean(0)

    def mode(self, start: np.ndarray, observed: np.ndarray, steps: np.ndarray,
             densities: Sequence | None = None) -> np.ndarray:
        """Search from ``start`` towards the conditional mode, chunk by chunk:
        column ``j`` stops moving after ``steps[j]`` Adam steps while the
        search goes on for the others. A row whose search leaves the finite
        numbers keeps ``start``."""
        out = start.copy()
        rows = np.flatnonzero((~observed).any(axis=1))
        if steps.max() == 0 or rows.size == 0:
            return out
        stops = {int(count): self.as_mask(steps == count) for count in np.unique(steps)
                 if count > 0}
        for block in self.chunks(rows.size):
            chunk = rows[block]
            z = self.as_tensor(start[chunk])
            missing = self.as_mask(~observed[chunk])
            result = z
            for step, current in self.mode_search(z, missing, int(steps.max()), missing,
                                                  densities):
                if step in stops:
                    result = torch.where(stops[step], current, result)
            finite = torch.isfinite(result).all(dim=1, keepdim=True)
            out[chunk] = torch.where(finite, result, z).cpu().numpy()
        return out

    def langevin(self, start: np.ndarray, observed: np.ndarray, seed: int, member: int,
                 average: bool = False) -> np.ndarray:
        """MALA chains on the missing entries of every row, started at
        ``start``, under density number ``member``: one draw per row
        (independent noise), or with ``average`` each chain's mean after its
        tuning half (noise shared by the rows, so a row's estimate does not
        depend on the other rows)."""
        density = self.densities[member]
        out = start.copy()
        rows = np.flatnonzero((~observed).any(axis=1))
        make_noise = shared_noise if average else independent_noise
        generator = None
        for block in self.chunks(rows.size):
            if generator is None or average:   # averaging chunks replay the same noise
                generator = make_generator(seed, self.low.device)
            chunk = rows[block]
            missing = self.as_mask(~observed[chunk])

            def log_target(z: Tensor, missing: Tensor = missing) -> tuple[Tensor, Tensor]:
                z = z.detach().requires_grad_(True)
                with torch.enable_grad():
                    log_p = self.log_target(z, missing, density)
                    (gradient,) = torch.autograd.grad(log_p.sum(), z)
                return log_p.detach(), gradient

            state = mala(self.as_tensor(start[chunk]), missing, log_target, self.low, self.high,
                         self.n_mcmc_steps,
                         make_noise(generator, self.low.dtype, self.low.device),
                         average=average)
            out[chunk] = state.cpu().numpy()
        return out

    def mean(self, starts: Callable[[int], np.ndarray], observed: np.ndarray, n_chains: int,
             seed: int, decode: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The conditional mean of the missing entries: the average of
        ``n_chains`` chains' post-tuning states, chain ``i`` under density
        ``i % len(densities)``, seeded ``seed + i`` and started at
        ``starts(i)``, each mapped by ``decode`` before averaging.
        Deterministic and row-independent."""
        return np.mean([
            decode(self.langevin(starts(index), observed, seed + index,
                                 index % len(self.densities), average=True))
            for index in range(n_chains)], axis=0)
