"""A flow of ``p(x_target | x_conditioning)`` for every split of a row at once."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..nn.mlp import make_mlp
from ..transforms import Compose
from ..transforms.monotone import MonotoneTransformer
from ..transforms.subset_coupling import SubsetCoupling, subset_context
from .categorical_head import CategoricalHead

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class ConditionalMixtureBase(nn.Module):
    """A mixture of diagonal Gaussians over a row's targets whose weights,
    means and scales come from an MLP of the split's context
    (:func:`~flowimpute.transforms.subset_coupling.subset_context`).

    The mixture carries the dependence between targets that the coupling
    layers above it need not build: with one component it is a Gaussian
    whose center and spread follow the conditioning values. The network's
    last layer starts small, the means spread, so the components differ.

    Parameters
    ----------
    n_features : int
    n_components : int
    hidden_dims : sequence of int
    activation : str, default="relu"
    """

    #: Bound on the log-scale of a component, in latent units.
    LOG_SCALE_BOUND = 5.0

    def __init__(self, n_features: int, n_components: int, hidden_dims: Sequence[int],
                 activation: str = "relu") -> None:
        super().__init__()
        self.n_features, self.n_components = n_features, n_components
        self.network = make_mlp(3 * n_features, hidden_dims,
                                n_components * (1 + 2 * n_features), activation,
                                zero_last=False)
        last = self.network[-1]
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.zero_()
            spread = torch.randn(n_components, n_features) * (n_components > 1)
            last.bias[n_components:n_components * (1 + n_features)].copy_(spread.flatten())

    def parameters_of(self, context: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Log-weights (n, K), means (n, K, d) and log-scales (n, K, d)."""
        K, d = self.n_components, self.n_features
        raw = self.network(context)
        log_weights = torch.log_softmax(raw[:, :K], dim=1)
        means = raw[:, K:K * (1 + d)].view(-1, K, d)
        bound = self.LOG_SCALE_BOUND
        log_scales = bound * torch.tanh(raw[:, K * (1 + d):].view(-1, K, d) / bound)
        return log_weights, means, log_scales

    def log_prob(self, z: Tensor, context: Tensor, target: Tensor) -> Tensor:
        """Per-row log-density of the ``target`` coordinates of ``z``."""
        log_weights, means, log_scales = self.parameters_of(context)
        standardized = (z.unsqueeze(1) - means) * torch.exp(-log_scales)
        per_coordinate = -0.5 * standardized.square() - log_scales - _LOG_SQRT_2PI
        per_component = (per_coordinate * target.unsqueeze(1).to(z.dtype)).sum(2)
        return torch.logsumexp(per_component + log_weights, dim=1)

    def draw(self, parameters: tuple[Tensor, Tensor, Tensor], uniforms: Tensor,
             noise: Tensor) -> Tensor:
        """Latent rows from given randomness and the mixture's ``parameters``
        (:meth:`parameters_of`): row ``i`` takes the component where
        ``uniforms[i]`` falls in its cumulative weights, then that
        component's mean plus its scales times ``noise[i]``."""
        log_weights, means, log_scales = parameters
        cumulative = torch.cumsum(torch.exp(log_weights), dim=1)
        component = (uniforms.unsqueeze(1) > cumulative[:, :-1]).sum(1, keepdim=True)
        index = component.unsqueeze(2).expand(-1, 1, self.n_features)
        mean = torch.gather(means, 1, index).squeeze(1)
        scale = torch.exp(torch.gather(log_scales, 1, index).squeeze(1))
        return mean + scale * noise


