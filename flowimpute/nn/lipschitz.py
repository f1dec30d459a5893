"""Lipschitz-constrained networks: the residual function of an invertible residual block.

A residual block ``y = x + g(x)`` is invertible when ``g`` is a contraction
(Behrmann et al., 2019). :class:`LipschitzMLP` bounds the Lipschitz constant
of ``g`` in ``x`` by a coefficient below 1: each weight matrix is divided by
its spectral norm (:class:`SpectralNormLinear`) and every activation is
:class:`LipSwish`, which is 1-Lipschitz. The network also gives its Jacobian
in closed form (the product of its weights and activation slopes), so a
block's log-determinant needs no autograd passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .masked import hidden_input_sets, layer_masks

#: Power-iteration steps per training forward pass (persistent vectors, as
#: in Miyato et al.'s spectral normalization: the estimate tracks the weight).
POWER_ITERATIONS = 1

#: LipSwish divides swish by this bound on swish's slope, to be 1-Lipschitz.
_SWISH_MAX_SLOPE = 1.1


class LipSwish(nn.Module):
    """``x * sigmoid(beta * x) / 1.1``, 1-Lipschitz for every ``beta > 0`` (Chen et al., 2019).

    Parameters
    ----------
    n_features : int
        One learnable ``beta = softplus(raw)`` per unit.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.raw_beta = nn.Parameter(torch.full((n_features,), 0.5))

    def forward(self, a: Tensor) -> tuple[Tensor, Tensor]:
        """The activation and its slope at ``a``."""
        beta = F.softplus(self.raw_beta)
        gate = torch.sigmoid(beta * a)
        value = a * gate / _SWISH_MAX_SLOPE
        slope = (gate + beta * a * gate * (1 - gate)) / _SWISH_MAX_SLOPE
        return value, slope


class SpectralNormLinear(nn.Module):
    """A (masked) linear layer whose weight has spectral norm at most ``coefficient``.

    The effective weight is ``W * min(1, coefficient / sigma)`` with ``W``
    the masked weight and ``sigma`` its largest singular value. In training
    mode ``sigma`` is estimated by one power-iteration step per forward pass
    on persistent vectors (which the gradient does not follow); switching to
    evaluation mode (``.eval()``) sets those vectors from a singular value
    decomposition, so that a trained layer's bound holds exactly.

    Parameters
    ----------
    in_features, out_features : int
    coefficient : float
        Bound on the spectral norm.
    mask : Tensor of shape (out_features, in_features), optional
        0/1 mask applied before the normalization.
    """

    def __init__(self, in_features: int, out_features: int, coefficient: float,
                 mask: Tensor | None = None) -> None:
        super().__init__()
        self.coefficient = coefficient
        linear = nn.Linear(in_features, out_features)
        self.weight = nn.Parameter(linear.weight.detach().clone())
        self.bias = nn.Parameter(linear.bias.detach().clone())
        mask = torch.ones(out_features, in_features) if mask is None else mask
        self.register_buffer("mask", mask.to(self.weight.dtype))
        self.register_buffer("left", torch.zeros(out_features))
        self.register_buffer("right", torch.zeros(in_features))
        self.refresh()

    def masked_weight(self) -> Tensor:
        return self.weight * self.mask

    @torch.no_grad()
    def refresh(self) -> None:
        """Set the power-iteration vectors to the exact top singular vectors."""
        left, _, right = torch.linalg.svd(self.masked_weight(), full_matrices=False)
        self.left.copy_(left[:, 0])
        self.right.copy_(right[0])

    def train(self, mode: bool = True) -> SpectralNormLinear:
        if not mode:
            self.refresh()
        return super().train(mode)

    def normalized_weight(self) -> Tensor:
        """The masked weight scaled to spectral norm at most ``coefficient``."""
        weight = self.masked_weight()
        if self.training:
            with torch.no_grad():
                for _ in range(POWER_ITERATIONS):
                    self.right.copy_(F.normalize(weight.T @ self.left, dim=0))
                    self.left.copy_(F.normalize(weight @ self.right, dim=0))
        sigma = torch.dot(self.left, weight @ self.right).clamp_min(1e-12)
        return weight * (self.coefficient / sigma).clamp(max=1.0)


