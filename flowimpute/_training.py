"""The one minibatch training loop used by every estimator.

Training data is a tensor or a tuple of tensors with the same number of rows
(values, masks, context, ...): batches take the same rows of each, and the
loss is called with one argument per tensor, so a masked model never packs its
masks into float columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

#: A map of a training batch's values (its first tensor) and a generator for
#: its randomness to the values trained on, e.g. with dequantization noise.
Augmentation = Callable[[Tensor, torch.Generator], Tensor]
#: Training data: one tensor, or several with the same number of rows.
Data = Tensor | tuple[Tensor, ...]
#: The mean loss of a batch, given its tensors in the order of the data.
Loss = Callable[..., Tensor]


def as_tuple(data: Data) -> tuple[Tensor, ...]:
    """``data`` as a tuple of tensors, checked to have the same number of rows."""
    tensors = (data,) if isinstance(data, Tensor) else tuple(data)
    if not tensors or len({tensor.shape[0] for tensor in tensors}) != 1:
        raise ValueError("training data must be one or more tensors with the same number of "
                         f"rows; got shapes {[tuple(t.shape) for t in tensors]}.")
    return tensors


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
    average_epochs: float | None = None


class ParameterAverage:
    """An exponential moving average of a module's parameters, updated after
    every optimizer step (Polyak averaging).

    The average forgets with a time constant of ``epochs`` epochs of
    ``steps_per_epoch`` steps, so the noise of the last minibatch steps
    evens out whatever the table's size. Until that many steps have been
    taken it is the plain mean of the steps so far, so the initial weights
    do not linger in it.
    """

    def __init__(self, module: nn.Module, epochs: float, steps_per_epoch: int) -> None:
        self.steps = max(1.0, epochs * steps_per_epoch)
        self.taken = 0
        self.live = dict(module.named_parameters())
        self.average = {name: value.detach().clone() for name, value in self.live.items()}

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the current parameters by one step."""
        self.taken += 1
        weight = 1.0 / min(self.taken, self.steps)
        for name, value in self.average.items():
            value.lerp_(self.live[name].detach(), weight)

    def state_dict(self, module: nn.Module) -> dict[str, Tensor]:
        """``module``'s state with the averaged parameters, copied."""
        state = {name: value.detach().clone() for name, value in module.state_dict().items()}
        state.update({name: value.clone() for name, value in self.average.items()})
        return state


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
def evaluate_loss(loss_fn: Loss, data: Data, batch_size: int) -> float:
    """Row-weighted mean of ``loss_fn`` over ``data`` in chunks."""
    tensors = as_tuple(data)
    total = 0.0
    for chunk in zip(*(torch.split(tensor, batch_size) for tensor in tensors), strict=True):
        total += float(loss_fn(*chunk)) * chunk[0].shape[0]
    return total / tensors[0].shape[0]


def make_optimizer(module: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    """The Adam optimizer every estimator trains with."""
    return torch.optim.Adam(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )


def run_epoch(
    module: nn.Module,
    loss_fn: Loss,
    train_data: Data,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    clip_grad_norm: float | None,
    generator: torch.Generator,
    epoch: int,
    augment: Augmentation | None = None,
    average: ParameterAverage | None = None,
) -> float:
    """One pass of minibatch steps over ``train_data`` in random order; the
    row-weighted mean training loss. ``augment``, if given, maps each batch's
    values (with ``generator`` for its randomness) before the loss, e.g. to
    add dequantization noise; ``average``, if given, is updated after every
    step.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names ``epoch``.
    """
    tensors = as_tuple(train_data)
    values = tensors[0]
    n_rows = values.shape[0]
    module.train()
    epoch_loss = torch.zeros((), dtype=values.dtype, device=values.device)
    for index in _batches(n_rows, min(batch_size, n_rows), generator):
        batch = [tensor[index.to(tensor.device)] for tensor in tensors]
        if augment is not None:
            batch[0] = augment(batch[0], generator)
        loss = loss_fn(*batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(module.parameters(), clip_grad_norm)
        optimizer.step()
        if average is not None:
            average.update()
        epoch_loss += loss.detach() * batch[0].shape[0]
    module.eval()
    train_loss = float(epoch_loss) / n_rows
    if not torch.isfinite(torch.tensor(train_loss)):
        raise FloatingPointError(
            f"The training loss became {train_loss} in epoch {epoch}. Lower "
            "learning_rate, set clip_grad_norm, or check the data for extreme values."
        )
    return train_loss


def train(
    module: nn.Module,
    loss_fn: Loss,
    train_data: Data,
    validation_data: Data | None,
    config: TrainingConfig,
    generator: torch.Generator,
    augment: Augmentation | None = None,
) -> TrainingResult:
    """Minimize ``loss_fn`` (mean loss of a batch, called with the batch's
    tensors) over ``module``'s parameters with Adam.

    ``augment`` maps each training batch as in :func:`run_epoch`; the
    validation loss is computed on ``validation_data`` as given.

    Early stopping watches the validation loss when ``validation_data`` is
    given, else the training loss: training stops after ``n_iter_no_change``
    epochs without an improvement of at least ``tol``, and the parameters of
    the best epoch are restored. With ``config.average_epochs``, the
    parameters kept (of the best epoch, or of the last without early
    stopping) are the moving average of :class:`ParameterAverage`, while
    the losses that stop training are those of the current parameters.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names the epoch.
    """
    optimizer = make_optimizer(module, config)
    result = TrainingResult()
    best_loss, best_state, epochs_without_improvement = float("inf"), None, 0
    n_rows = as_tuple(train_data)[0].shape[0]
    batch_size = min(config.batch_size, n_rows)
    average = (None if config.average_epochs is None else
               ParameterAverage(module, config.average_epochs, -(-n_rows // batch_size)))
    progress = tqdm(
        range(1, config.max_epochs + 1), desc=config.description,
        disable=not config.verbose, leave=False,
    )
    for epoch in progress:
        train_loss = run_epoch(module, loss_fn, train_data, optimizer, batch_size,
                               config.clip_grad_norm, generator, epoch, augment, average)
        monitored = train_loss
        result.history["train_loss"].append(train_loss)
        if validation_data is not None:
            monitored = evaluate_loss(loss_fn, validation_data, batch_size)
            result.history["validation_loss"].append(monitored)
        result.n_epochs = epoch
        progress.set_postfix(loss=f"{monitored:.4f}")

        if monitored < best_loss - config.tol:
            best_loss, result.best_epoch, epochs_without_improvement = monitored, epoch, 0
            best_state = (average.state_dict(module) if average is not None else
                          {k: v.detach().clone() for k, v in module.state_dict().items()})
        else:
            epochs_without_improvement += 1
            if (config.n_iter_no_change is not None
                    and epochs_without_improvement >= config.n_iter_no_change):
                break
    progress.close()
    if config.n_iter_no_change is None:
        best_state = None if average is None else average.state_dict(module)
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return result