class ArbitraryConditionalFlow(nn.Module):
    """``log p(x_t | x_c)`` and exact draws of ``x_t`` given ``x_c``, for
    any disjoint target set ``t`` and conditioning set ``c`` of each row.

    Coupling layers over the targets (:class:`SubsetCoupling`, partitions
    alternating between random halves of the coordinates and their
    complements) map the targets onto a conditional Gaussian mixture
    (:class:`ConditionalMixtureBase`); conditioning and absent coordinates
    pass through untouched. Both the density and the draws are single
    passes.

    With a ``categorical`` head, the coordinates of its groups (categories'
    indicators, flags) are never the flow's targets: a target category is a
    choice among its levels, and the row's distribution factorizes as
    ``p(x_t | x_c) = p(categories_t | x_c) p(numbers_t | categories_t, x_c)``,
    the second factor being the flow's conditional with the target
    categories among the conditioning values. Both parts learn every
    conditional (the head of categories, the flow of numbers, each given any
    conditioning set), so they are trained apart (:meth:`numeric_log_prob`
    leaves target categories absent) and chained where a joint is needed.

    Parameters
    ----------
    n_features : int
    n_layers : int
        Coupling layers; with two or more each coordinate is transformed in
        half of them.
    transformer : MonotoneTransformer
    hidden_dims : sequence of int
        Hidden widths of every conditioner and of the base's network.
    n_components : int
    activation : str, default="relu"
    seed : int, default=0
        Draws the partitions.
    categorical : CategoricalHead or None, default=None
        The distribution of the categorical groups' targets.
    point_masses : tuple of (sequence of int, sequence of int, sequence of float) or None
        Numeric coordinates that hold a point mass (a value taken by many
        rows, as a zero amount), their flag coordinates (1 where the value
        is at the point mass, 0 elsewhere; each a group of ``categorical``)
        and the values of the point masses. A value at its point mass is
        never a target of the flow: the head gives the chance of the point
        mass, the flow the density of the rest, so neither has to fit a
        spike (a continuous density can only approach one by growing
        without bound).
    """

    def __init__(self, n_features: int, n_layers: int, transformer: MonotoneTransformer,
                 hidden_dims: Sequence[int], n_components: int, activation: str = "relu",
                 seed: int = 0, categorical: CategoricalHead | None = None,
                 point_masses: tuple[Sequence[int], Sequence[int], Sequence[float]] | None = None
                 ) -> None:
        super().__init__()
        self.n_features = n_features
        self.head = categorical
        self.register_buffer("categorical", torch.zeros(n_features, dtype=torch.bool)
                             if categorical is None else categorical.membership.any(0))
        coordinates, flags, values = point_masses or ([], [], [])
        self.register_buffer("mass_coordinates", torch.as_tensor(coordinates, dtype=torch.long))
        self.register_buffer("mass_flags", torch.as_tensor(flags, dtype=torch.long))
        self.register_buffer("mass_values", torch.as_tensor(values, dtype=torch.float64))
        if self.mass_flags.numel() and not bool(self.categorical[self.mass_flags].all()):
            raise ValueError("Every point mass's flag must be a group of the categorical head.")
        layers = [SubsetCoupling(partition, transformer, hidden_dims, activation)
                  for partition in alternating_partitions(n_layers, n_features, seed)]
        self.transform = Compose(*layers)
        self.base = ConditionalMixtureBase(n_features, n_components, hidden_dims, activation)

    def log_prob(self, x: Tensor, conditioning: Tensor, target: Tensor,
                 chain: bool = False) -> Tensor:
        """Per-row ``log p(x_target | x_conditioning)`` (boolean masks; 0
        for a row without targets). With ``chain``, several target
        categories are scored one after the other, each given the ones
        before it (their joint probability); otherwise each given the
        conditioning entries alone (as in training, one network pass)."""
        if self.head is None:
            return self.numeric_log_prob(x, conditioning, target)
        # The numbers are scored given the target categories, but not given
        # the point masses' flags: a value off its point mass is learned
        # with its flag absent (the two are split together).
        given = target & self.categorical
        given[:, self.mass_flags] = False
        return (self.categorical_log_prob(x, conditioning, target, chain)
                + self.numeric_log_prob(x, conditioning | given, target))

    def factorized_log_prob(self, x: Tensor, target: Tensor, first_blocks: Tensor) -> Tensor:
        """Per-row log-density of the ``target`` entries of ``x`` (nothing
        conditioned on) under the equal mixture of the direct pass,
        ``p(x_target)``, and one two-block factorization ``p(x_a) p(x_b |
        x_a)`` per row of ``first_blocks`` (n_blocks, n_features; bool), with
        ``a`` the targets in the block and ``b`` the other targets.

        A flow of every conditional is not bound to one joint: its
        factorizations give different densities, each normalized, so their
        mixture is normalized too, and it is closer to the data than its
        parts (an order-agnostic ensemble, as for NADE: Uria, Murray and
        Larochelle, 2014). The blocks depend on no value of ``x``, so each
        row's density is its own. Categories are chained (:meth:`log_prob`).
        """
        nothing = torch.zeros_like(target)
        terms = [self.log_prob(x, nothing, target, chain=True)]
        for block in first_blocks:
            first = target & block
            terms.append(self.log_prob(x, nothing, first, chain=True)
                         + self.log_prob(x, first, target & ~first, chain=True))
        return torch.logsumexp(torch.stack(terms), dim=0) - math.log(len(terms))

    def categorical_log_prob(self, x: Tensor, conditioning: Tensor, target: Tensor,
                             chain: bool = False) -> Tensor:
        """Per-row ``log p(categories_target | x_conditioning)`` (the head's
        part of :meth:`log_prob`)."""
        if not chain:
            return self.head.log_prob(x, conditioning, target)
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        categorical_target = target & self.categorical
        for index in range(self.head.n_groups):
            group_target = categorical_target & self.head.membership[index]
            total = total + self.head.log_prob(x, conditioning, group_target)
            conditioning = conditioning | group_target
        return total

    def numeric_log_prob(self, x: Tensor, conditioning: Tensor, target: Tensor) -> Tensor:
        """Per-row ``log p(numbers_target | x_conditioning)``: the flow's
        targets are the numeric ones; target categories are absent."""
        return self._flow_log_prob(x, conditioning,
                                   target & ~self.categorical & ~self.at_point_masses(x))

    def at_point_masses(self, x: Tensor) -> Tensor:
        """(n, d) bool: the coordinates of ``x`` at their point mass, as
        their flags say."""
        at = torch.zeros_like(x, dtype=torch.bool)
        at[:, self.mass_coordinates] = x[:, self.mass_flags] > 0.5
        return at

    def with_point_masses(self, x: Tensor, at: Tensor) -> Tensor:
        """``x`` with the value of its point mass at every entry of ``at``."""
        values = torch.zeros_like(x)
        values[:, self.mass_coordinates] = self.mass_values.to(x.dtype)
        return torch.where(at, values, x)

    def point_mass_probabilities(self, x: Tensor, conditioning: Tensor) -> Tensor:
        """(n, n_point_masses): the chance that each point mass's coordinate
        is at it, given the ``conditioning`` entries of ``x``."""
        flags = self.head.membership[:, self.mass_flags].float().argmax(0).tolist()
        log_probabilities = self.head.log_probabilities(x, conditioning)
        return torch.stack([log_probabilities[group][:, 1].exp() for group in flags], dim=1)

    def _flow_log_prob(self, x: Tensor, conditioning: Tensor, target: Tensor) -> Tensor:
        context = subset_context(x, conditioning, target)
        z, log_det = self.transform(x, context)
        return self.base.log_prob(z, context, target) + log_det

    def most_probable_categories(self, x: Tensor, conditioning: Tensor,
                                 target: Tensor) -> Tensor:
        """``x`` with each target category at its most probable class given
        the conditioning entries (``x`` itself without a head)."""
        if self.head is None:
            return x
        for index, log_probabilities in enumerate(self.head.log_probabilities(x, conditioning)):
            x = self.head.with_classes(x, index, log_probabilities.argmax(1),
                                       self.head.targeted(target, index))
        return x

    def draw_categories(self, x: Tensor, conditioning: Tensor, target: Tensor,
                        uniforms: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` with its target categories drawn one group after another,
        each given the conditioning entries and the groups drawn before it,
        by inverting its distribution at ``uniforms`` (n, n_groups); and the
        conditioning mask grown by them."""
        for index in range(self.head.n_groups):
            rows = self.head.targeted(target, index)
            if not bool(rows.any()):
                continue
            log_probabilities = self.head.log_probabilities(x, conditioning)[index]
            cumulative = torch.cumsum(torch.exp(log_probabilities), dim=1)
            classes = (uniforms[:, index:index + 1] > cumulative[:, :-1]).sum(1)
            x = self.head.with_classes(x, index, classes, rows)
            conditioning = conditioning | (rows.unsqueeze(1) & self.head.membership[index])
        return x, conditioning

    def draws(self, x: Tensor, conditioning: Tensor, target: Tensor, uniforms: Tensor,
              noise: Tensor, category_uniforms: Tensor | None = None) -> Iterator[Tensor]:
        """``x`` with its target entries replaced by draws from
        ``p(x_target | x_conditioning)``, one per row of ``uniforms`` (k, n),
        which pick the base components, of ``noise`` (k, n, d), standard
        normal, and with a head of ``category_uniforms`` (k, n, n_groups),
        which pick the categories first (:meth:`draw_categories`); without
        them target categories are left as they are and the numbers are drawn
        given the conditioning entries alone. What depends on the context
        alone (the mixture's parameters, the context's share of every
        conditioner) is computed once for all draws when there are no
        categories to draw first."""
        layers = list(reversed(self.transform.transforms))

        def prepared(x: Tensor, conditioning: Tensor, target: Tensor):
            context = subset_context(x, conditioning, target)
            return context, self.base.parameters_of(context), [
                layer.context_term(context) for layer in layers]

        def flow_draw(x: Tensor, target: Tensor, prepared_context, uniform: Tensor,
                      row_noise: Tensor) -> Tensor:
            context, parameters, context_terms = prepared_context
            z = torch.where(target, self.base.draw(parameters, uniform, row_noise), x)
            for layer, context_term in zip(layers, context_terms, strict=True):
                z = layer.inverse(z, context, context_term)
            return z

        if self.head is None or category_uniforms is None:
            target = target & ~self.categorical
            shared = prepared(x, conditioning, target)
            for uniform, row_noise in zip(uniforms, noise, strict=True):
                yield flow_draw(x, target, shared, uniform, row_noise)
            return
        numeric_target = target & ~self.categorical
        for uniform, row_noise, row_categories in zip(uniforms, noise, category_uniforms,
                                                      strict=True):
            drawn, known = self.draw_categories(x, conditioning, target, row_categories)
            # A value drawn at its point mass is set there and conditioned on;
            # one drawn off it is drawn by the flow with its flag absent, as
            # the flow learned it (a flag and its value are split together).
            at = self.at_point_masses(drawn) & numeric_target
            off = torch.zeros_like(known)
            off[:, self.mass_flags] = (target[:, self.mass_flags]
                                       & ~at[:, self.mass_coordinates])
            drawn, known = self.with_point_masses(drawn, at), (known | at) & ~off
            row_target = numeric_target & ~at
            yield flow_draw(drawn, row_target, prepared(drawn, known, row_target),
                            uniform, row_noise)


def alternating_partitions(n_layers: int, n_features: int, seed: int) -> list[np.ndarray]:
    """Partitions of layer pairs: a random half of the coordinates (rounded
    up), then its complement; a single coordinate is in every partition."""
    rng = np.random.RandomState(seed)
    partitions: list[np.ndarray] = []
    while len(partitions) < n_layers:
        half = np.zeros(n_features, dtype=int)
        half[rng.permutation(n_features)[: (n_features + 1) // 2]] = 1
        partitions += [half, 1 - half] if n_features > 1 else [half, half]
    return partitions[:n_layers]