@dataclass
class Linearization:
    """A forward pass of :class:`LipschitzMLP` kept for its Jacobian.

    ``weights`` are the effective weights of the layers applied to ``x``
    (the context's weight excluded) and ``slopes`` the activation slopes of
    each hidden layer, shape (n, width): the Jacobian of the network in
    ``x`` is ``W_L diag(s_{L-1}) W_{L-1} ... diag(s_1) W_1``.
    """

    weights: list[Tensor]
    slopes: list[Tensor]

    def jacobian(self) -> Tensor:
        """The Jacobian of every row, shape (n, n_outputs, n_inputs)."""
        # From the output side, so that every product is a batch of rows
        # times one weight matrix (a single matrix product), never a batch
        # of matrices times a broadcast weight.
        product = self.weights[-1] * self.slopes[-1].unsqueeze(1)
        for weight, slope in zip(reversed(self.weights[1:-1]), reversed(self.slopes[:-1]),
                                 strict=True):
            product = (product @ weight) * slope.unsqueeze(1)
        return product @ self.weights[0]

    def jacobian_diagonal(self) -> Tensor:
        """The Jacobian's diagonal, shape (n, n_features): without forming it
        when there is a single hidden layer."""
        if len(self.weights) == 2:
            # diag_i = sum_h W2[i, h] s[h] W1[h, i]: one (n, h) x (h, d) product.
            return self.slopes[0] @ (self.weights[1].T * self.weights[0])
        return torch.diagonal(self.jacobian(), dim1=1, dim2=2)

    def jvp(self, v: Tensor) -> Tensor:
        """The Jacobian times a vector per row: ``v`` and the result (n, n_features)."""
        for weight, slope in zip(self.weights[:-1], self.slopes, strict=True):
            v = slope * (v @ weight.T)
        return v @ self.weights[-1].T


