"""The one minibatch training loop used by every estimator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

#: A map of a training batch (and a generator for its randomness) to the batch trained on.
Augmentation = Callable[[Tensor, torch.Generator], Tensor]


@dataclass(frozen=True)
class TrainingConfig:
    """Optimization settings, taken from an estimator's parameters."""

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    n_iter_no_change: int | None = 10
    tol: float = 1e-4
    clip_grad_norm: float | None = None
    verbose: int = 0
    description: str = "training"


@dataclass
class TrainingResult:
    """What training leaves behind: losses per epoch and where it stopped."""

    history: dict[str, list[float]] = field(
        default_factory=lambda: {"train_loss": [], "validation_loss": []}
    )
    n_epochs: int = 0
    best_epoch: int = 0


def _batches(n_rows: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, ...]:
    """A random partition of ``range(n_rows)`` into batches of nearly equal size,
    so the last batch is never a stray row or two."""
    order = torch.randperm(n_rows, generator=generator)
    n_batches = max(1, -(-n_rows // batch_size))
    return torch.tensor_split(order, n_batches)


@torch.no_grad()
def evaluate_loss(loss_fn: Callable[[Tensor], Tensor], data: Tensor, batch_size: int) -> float:
    """Row-weighted mean of ``loss_fn`` over ``data`` in chunks."""
    total = 0.0
    for chunk in torch.split(data, batch_size):
        total += float(loss_fn(chunk)) * chunk.shape[0]
    return total / data.shape[0]


def make_optimizer(module: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    """The Adam optimizer every estimator trains with."""
    return torch.optim.Adam(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )


def run_epoch(
    module: nn.Module,
    loss_fn: Callable[[Tensor], Tensor],
    train_data: Tensor,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    clip_grad_norm: float | None,
    generator: torch.Generator,
    epoch: int,
    augment: Augmentation | None = None,
) -> float:
    """One pass of minibatch steps over ``train_data`` in random order; the
    row-weighted mean training loss. ``augment``, if given, maps each batch
    (with ``generator`` for its randomness) before the loss, e.g. to add
    dequantization noise.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names ``epoch``.
    """
    module.train()
    epoch_loss = torch.zeros((), dtype=train_data.dtype, device=train_data.device)
    for index in _batches(train_data.shape[0], min(batch_size, train_data.shape[0]), generator):
        batch = train_data[index.to(train_data.device)]
        if augment is not None:
            batch = augment(batch, generator)
        loss = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(module.parameters(), clip_grad_norm)
        optimizer.step()
        epoch_loss += loss.detach() * batch.shape[0]
    module.eval()
    train_loss = float(epoch_loss) / train_data.shape[0]
    if not torch.isfinite(torch.tensor(train_loss)):
        raise FloatingPointError(
            f"The training loss became {train_loss} in epoch {epoch}. Lower "
            "learning_rate, set clip_grad_norm, or check the data for extreme values."
        )
    return train_loss


def train(
    module: nn.Module,
    loss_fn: Callable[[Tensor], Tensor],
    train_data: Tensor,
    validation_data: Tensor | None,
    config: TrainingConfig,
    generator: torch.Generator,
    augment: Augmentation | None = None,
) -> TrainingResult:
    """Minimize ``loss_fn`` (mean loss of a batch) over ``module``'s parameters with Adam.

    ``augment`` maps each training batch as in :func:`run_epoch`; the
    validation loss is computed on ``validation_data`` as given.

    Early stopping watches the validation loss when ``validation_data`` is
    given, else the training loss: training stops after ``n_iter_no_change``
    epochs without an improvement of at least ``tol``, and the parameters of
    the best epoch are restored.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names the epoch.
    """
    optimizer = make_optimizer(module, config)
    result = TrainingResult()
    best_loss, best_state, epochs_without_improvement = float("inf"), None, 0
    batch_size = min(config.batch_size, train_data.shape[0])
    progress = tqdm(
        range(1, config.max_epochs + 1), desc=config.description,
        disable=not config.verbose, leave=False,
    )
    for epoch in progress:
        train_loss = run_epoch(module, loss_fn, train_data, optimizer, batch_size,
                               config.clip_grad_norm, generator, epoch, augment)
        monitored = train_loss
        result.history["train_loss"].append(train_loss)
        if validation_data is not None:
            monitored = evaluate_loss(loss_fn, validation_data, batch_size)
            result.history["validation_loss"].append(monitored)
        result.n_epochs = epoch
        progress.set_postfix(loss=f"{monitored:.4f}")

        if monitored < best_loss - config.tol:
            best_loss, result.best_epoch, epochs_without_improvement = monitored, epoch, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            epochs_without_improvement += 1
            if (config.n_iter_no_change is not None
                    and epochs_without_improvement >= config.n_iter_no_change):
                break
    progress.close()
    if best_state is not None and config.n_iter_no_change is not None:
        module.load_state_dict(best_state)
    module.eval()
    return result
