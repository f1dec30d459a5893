"""Imputation with a fitted VFG: refine rounds, the gap search, decoding, masked error.

:class:`SectionInference` holds no estimator state beyond what it is given: a
fitted :class:`~flowimpute.vfg.model.VFGModel`, the
:class:`~flowimpute.vfg.layout.SectionLayout` of its sections and the
inference settings. Every method works on the rows it is given alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..inference.search import projected_adam
from .layout import SectionLayout
from .model import VFGModel
from .section_gaussian import SectionGaussian

#: Rows decoded at once by :meth:`SectionInference.leave_section_out`, one per
#: (row, section) pair.
LEAVE_OUT_BLOCK = 8192


@dataclass(frozen=True)
class SectionInference:
    """What a fitted VFG infers about the missing entries of rows.

    Parameters
    ----------
    model : VFGModel
    layout : SectionLayout
    decode_from : {"root", "ancestor"}
        Decode from the root state, or from the closest ancestor that has
        observed descendants.
    n_refine_steps : int
        Encode-decode rounds that fill the gaps of partially observed sections.
    entry_weights : Tensor of shape (k, m)
        Weight of each section entry's reconstruction term.
    gap_step_size : float
        Adam step size of the gap search.
    section_gaussian : SectionGaussian or None, default=None
        With it, every missing entry is imputed from its section's
        conditional Gaussian given the section's decode from the other
        sections and its own observed entries (:meth:`conditional_fill`);
        without it, as the paper does: gaps of partially observed sections
        by the refine rounds and the gap search, hidden sections decoded
        from the roots.
    """

    model: VFGModel
    layout: SectionLayout
    decode_from: str
    n_refine_steps: int
    entry_weights: Tensor
    gap_step_size: float
    section_gaussian: SectionGaussian | None = None

    def prepare(self, values: Tensor, observed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Padded sections of ``values`` (n, n_columns; missing entries
        arbitrary) with the gaps of partially observed sections refined, the
        mask of their observed entries, and the visible (observed) sections."""
        leaves, entry_observed = self.layout.leaves(values, observed)
        leaf_visible = entry_observed.any(dim=2)
        with torch.no_grad():
            leaves = self.refine(leaves, entry_observed, leaf_visible)
        return leaves, entry_observed, leaf_visible

    def reconstruct(self, leaves: Tensor, leaf_visible: Tensor,
                    root_noise: Tensor | None = None) -> Tensor:
        """Decoded sections, clipped to the training range. ``root_noise``
        (standard normal, (n, n_roots * latent_dim): each root's block in
        turn) draws the roots' states from their approximate posterior
        instead of taking its mean."""
        model = self.model
        messages = model.encode(leaves, leaf_visible)
        if root_noise is not None:
            roots = model.graph.roots
            noises = root_noise.unflatten(1, (len(roots), model.latent_dim)).unbind(1)
            for root, noise, precision in zip(roots, noises, model.root_precisions(messages),
                                              strict=True):
                messages.states[root] = messages.states[root] + noise * torch.rsqrt(precision)
        decoded = model.decode(messages, from_root=self.decode_from == "root")
        return self.layout.clip(torch.stack(decoded[: model.graph.n_sections], dim=1))

    @torch.no_grad()
    def leave_section_out(self, leaves: Tensor, entry_observed: Tensor,
                          sections: Tensor) -> Tensor:
        """Each section of the padded ``leaves`` (n, k, m; missing entries
        arbitrary) decoded from the other sections, itself hidden: (n, k, m).

        A hidden section is decoded from the row's visible sections, as
        :meth:`reconstruct` does. For each visible section chosen in
        ``sections`` (n, k) bool, the row is decoded once more with that
        section hidden, and with the gaps of the other visible sections
        filled by the refine rounds without it, so that nothing of its own
        values reaches its decode; those passes run in blocks of
        :data:`LEAVE_OUT_BLOCK` rows."""
        visible = entry_observed.any(dim=2)
        decoded = self.reconstruct(self.refine(leaves, entry_observed, visible), visible)
        rows, chosen = torch.nonzero(sections & visible, as_tuple=True)
        for row, section in zip(rows.split(LEAVE_OUT_BLOCK), chosen.split(LEAVE_OUT_BLOCK),
                                strict=True):
            pair = torch.arange(row.numel(), device=row.device)
            without = visible[row].clone()
            without[pair, section] = False
            refined = self.refine(leaves[row], entry_observed[row], without)
            decoded[row, section] = self.reconstruct(refined, without)[pair, section]
        return decoded

    def conditional_fill(self, values: Tensor, observed: Tensor,
                         noises: Sequence[Tensor | None] = (None,)
                         ) -> tuple[list[Tensor], Tensor, Tensor]:
        """Every missing entry from its section's conditional Gaussian given
        the section's decode from the other sections
        (:meth:`leave_section_out`, for the partially observed sections) and
        its observed entries: per noise, the conditional mean (None) or a
        draw (standard normal of shape (n, k * m)), within the training
        range. Returns the filled sections per noise, the mask of observed
        entries and the visible sections."""
        leaves, entry_observed = self.layout.leaves(values, observed)
        leaf_visible = entry_observed.any(dim=2)
        partial = self.layout.gaps(entry_observed, leaf_visible).any(dim=2)
        decoded = self.leave_section_out(leaves, entry_observed, partial)
        filled = [torch.where(entry_observed, leaves, self.layout.clip(
            self.section_gaussian.conditional(leaves, entry_observed, decoded,
                                              None if noise is None else noise.view_as(leaves))))
            for noise in noises]
        return filled, entry_observed, leaf_visible

    def refine(self, leaves: Tensor, entry_observed: Tensor, leaf_visible: Tensor) -> Tensor:
        """Fill the missing entries of visible (partially observed) sections."""
        gaps = self.layout.gaps(entry_observed, leaf_visible)
        if not bool(gaps.any()):
            return leaves
        for _ in range(self.n_refine_steps):
            leaves = torch.where(gaps, self.reconstruct(leaves, leaf_visible), leaves)
        return leaves

    def estimate(self, values: Tensor, leaves: Tensor, entry_observed: Tensor,
                 leaf_visible: Tensor, root_noise: Tensor | None = None) -> Tensor:
        """Columns of ``values`` with every missing entry estimated: visible
        sections keep their (filled) leaves, hidden sections are decoded from
        the root."""
        decoded = self.reconstruct(leaves, leaf_visible, root_noise)
        if root_noise is not None:  # a draw also varies the gaps of partial sections
            gaps = self.layout.gaps(entry_observed, leaf_visible)
            leaves = torch.where(gaps, decoded, leaves)
        return self.layout.scatter(values, torch.where(leaf_visible.unsqueeze(2), leaves,
                                                       decoded))

    def gap_snapshots(self, leaves: Tensor, entry_observed: Tensor, leaf_visible: Tensor,
                      counts: list[int]) -> dict[int, Tensor]:
        """Leaves after each of ``counts`` Adam steps on the rows' negative
        ELBO over the missing entries of visible sections (observed entries
        fixed, every step kept in the training range). Each row's terms
        depend on that row only, and Adam acts per entry, so a row's result
        does not depend on the batch."""
        gaps = self.layout.gaps(entry_observed, leaf_visible)
        n_steps = max(counts)
        snapshots = {count: leaves for count in counts}
        if n_steps == 0 or not bool(gaps.any()):
            return snapshots
        search = projected_adam(
            leaves, gaps,
            lambda x: self.model.elbo_terms(x, leaf_visible, entry_observed,
                                            entry_weights=self.entry_weights)[0],
            self.layout.low, self.layout.high, self.gap_step_size, n_steps)
        for step, current in search:
            if step in snapshots:
                # A row whose search left the finite numbers keeps its fill.
                finite = torch.isfinite(current).flatten(1).all(1)[:, None, None]
                snapshots[step] = torch.where(finite, current, leaves)
        return snapshots

    def elbo_without_entropy(self, values: Tensor, observed: Tensor,
                             labels: Tensor | None = None) -> Tensor:
        """Per-row ELBO of the observed entries (standardized scale), all
        terms but the batch entropies, with the normalizing constants of the
        reconstruction and message terms; ``labels`` select a label prior's
        class (None: its mixture)."""
        model = self.model
        entry_constant = (0.5 * math.log(2 * math.pi)
                          if model.latent_distribution == "gaussian" else math.log(2.0))
        leaves, entry_observed, leaf_visible = self.prepare(values, observed)
        per_row, _ = model.elbo_terms(leaves, leaf_visible, entry_observed, labels=labels)
        visible = model.visibility(leaf_visible)
        n_visible_messages = torch.stack([visible[child] for child, _ in model.graph.edges],
                                         dim=1).sum(1)
        n_terms = entry_observed.sum((1, 2)) + model.latent_dim * n_visible_messages
        return -(per_row + entry_constant * n_terms)

    def training_loss(self, mask_prob: float, pad_with_noise: bool) -> Callable[..., Tensor]:
        """The negative ELBO of a batch ``(values, observed[, labels])``: the full pass
        (the paper's Algorithm 1) and, with ``mask_prob > 0``, the
        random-masking pass (Algorithm 2), over the same rows stacked into one
        batch (same terms, half the calls). ``pad_with_noise`` puts standard
        normal draws in the padding entries."""
        model, layout, weights = self.model, self.layout, self.entry_weights

        def loss_fn(values: Tensor, observed: Tensor, labels: Tensor | None = None) -> Tensor:
            leaves, entry_observed, leaf_observed = self.prepare(values, observed)
            if pad_with_noise:
                leaves = layout.with_padding_noise(leaves)
            if mask_prob == 0:
                return model.negative_elbo(leaves, leaf_observed, entry_observed, weights,
                                           labels)
            visible = torch.cat([leaf_observed, random_visibility(
                leaf_observed, mask_prob, leaves.dtype)])
            per_row, entropy = model.elbo_terms(
                torch.cat([leaves, leaves]), visible,
                torch.cat([entry_observed, entry_observed]), n_groups=2, entry_weights=weights,
                labels=None if labels is None else torch.cat([labels, labels]))
            n_rows = leaves.shape[0]
            return per_row[:n_rows].mean() + per_row[n_rows:].mean() - entropy

        return loss_fn

    def fill(self, values: Tensor, observed: Tensor,
             steps: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """The padded sections with their gaps filled, the mask of observed
        entries and the visible sections: by :meth:`conditional_fill` where
        there is a section Gaussian (``steps`` unused), else :meth:`prepare`
        and then each entry's ``steps`` (k, m) of the gap search."""
        if self.section_gaussian is not None:
            (leaves,), entry_observed, leaf_visible = self.conditional_fill(values, observed)
            return leaves, entry_observed, leaf_visible
        leaves, entry_observed, leaf_visible = self.prepare(values, observed)
        counts = sorted({int(count) for count in steps.unique()})
        snapshots = self.gap_snapshots(leaves, entry_observed, leaf_visible, counts)
        for count in counts:
            leaves = torch.where(steps == count, snapshots[count], leaves)
        return leaves, entry_observed, leaf_visible

    def node_states(self, values: Tensor, observed: Tensor, steps: Tensor | None,
                    nodes: Sequence[int]) -> Tensor:
        """The encoded state of each of ``nodes`` (n, len(nodes) * latent_dim),
        from the observed sections with their gaps filled by :meth:`fill`."""
        leaves, _, leaf_visible = self.fill(values, observed, steps)
        states = self.model.encode(leaves, leaf_visible).states
        return torch.cat([states[node] for node in nodes], dim=1)

    def impute(self, values: Tensor, observed: Tensor, steps: Tensor | None,
               noises: Sequence[Tensor] | None = None) -> Tensor:
        """Columns of ``values`` with every missing entry estimated; with
        ``noises``, one draw per noise, side by side.

        With a section Gaussian every missing entry comes from
        :meth:`conditional_fill` (a noise has shape (n, k * m)). Otherwise
        the gaps are filled by :meth:`fill` and hidden sections decoded from
        the roots; a noise (n, n_roots * latent_dim) draws the roots'
        states, and the fill, which does not depend on the draw, runs once.
        """
        if self.section_gaussian is not None:
            filled, _, _ = self.conditional_fill(values, observed,
                                                 (None,) if noises is None else noises)
            return torch.cat([self.layout.scatter(values, leaves) for leaves in filled], dim=1)
        filled = self.fill(values, observed, steps)
        if noises is None:
            return self.estimate(values, *filled)
        return torch.cat([self.estimate(values, *filled, noise) for noise in noises],
                         dim=1)

    def estimates_after(self, values: Tensor, observed: Tensor,
                        counts: Sequence[int]) -> list[Tensor]:
        """The estimate of :meth:`estimate` after each of ``counts`` gap-search
        steps, for every column alike."""
        leaves, entry_observed, leaf_visible = self.prepare(values, observed)
        snapshots = self.gap_snapshots(leaves, entry_observed, leaf_visible, list(counts))
        return [self.estimate(values, snapshots[count], entry_observed, leaf_visible)
                for count in counts]

    @torch.no_grad()
    def masked_imputation_error(self, values: Tensor, observed: Tensor, mask_prob: float,
                                generator: torch.Generator) -> float:
        """Mean squared error, weighted by the entry weights, of imputing
        randomly hidden observed sections from the others (standardized
        scale)."""
        leaves, entry_observed, leaf_observed = self.prepare(values, observed)
        visible = random_visibility(leaf_observed, mask_prob, leaves.dtype, generator)
        hidden = (leaf_observed & ~visible).unsqueeze(2) & entry_observed
        if not bool(hidden.any()):
            return 0.0
        weighted = (self.reconstruct(leaves, visible) - leaves) ** 2 * self.entry_weights
        return float(weighted[hidden].mean())


def random_visibility(leaf_observed: Tensor, mask_prob: float, dtype: torch.dtype,
                      generator: torch.Generator | None = None) -> Tensor:
    """Hide each observed section with probability ``mask_prob``, per row,
    keeping at least one observed section of each row visible (draws from
    ``generator``, or the global torch RNG)."""
    draws = torch.rand(leaf_observed.shape, dtype=dtype, device=leaf_observed.device,
                       generator=generator)
    visible = leaf_observed & (draws >= mask_prob)
    keep_one = torch.argmax(draws * leaf_observed, dim=1)
    forced = torch.zeros_like(visible)
    forced[torch.arange(visible.shape[0], device=visible.device), keep_one] = True
    none_left = ~visible.any(dim=1, keepdim=True)
    return visible | (forced & leaf_observed & none_left)
