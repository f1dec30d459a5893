"""Message passing and the layer-wise ELBO of the Variational Flow Graphical model.

Shapes: a batch of ``n`` rows; ``k`` sections, each padded to ``latent_dim``
(``m``) columns; leaf inputs are a tensor (n, k, m). Node states are kept in a
list indexed by node number (see :mod:`flowimpute.vfg.structure`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .edges import EdgeFlows
from .structure import Tree

#: Ridge added to batch covariances before their log-determinant.
_COVARIANCE_RIDGE = 1e-4


@dataclass
class Messages:
    """Result of the forward (encoding) pass."""

    states: list[Tensor]            # node -> (n, m) aggregated state (leaves: inputs)
    visible: list[Tensor]           # node -> (n,) bool: has an observed descendant
    outgoing: list[Tensor | None]   # node -> (n, m) message sent to its parent (root: None)


class VFGModel(nn.Module):
    """Tree of invertible edge flows with averaging aggregation nodes.

    Parameters
    ----------
    tree : Tree
        Parent of each node.
    latent_dim : int
        Width of every node (sections are padded to it).
    n_coupling_layers, hidden_dims, activation, log_scale_bound
        Architecture of each edge flow (:class:`~flowimpute.vfg.edges.EdgeFlows`).
    aggregation : {"mean", "weighted"}
        "mean" is the paper's plain average of the visible children's
        messages; "weighted" averages them with a learned positive confidence
        per child and latent coordinate (a product of Gaussian experts with
        learned precisions), so a child can speak for the coordinates it
        knows about and defer on the others.
    latent_distribution : {"gaussian", "laplace"}
        Prior of the root and the form of every reconstruction term (L2 or L1).
    """

    def __init__(
        self,
        tree: Tree,
        latent_dim: int,
        n_coupling_layers: int,
        hidden_dims: Sequence[int],
        activation: str,
        log_scale_bound: float,
        aggregation: str,
        latent_distribution: str,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.latent_dim = latent_dim
        self.aggregation = aggregation
        self.latent_distribution = latent_distribution
        self.edges = EdgeFlows(tree.n_nodes - 1, latent_dim, n_coupling_layers, hidden_dims,
                               activation, log_scale_bound)
        self.log_confidence = nn.Parameter(torch.zeros(tree.n_nodes - 1, latent_dim))
        self.log_confidence.requires_grad_(aggregation == "weighted")
        self._children = [tree.children(node) for node in range(tree.n_nodes)]
        self._encode_levels, self._decode_levels = _levels(tree)

    # ------------------------------------------------------------ message passing
    def visibility(self, leaf_visible: Tensor) -> list[Tensor]:
        """Per node, whether it has a visible descendant (leaves: as given)."""
        visible = [leaf_visible[:, t] for t in range(self.tree.n_sections)]
        for node in range(self.tree.n_sections, self.tree.n_nodes):
            visible.append(torch.stack([visible[c] for c in self._children[node]]).any(0))
        return visible

    def encode(self, leaves: Tensor, leaf_visible: Tensor) -> Messages:
        """Forward pass: each aggregation node averages its visible children's
        messages; a node with no visible child gets state 0 (the prior mean).
        The edges into all nodes of one height are evaluated in one call."""
        states: list[Tensor | None] = [None] * self.tree.n_nodes
        states[: self.tree.n_sections] = leaves.unbind(1)
        visible = self.visibility(leaf_visible)
        outgoing: list[Tensor | None] = [None] * self.tree.n_nodes
        for nodes, children, edge_index in self._encode_levels:
            messages = self.edges(torch.stack([states[c] for c in children]), edge_index)
            for child, message in zip(children, messages.unbind(0), strict=True):
                outgoing[child] = message
            for node in nodes:
                total = torch.zeros_like(leaves[:, 0])
                weight_sum = torch.zeros_like(total)
                for child in self._children[node]:
                    weight = visible[child].unsqueeze(1) * torch.exp(self.log_confidence[child])
                    total = total + weight * outgoing[child]
                    weight_sum = weight_sum + weight
                states[node] = total / weight_sum.clamp_min(1e-12)
        return Messages(states, visible, outgoing)

    def decode(self, messages: Messages, from_root: bool = True) -> list[Tensor]:
        """Backward pass: reconstructed state of every node.

        With ``from_root`` every node is decoded from the root's state through
        the inverse edge flows; otherwise a node that has observed descendants
        keeps its own aggregated state (decoding from the closest observed
        ancestor, the paper's Remark 1).
        """
        tree = self.tree
        decoded: list[Tensor | None] = [None] * tree.n_nodes
        decoded[tree.root] = messages.states[tree.root]
        for nodes, edge_index in self._decode_levels:
            from_parents = self.edges.inverse(
                torch.stack([decoded[tree.parents[node]] for node in nodes]), edge_index)
            for node, from_parent in zip(nodes, from_parents.unbind(0), strict=True):
                if from_root or node < tree.n_sections:
                    decoded[node] = from_parent
                else:
                    own = messages.visible[node].unsqueeze(1)
                    decoded[node] = torch.where(own, messages.states[node], from_parent)
        return decoded

    # ------------------------------------------------------------------ the ELBO
    def _distance(self, a: Tensor, b: Tensor) -> Tensor:
        """Negative log-likelihood kernel of the reconstruction terms, per entry."""
        difference = a - b
        if self.latent_distribution == "gaussian":
            return 0.5 * difference.pow(2)
        return difference.abs()

    def _prior_cross_entropy(self, z: Tensor) -> Tensor:
        """Per-row ``-log p(z)`` under the root prior."""
        m = z.shape[1]
        if self.latent_distribution == "gaussian":
            return 0.5 * z.pow(2).sum(1) + 0.5 * m * math.log(2 * math.pi)
        return z.abs().sum(1) + m * math.log(2.0)

    def _message_nll(self, node: int, message: Tensor, parent_state: Tensor) -> Tensor:
        """Per-row consistency of a child's message with its parent's decoded state.

        With "weighted" aggregation each message is a factor with learned
        precision ``w`` per coordinate, and the term is its negative
        log-likelihood (``w d^2 / 2 - log(w) / 2``, or ``w |d| - log w`` for
        Laplace), which learns ``w`` as the inverse spread of the child's
        errors. With "mean" aggregation ``w = 1``, the paper's term.
        """
        distance = self._distance(message, parent_state)
        if self.aggregation != "weighted":
            return distance.sum(1)
        log_precision = self.log_confidence[node]
        normalizer = 0.5 if self.latent_distribution == "gaussian" else 1.0
        return (torch.exp(log_precision) * distance).sum(1) - normalizer * log_precision.sum()

    @staticmethod
    def _batch_entropy(z: Tensor) -> Tensor:
        """Entropy of a Gaussian with the batch covariance of ``z`` (rows)."""
        n, m = z.shape
        if n < 2:
            return z.new_zeros(())
        centered = z - z.mean(0)
        covariance = centered.T @ centered / (n - 1)
        covariance = covariance + _COVARIANCE_RIDGE * torch.eye(m, dtype=z.dtype, device=z.device)
        return 0.5 * torch.logdet(covariance) + 0.5 * m * (1 + math.log(2 * math.pi))

    def elbo_terms(
        self, leaves: Tensor, leaf_visible: Tensor, entry_observed: Tensor, n_groups: int = 1,
        entry_weights: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Per-row negative log-likelihood terms and the batch entropy of the ELBO.

        Parameters
        ----------
        leaves : Tensor (n, k, m)
            Padded sections (missing entries already filled).
        leaf_visible : Tensor (n, k) bool
            Sections the encoder may see.
        entry_observed : Tensor (n, k, m) bool
            Entries whose reconstruction is scored (observed, non-padding).
        n_groups : int, default=1
            The batch stacks this many equal groups of rows (for example the
            full and the randomly masked pass over the same rows); batch
            entropies are taken within each group and added up.
        entry_weights : Tensor (k, m) or None, default=None
            Weight of each section entry's reconstruction term (None: 1, the
            ELBO itself).

        Returns
        -------
        per_row : Tensor (n,)
            Reconstruction of every observed entry from the root (L2 or L1),
            consistency of every visible child's message with its parent's
            decoded state, and the root's prior cross-entropy.
        entropy : Tensor ()
            Batch-Gaussian entropy of every message layer and of the root.
            The negative ELBO of the batch is ``per_row.mean() - entropy``.
        """
        messages = self.encode(leaves, leaf_visible)
        decoded = self.decode(messages)
        reconstructed = torch.stack(decoded[: self.tree.n_sections], dim=1)
        distance = self._distance(reconstructed, leaves) * entry_observed
        if entry_weights is not None:
            distance = distance * entry_weights
        per_row = distance.sum((1, 2))
        entropy = per_row.new_zeros(())
        for node in range(self.tree.n_nodes - 1):
            message = messages.outgoing[node]
            seen = messages.visible[node]
            parent_state = decoded[self.tree.parents[node]]
            per_row = per_row + self._message_nll(node, message, parent_state) * seen
            entropy = entropy + self._grouped_entropy(message, seen, n_groups)
        root = messages.states[self.tree.root]
        root_seen = messages.visible[self.tree.root]
        per_row = per_row + self._prior_cross_entropy(root) * root_seen
        entropy = entropy + self._grouped_entropy(root, root_seen, n_groups)
        return per_row, entropy

    def _grouped_entropy(self, z: Tensor, seen: Tensor, n_groups: int) -> Tensor:
        """Sum over row groups of the batch entropy of the seen rows."""
        total = z.new_zeros(())
        for group, group_seen in zip(z.chunk(n_groups), seen.chunk(n_groups), strict=True):
            if group_seen.sum() > 1:
                total = total + self._batch_entropy(group[group_seen])
        return total

    def negative_elbo(
        self, leaves: Tensor, leaf_visible: Tensor, entry_observed: Tensor,
        entry_weights: Tensor | None = None,
    ) -> Tensor:
        """Mean negative layer-wise ELBO of a batch (see :meth:`elbo_terms`)."""
        per_row, entropy = self.elbo_terms(leaves, leaf_visible, entry_observed,
                                           entry_weights=entry_weights)
        return per_row.mean() - entropy

    def root_precision(self, messages: Messages) -> Tensor:
        """Posterior precision of the root state per row and coordinate: the
        prior's 1 plus the precisions of the root's visible children (a
        product of Gaussian experts; deeper levels' uncertainty is not
        propagated). With "mean" aggregation every child counts 1."""
        root = self.tree.root
        precision = torch.ones_like(messages.states[root])
        for child in self._children[root]:
            weight = torch.exp(self.log_confidence[child])
            precision = precision + messages.visible[child].unsqueeze(1) * weight
        return precision


def _levels(tree: Tree) -> tuple[list[tuple[list[int], list[int], Tensor]],
                                  list[tuple[list[int], Tensor]]]:
    """Batches of the message passing.

    Encoding goes up by height (a leaf has height 0, a node one more than its
    highest child): every aggregation node of one height gets its children's
    messages from one batched call, since those children all have lower
    heights. Decoding goes down by depth: all nodes at one depth are decoded
    from their parents (one level up) in one call. Edge ``e`` joins node ``e``
    to its parent.
    """
    height = [0] * tree.n_nodes
    for node in range(tree.n_sections, tree.n_nodes):  # children come first
        height[node] = 1 + max(height[c] for c in tree.children(node))
    encode = []
    for level in range(1, height[tree.root] + 1):
        nodes = [node for node in range(tree.n_nodes) if height[node] == level]
        children = [c for node in nodes for c in tree.children(node)]
        encode.append((nodes, children, torch.tensor(children)))
    depth = [len(tree.path_from_root(node)) - 1 for node in range(tree.n_nodes)]
    decode = []
    for level in range(1, max(depth) + 1):
        nodes = [node for node in range(tree.n_nodes) if depth[node] == level]
        decode.append((nodes, torch.tensor(nodes)))
    return encode, decode

