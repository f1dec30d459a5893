"""Metropolis-adjusted Langevin (MALA) chains over some entries of each row.

FlowImputer draws missing entries from ``p(x_mis | x_obs)`` with these chains
and estimates the conditional mean by averaging them. Each row runs its own
chain with its own step size, tuned during the first half of the steps
towards a 0.57 acceptance rate (Robbins-Monro), so rows never interact,
except through the random numbers: :func:`independent_noise` gives every row
its own (draws that are independent across rows), :func:`shared_noise` gives
every row the same sequence (a row's result then does not depend on which
other rows are in the batch, as a deterministic ``transform`` requires).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

#: Acceptance rate the step sizes are tuned towards (optimal for MALA).
TARGET_ACCEPTANCE = 0.57
#: Step size every chain starts from.
INITIAL_STEP_SIZE = 0.1

#: ``draw(shape)`` -> standard normal noise of ``shape`` and one uniform per row.
NoiseSource = Callable[[tuple[int, int]], tuple[Tensor, Tensor]]
#: ``log_target(z)`` -> per-row log-density and its gradient with respect to ``z``.
LogTarget = Callable[[Tensor], tuple[Tensor, Tensor]]


def independent_noise(generator: torch.Generator, dtype: torch.dtype,
                      device: torch.device) -> NoiseSource:
    """Fresh random numbers for every row."""
    def draw(shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
        return (torch.randn(shape, generator=generator, dtype=dtype, device=device),
                torch.rand(shape[0], generator=generator, dtype=dtype, device=device))
    return draw


def shared_noise(generator: torch.Generator, dtype: torch.dtype,
                 device: torch.device) -> NoiseSource:
    """The same random numbers for every row (common random numbers): what
    a row gets does not depend on how many rows share the batch."""
    def draw(shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
        gaussian = torch.randn((1, shape[1]), generator=generator, dtype=dtype, device=device)
        uniform = torch.rand(1, generator=generator, dtype=dtype, device=device)
        return gaussian.expand(shape), uniform.expand(shape[0])
    return draw


def mala(start: Tensor, free: Tensor, log_target: LogTarget, low: Tensor, high: Tensor,
         n_steps: int, noise: NoiseSource, average: bool = False) -> Tensor:
    """Run one MALA chain per row on the ``free`` entries of ``start``.

    Parameters
    ----------
    start : Tensor of shape (n_rows, n_columns)
    free : Tensor of bool, same shape
        The entries that move; the others keep their value in ``start``.
    log_target : callable
        Per-row log-density (up to a constant) and its gradient.
    low, high : Tensor of shape (n_columns,)
        Proposals outside this box are rejected.
    n_steps : int
        Steps per chain, the first ``n_steps // 2`` of them tuning the step size.
    noise : callable
        :func:`independent_noise` or :func:`shared_noise`.
    average : bool, default=False
        Return the mean of the states after the tuning half (an estimate of
        the conditional mean) instead of the last state (a draw).

    Returns
    -------
    Tensor of shape (n_rows, n_columns)
    """
    n_burn_in = n_steps // 2
    z = start
    step = torch.full((start.shape[0], 1), INITIAL_STEP_SIZE, dtype=start.dtype,
                      device=start.device)
    total = torch.zeros_like(start) if average else None
    log_p, gradient = log_target(z)
    gradient = gradient * free
    for iteration in range(n_steps):
        gaussian, uniform = noise(tuple(z.shape))
        proposal = z + (step * gradient + torch.sqrt(2 * step) * gaussian) * free
        inside = ((proposal >= low) & (proposal <= high)).all(1)
        proposal = torch.where(inside.unsqueeze(1), proposal, z)
        log_p_new, gradient_new = log_target(proposal)
        gradient_new = gradient_new * free
        log_accept = (log_p_new - log_p
                      + _proposal_log_density(z, proposal, gradient_new, step, free)
                      - _proposal_log_density(proposal, z, gradient, step, free))
        accept = inside & (torch.log(uniform) < log_accept)
        z = torch.where(accept.unsqueeze(1), proposal, z)
        log_p = torch.where(accept, log_p_new, log_p)
        gradient = torch.where(accept.unsqueeze(1), gradient_new, gradient)
        if iteration < n_burn_in:
            rate = 1.0 / math.sqrt(iteration + 1)
            step = step * torch.exp(rate * (accept.to(step.dtype).unsqueeze(1)
                                            - TARGET_ACCEPTANCE))
        elif average:
            total = total + z
    return total / (n_steps - n_burn_in) if average else z


def _proposal_log_density(to: Tensor, start: Tensor, gradient: Tensor, step: Tensor,
                          free: Tensor) -> Tensor:
    """Log-density (up to a constant shared by both directions) of a Langevin
    proposal ``to ~ N(start + step * gradient, 2 * step)`` on the free entries."""
    mean = start + step * gradient
    return -((to - mean) * free).pow(2).sum(1) / (4 * step.squeeze(1))
