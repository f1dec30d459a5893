"""Softmax distributions of a row's categorical targets given a split's context."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..nn.encoding import PiecewiseLinearEncoding
from ..nn.mlp import make_mlp


class CategoricalHead(nn.Module):
    """``p(category_g | x_conditioning)`` for each categorical column ``g``
    that is a target of a split, from an MLP of the conditioning values and
    their indicators (the first two parts of
    :func:`~flowimpute.transforms.subset_coupling.subset_context`: which
    other entries are targets does not change the conditional).

    A categorical column occupies a group of coordinates whose values are
    one of a few *levels*: a category's one-hot indicators (one level per
    category), or a flag's single coordinate (two levels). The head models
    the column as what it is, a choice among its levels, rather than as
    continuous coordinates: the network gives each group its logits, the
    class of a row is its nearest level, and drawing a class writes that
    level into the group's coordinates. Targets of several groups are
    scored independently given the same conditioning values;
    :class:`~flowimpute.flows.arbitrary_conditional.ArbitraryConditionalFlow`
    chains the groups where it needs their joint distribution.

    With an ``encoding``
    (:class:`~flowimpute.nn.encoding.PiecewiseLinearEncoding`) the network
    also reads the row's numbers piecewise-linearly encoded, which gives it
    at its first layer the thresholds that separate categories (a price
    band, a size), where standardized numbers make it build them from
    ramps. With an estimator of the numbers (:meth:`read_estimates`) the
    numbers it encodes are complete: the conditioning values, and the
    estimator's predictions of the others. Those predictions carry what the
    estimator learned from every numeric target of every split, which a
    classifier of a few categories learns from its own targets alone.

    Parameters
    ----------
    n_features : int
        Coordinates of a row.
    coordinates : sequence of sequence of int
        The coordinates of each group.
    levels : sequence of Tensor
        Each group's levels, shape (n_classes, group size), in model
        coordinates.
    hidden_dims : sequence of int
    activation : str, default="relu"
    encoding : PiecewiseLinearEncoding or None, default=None
        The encoding of the numeric coordinates that the network reads.

    Attributes
    ----------
    membership : Tensor of shape (n_groups, n_features)
        Which coordinates each group occupies.
    """

    def __init__(self, n_features: int, coordinates: Sequence[Sequence[int]],
                 levels: Sequence[Tensor], hidden_dims: Sequence[int],
                 activation: str = "relu",
                 encoding: PiecewiseLinearEncoding | None = None) -> None:
        super().__init__()
        if len(coordinates) != len(levels) or not coordinates:
            raise ValueError("CategoricalHead needs one level table per group, and a group.")
        self.n_groups = len(coordinates)
        self.n_classes = [int(table.shape[0]) for table in levels]
        for group, (columns, table) in enumerate(zip(coordinates, levels, strict=True)):
            if table.ndim != 2 or table.shape[1] != len(columns) or table.shape[0] < 2:
                raise ValueError(f"Group {group} needs a level table of shape (at least 2, "
                                 f"{len(columns)}), got {tuple(table.shape)}.")
            self.register_buffer(f"coordinates_{group}", torch.as_tensor(columns).long())
            self.register_buffer(f"levels_{group}", torch.as_tensor(table))
        membership = torch.zeros(self.n_groups, n_features, dtype=torch.bool)
        for group, columns in enumerate(coordinates):
            membership[group, torch.as_tensor(columns).long()] = True
        self.register_buffer("membership", membership)
        self.encoding = encoding
        self._estimator: tuple[nn.Module | None] = (None,)   # held, not owned
        self.network = make_mlp(2 * n_features + (0 if encoding is None else encoding.width),
                                hidden_dims, sum(self.n_classes), activation)

    def read_estimates(self, estimator: nn.Module | None) -> None:
        """Encode the numbers that are not conditioning values at
        ``estimator(x, conditioning)``, a prediction of every coordinate
        (None: encode the conditioning values alone). The estimator is
        held, not owned: it is trained by its own loss, before the head,
        and the head's training leaves it as it is."""
        self._estimator = (estimator,)

    def _numbers(self, x: Tensor, conditioning: Tensor) -> tuple[Tensor, Tensor]:
        """The values to encode and where they are present."""
        estimator = self._estimator[0]
        if estimator is None:
            return x, conditioning
        with torch.no_grad():
            estimate = estimator(x, conditioning)
        return torch.where(conditioning, x, estimate), torch.ones_like(conditioning)

    def group(self, index: int) -> tuple[Tensor, Tensor]:
        """The coordinates and level table of group ``index``."""
        return getattr(self, f"coordinates_{index}"), getattr(self, f"levels_{index}")

    def log_probabilities(self, x: Tensor, conditioning: Tensor) -> list[Tensor]:
        """Each group's log-probabilities of its classes, (n, n_classes),
        given the ``conditioning`` entries of ``x``."""
        inputs = [x * conditioning.to(x.dtype), conditioning.to(x.dtype)]
        if self.encoding is not None:
            inputs.append(self.encoding(*self._numbers(x, conditioning.bool())))
        logits = self.network(torch.cat(inputs, dim=1))
        return [torch.log_softmax(part, dim=1) for part in logits.split(self.n_classes, dim=1)]

    def classes(self, x: Tensor, index: int) -> Tensor:
        """The class of each row in group ``index``: its nearest level."""
        coordinates, levels = self.group(index)
        distance = (x[:, coordinates].unsqueeze(1) - levels).square().sum(2)
        return distance.argmin(1)

    def with_classes(self, x: Tensor, index: int, classes: Tensor, rows: Tensor) -> Tensor:
        """``x`` with group ``index`` at the level of ``classes`` in ``rows``."""
        coordinates, levels = self.group(index)
        values = torch.where(rows.unsqueeze(1), levels[classes], x[:, coordinates])
        return x.index_copy(1, coordinates, values)

    def targeted(self, target: Tensor, index: int) -> Tensor:
        """Rows where group ``index`` is a target."""
        return target[:, self.group(index)[0][0]]

    def n_targets(self, target: Tensor) -> Tensor:
        """How many (row, group) pairs of ``target`` are targets."""
        return sum(self.targeted(target, index).sum() for index in range(self.n_groups))

    def log_prob(self, x: Tensor, conditioning: Tensor, target: Tensor) -> Tensor:
        """Per-row sum over the target groups of ``log p(class | x_conditioning)``."""
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for index, log_probabilities in enumerate(self.log_probabilities(x, conditioning)):
            chosen = log_probabilities.gather(1, self.classes(x, index).unsqueeze(1))[:, 0]
            total = total + torch.where(self.targeted(target, index), chosen,
                                        torch.zeros_like(chosen))
        return total