class LipschitzMLP(nn.Module):
    """``g(x) = W_L act(... act(W_1 x + C c + b_1) ...) + b_L`` with ``Lip_x(g) <= lipschitz``.

    Each of the ``L`` weights acting on ``x`` has spectral norm at most
    ``lipschitz ** (1 / L)`` and every activation is 1-Lipschitz, so the
    bound holds for the whole network. The context ``c`` enters the first
    layer through an unconstrained weight ``C``: it shifts the network's
    input but is not a variable of the map, so invertibility in ``x`` does
    not restrict it.

    With ``allowed`` (a mask of which inputs each output may depend on),
    each weight is masked before its normalization (:func:`layer_masks`):
    hidden units are given the sets ``allowed[i]`` first, then single
    features, the construction of graphical residual flows (Mouton and
    Kroon, 2022).

    Parameters
    ----------
    n_features : int
    hidden_dims : sequence of int
        At least one hidden layer.
    lipschitz : float in (0, 1)
    allowed : Tensor of bool, shape (n_features, n_features), optional
        ``allowed[i, j]``: output ``i`` may depend on input ``j``.
    context_features : int, default=0
    allowed_context : Tensor of bool, shape (n_features, context_features), optional
        With ``allowed``: ``allowed_context[i, c]``, output ``i`` may depend
        on context feature ``c`` (the generating graphical flows of
        SIReN-VAE, whose context is the observation). By default every
        output may depend on the whole context.
    """

    def __init__(self, n_features: int, hidden_dims: Sequence[int], lipschitz: float,
                 allowed: Tensor | None = None, context_features: int = 0,
                 allowed_context: Tensor | None = None) -> None:
        super().__init__()
        hidden_dims = list(hidden_dims)
        if not hidden_dims:
            raise ValueError("a Lipschitz residual network needs at least one hidden layer.")
        if not 0 < lipschitz < 1:
            raise ValueError(f"lipschitz must lie in (0, 1), got {lipschitz}.")
        widths = [n_features, *hidden_dims, n_features]
        context_mask = torch.ones(hidden_dims[0], context_features)
        if allowed is None:
            if allowed_context is not None:
                raise ValueError("a graph over the context needs a graph over the features.")
            masks: list[Tensor | None] = [None] * (len(widths) - 1)
        else:
            full = allowed
            if context_features:
                allowed_context = (torch.ones(n_features, context_features, dtype=torch.bool)
                                   if allowed_context is None
                                   else torch.as_tensor(allowed_context, dtype=torch.bool))
                if allowed_context.shape != (n_features, context_features):
                    raise ValueError(
                        f"the context graph must have shape ({n_features}, {context_features}),"
                        f" got {tuple(allowed_context.shape)}.")
                full = torch.cat([allowed, allowed_context], dim=1)
            n_parent_sets = len(hidden_input_sets(full))   # rows are never empty: i in row i
            if min(hidden_dims) < n_parent_sets:
                raise ValueError(
                    f"the graph gives {n_parent_sets} distinct parent sets; every hidden "
                    f"layer needs at least that many units, got hidden_dims={tuple(hidden_dims)}.")
            masks = layer_masks(_graph_unit_sets(full, n_features), hidden_dims, full)
            context_mask = masks[0][:, n_features:].float()
            masks[0] = masks[0][:, :n_features]
        coefficient = lipschitz ** (1.0 / (len(widths) - 1))
        self.layers = nn.ModuleList(
            SpectralNormLinear(n_in, n_out, coefficient, mask)
            for n_in, n_out, mask in zip(widths[:-1], widths[1:], masks, strict=True))
        self.activations = nn.ModuleList(LipSwish(width) for width in hidden_dims)
        self.context_features = context_features
        self.context_layer = (nn.Linear(context_features, hidden_dims[0], bias=False)
                              if context_features else None)
        self.register_buffer("context_mask", context_mask)

    def weights(self) -> list[Tensor]:
        """The effective weights (one power-iteration step each in training mode)."""
        return [layer.normalized_weight() for layer in self.layers]

    def forward(self, x: Tensor, context: Tensor | None = None,
                weights: list[Tensor] | None = None) -> tuple[Tensor, Linearization]:
        """``g(x)`` and its linearization; ``weights`` reuses effective weights."""
        weights = self.weights() if weights is None else weights
        hidden, slopes = x, []
        for index, (layer, activation) in enumerate(zip(self.layers, self.activations,
                                                         strict=False)):
            pre_activation = F.linear(hidden, weights[index], layer.bias)
            if index == 0 and self.context_layer is not None:
                if context is None:
                    raise ValueError(f"this network needs a context of "
                                     f"{self.context_features} features.")
                pre_activation = pre_activation + F.linear(
                    context, self.context_layer.weight * self.context_mask)
            hidden, slope = activation(pre_activation)
            slopes.append(slope)
        output = F.linear(hidden, weights[-1], self.layers[-1].bias)
        return output, Linearization(weights, slopes)

    def lipschitz_bound(self) -> float:
        """The product of the layers' exact spectral norms: a bound on ``Lip_x(g)``."""
        with torch.no_grad():
            return math.prod(float(torch.linalg.matrix_norm(weight, ord=2))
                             for weight in self.weights())


def _graph_unit_sets(allowed: Tensor, n_features: int) -> Tensor:
    """Hidden-unit input sets: the distinct rows of ``allowed`` (fewest
    inputs first, :func:`hidden_input_sets`), then each single feature (of
    the first ``n_features`` inputs; the others are context) not already
    among them."""
    rows = hidden_input_sets(allowed)
    singles = [single for single in torch.eye(n_features, allowed.shape[1], dtype=torch.bool)
               if not any(torch.equal(single, row) for row in rows)]
    return torch.cat([rows, torch.stack(singles)]) if singles else rows
