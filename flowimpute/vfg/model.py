"""Message passing and the layer-wise ELBO of the Variational Flow Graphical model.

Shapes: a batch of ``n`` rows; ``k`` sections, each padded to ``latent_dim``
(``m``) columns; leaf inputs are a tensor (n, k, m). Node states are kept in a
list indexed by node number, messages in a list indexed by edge number (see
:mod:`flowimpute.vfg.structure`). A tree is the special case of a DAG in which
each node has one parent, and the same code runs both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .edges import EdgeFlows
from .structure import Graph

#: Ridge added to batch covariances before their log-determinant.
_COVARIANCE_RIDGE = 1e-4


@dataclass
class Messages:
    """Result of the forward (encoding) pass."""

    states: list[Tensor]    # node -> (n, m) aggregated state (leaves: inputs)
    visible: list[Tensor]   # node -> (n,) bool: has an observed descendant
    outgoing: list[Tensor]  # edge -> (n, m) message its child sends its parent


class VFGModel(nn.Module):
    """Graph (tree or DAG) of invertible edge flows with averaging aggregation nodes.

    A node's state is the average of its visible children's messages
    (encoding, children to parents); a node's reconstruction is the average
    of its parents' reconstructions mapped back through the inverse edges
    (decoding, the paper's Algorithm 1); a root's reconstruction is its
    state.

    Parameters
    ----------
    graph : Graph
        Parents of each node.
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
        Prior of the roots and the form of every reconstruction term (L2 or L1).
    n_classes : int, default=0
        With ``n_classes > 0``, the prior of every root is centred on a
        learned mean per class (the label-dependent prior of the paper's
        section 5.2; ``prior_means`` of shape (n_classes, n_roots,
        latent_dim)), and a row's label selects it. Without a label the
        prior is the mixture of the classes, weighted by
        ``log_class_weights`` (set by the estimator), and a root with no
        visible descendant takes the mixture's mean.
    """

    def __init__(
        self,
        graph: Graph,
        latent_dim: int,
        n_coupling_layers: int,
        hidden_dims: Sequence[int],
        activation: str,
        log_scale_bound: float,
        aggregation: str,
        latent_distribution: str,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.graph = graph
        self.latent_dim = latent_dim
        self.aggregation = aggregation
        self.latent_distribution = latent_distribution
        self.edges = EdgeFlows(graph.n_edges, latent_dim, n_coupling_layers, hidden_dims,
                               activation, log_scale_bound)
        self.log_confidence = nn.Parameter(torch.zeros(graph.n_edges, latent_dim))
        self.log_confidence.requires_grad_(aggregation == "weighted")
        self._in_edges = [graph.in_edges(node) for node in range(graph.n_nodes)]
        self._out_edges = [graph.out_edges(node) for node in range(graph.n_nodes)]
        self._encode_levels, self._decode_levels = _levels(graph)
        self.prior_means = (nn.Parameter(torch.zeros(n_classes, len(graph.roots), latent_dim))
                            if n_classes else None)
        self.register_buffer("log_class_weights",
                             torch.full((n_classes,), -math.log(max(n_classes, 1))))

    # ------------------------------------------------------------ message passing
    def visibility(self, leaf_visible: Tensor) -> list[Tensor]:
        """Per node, whether it has a visible descendant (leaves: as given)."""
        graph = self.graph
        visible = [leaf_visible[:, t] for t in range(graph.n_sections)]
        for node in range(graph.n_sections, graph.n_nodes):
            children = [graph.edges[edge][0] for edge in self._in_edges[node]]
            visible.append(torch.stack([visible[c] for c in children]).any(0))
        return visible

    def encode(self, leaves: Tensor, leaf_visible: Tensor) -> Messages:
        """Forward pass: each aggregation node averages its visible children's
        messages; a node with no visible child gets state 0 (the prior mean).
        The edges into all nodes of one height are evaluated in one call."""
        graph = self.graph
        states: list[Tensor | None] = [None] * graph.n_nodes
        states[: graph.n_sections] = leaves.unbind(1)
        visible = self.visibility(leaf_visible)
        outgoing: list[Tensor | None] = [None] * graph.n_edges
        for nodes, edges, edge_index in self._encode_levels:
            messages = self.edges(torch.stack([states[graph.edges[e][0]] for e in edges]),
                                  edge_index)
            for edge, message in zip(edges, messages.unbind(0), strict=True):
                outgoing[edge] = message
            for node in nodes:
                total = torch.zeros_like(leaves[:, 0])
                weight_sum = torch.zeros_like(total)
                for edge in self._in_edges[node]:
                    child = graph.edges[edge][0]
                    weight = visible[child].unsqueeze(1) * torch.exp(self.log_confidence[edge])
                    total = total + weight * outgoing[edge]
                    weight_sum = weight_sum + weight
                states[node] = total / weight_sum.clamp_min(1e-12)
        if self.prior_means is not None:
            fallback = torch.einsum("c,crm->rm", self.log_class_weights.exp(), self.prior_means)
            for position, root in enumerate(graph.roots):
                states[root] = torch.where(visible[root].unsqueeze(1), states[root],
                                           fallback[position])
        return Messages(states, visible, outgoing)

    def decode(self, messages: Messages, from_root: bool = True) -> list[Tensor]:
        """Backward pass: reconstructed state of every node.

        A node's reconstruction is the plain average over its parents of the
        parent's reconstruction mapped back through the inverse edge. With
        ``from_root`` every node is decoded from the roots' states;
        otherwise an aggregation node that has observed descendants keeps
        its own state (decoding from the closest observed ancestor, the
        paper's Remark 1).
        """
        graph = self.graph
        decoded: list[Tensor | None] = [None] * graph.n_nodes
        for root in graph.roots:
            decoded[root] = messages.states[root]
        for nodes, edges, edge_index in self._decode_levels:
            from_parents = self.edges.inverse(
                torch.stack([decoded[graph.edges[e][1]] for e in edges]), edge_index)
            by_edge = dict(zip(edges, from_parents.unbind(0), strict=True))
            for node in nodes:
                node_edges = self._out_edges[node]
                from_parent = by_edge[node_edges[0]]
                for edge in node_edges[1:]:
                    from_parent = from_parent + by_edge[edge]
                if len(node_edges) > 1:
                    from_parent = from_parent / len(node_edges)
                if from_root or node < graph.n_sections:
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

    def _standard_cross_entropy(self, z: Tensor) -> Tensor:
        """``-log p(z)`` under a standard normal (or Laplace) prior, summed
        over the last axis."""
        m = z.shape[-1]
        if self.latent_distribution == "gaussian":
            return 0.5 * z.pow(2).sum(-1) + 0.5 * m * math.log(2 * math.pi)
        return z.abs().sum(-1) + m * math.log(2.0)

    def _prior_cross_entropy(self, z: Tensor, position: int, labels: Tensor | None) -> Tensor:
        """Per-row ``-log p(z)`` under the prior of the ``position``-th root:
        standard, centred on the mean of each row's label, or (a label prior
        without labels) the mixture of the classes."""
        if self.prior_means is None:
            return self._standard_cross_entropy(z)
        means = self.prior_means[:, position]
        if labels is not None:
            return self._standard_cross_entropy(z - means[labels])
        per_class = self._standard_cross_entropy(z.unsqueeze(1) - means)
        return -torch.logsumexp(self.log_class_weights - per_class, dim=1)

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
        entry_weights: Tensor | None = None, labels: Tensor | None = None,
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
        labels : Tensor (n,) of class indices or None, default=None
            Each row's class, for a model with a label prior (None: the
            mixture of the classes).

        Returns
        -------
        per_row : Tensor (n,)
            Reconstruction of every observed entry from the roots (L2 or
            L1), consistency of every visible child's message with its
            parent's decoded state, and the roots' prior cross-entropies.
        entropy : Tensor ()
            Batch-Gaussian entropy of every message and of every root.
            The negative ELBO of the batch is ``per_row.mean() - entropy``.
        """
        messages = self.encode(leaves, leaf_visible)
        decoded = self.decode(messages)
        graph = self.graph
        reconstructed = torch.stack(decoded[: graph.n_sections], dim=1)
        distance = self._distance(reconstructed, leaves) * entry_observed
        if entry_weights is not None:
            distance = distance * entry_weights
        per_row = distance.sum((1, 2))
        entropy = per_row.new_zeros(())
        for edge, (child, parent) in enumerate(graph.edges):
            message = messages.outgoing[edge]
            seen = messages.visible[child]
            per_row = per_row + self._message_nll(edge, message, decoded[parent]) * seen
            entropy = entropy + self._grouped_entropy(message, seen, n_groups)
        for position, root in enumerate(graph.roots):
            state, seen = messages.states[root], messages.visible[root]
            per_row = per_row + self._prior_cross_entropy(state, position, labels) * seen
            entropy = entropy + self._grouped_entropy(state, seen, n_groups)
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
        entry_weights: Tensor | None = None, labels: Tensor | None = None,
    ) -> Tensor:
        """Mean negative layer-wise ELBO of a batch (see :meth:`elbo_terms`)."""
        per_row, entropy = self.elbo_terms(leaves, leaf_visible, entry_observed,
                                           entry_weights=entry_weights, labels=labels)
        return per_row.mean() - entropy

    def root_precisions(self, messages: Messages) -> list[Tensor]:
        """Posterior precision of each root's state per row and coordinate
        (roots in :attr:`Graph.roots` order): the prior's 1 plus the
        precisions of the root's visible children (a product of Gaussian
        experts; deeper levels' uncertainty is not propagated). With "mean"
        aggregation every child counts 1."""
        graph, precisions = self.graph, []
        for root in graph.roots:
            precision = torch.ones_like(messages.states[root])
            for edge in self._in_edges[root]:
                weight = torch.exp(self.log_confidence[edge])
                precision = precision + messages.visible[graph.edges[edge][0]].unsqueeze(1) * weight
            precisions.append(precision)
        return precisions


def _levels(graph: Graph) -> tuple[list[tuple[list[int], list[int], Tensor]],
                                   list[tuple[list[int], list[int], Tensor]]]:
    """Batches of the message passing: (nodes, their edges, the edges as a tensor).

    Encoding goes up by height (a leaf has height 0, a node one more than its
    highest child): the edges into every aggregation node of one height are
    evaluated in one batched call, since their children all have lower
    heights. Decoding goes down by depth (a root has depth 0, a node one more
    than its deepest parent): the edges to the parents of every node of one
    depth are inverted in one call.
    """
    height, depth = graph.heights(), graph.depths()
    encode = []
    for level in range(1, max(height) + 1):
        nodes = [node for node in range(graph.n_nodes) if height[node] == level]
        edges = [e for node in nodes for e in graph.in_edges(node)]
        encode.append((nodes, edges, torch.tensor(edges)))
    decode = []
    for level in range(1, max(depth) + 1):
        nodes = [node for node in range(graph.n_nodes) if depth[node] == level]
        edges = [e for node in nodes for e in graph.out_edges(node)]
        decode.append((nodes, edges, torch.tensor(edges)))
    return encode, decode
