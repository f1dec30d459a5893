"""SIReN-VAE: a VAE whose prior, inference network and decoder follow a Bayesian network.

Mouton and Kroon, "Structured invertible residual network VAE": given a
Bayesian network over latent variables ``z`` and observed ones ``x`` (each
observed variable a leaf, its parents latent),

- the prior ``p(z)`` is a normalizing graphical residual flow over the
  network's latent subgraph: ``log p(z) = log N(f(z)) + log |det df/dz|``
  with every block of ``f`` masked by that graph;
- the decoder gives each observed variable a likelihood from its parents
  alone (a :class:`~flowimpute.nn.masked.MaskedMLP`);
- the inference network ``q(z | x)`` is a generating graphical residual flow
  conditioned on ``x``, following the network's faithful inverse
  (:func:`~flowimpute.structure.inversion.faithful_inverse`): a Gaussian
  whose location and scale for each latent come from its observed inverse
  parents, then blocks ``z + g(z, x)`` in which each latent's update reads
  its inverse parents only. With gaps in ``x`` the context is the row with
  zeros at its gaps and its mask (as in MIWAE), each mask entry following
  its value's edges.

Every Jacobian is triangular in a topological order, so each log-density is
exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..flows.builders import residual_transform
from ..nn.masked import MaskedMLP
from ..structure.graphs import complete_dag, topological_order
from ..structure.inversion import faithful_inverse
from ..transforms import Compose, ResidualBlock
from .importance import ImportanceVAE, standard_normal_log_prob

STRUCTURES = ("true", "independent", "complete")


@dataclass(frozen=True)
class SIReNStructure:
    """The graphs of a SIReN-VAE's three networks (boolean matrices).

    Attributes
    ----------
    latent_adjacency : (n_latent, n_latent)
        The prior's graph over the latent variables.
    decoder_adjacency : (n_latent, n_observed)
        ``[k, j]``: latent ``k`` is a parent of observed ``j``.
    inverse_latent_adjacency : (n_latent, n_latent)
        The inference network's graph over the latent variables.
    inverse_context_adjacency : (n_observed, n_latent)
        ``[j, k]``: observed ``j`` is an inverse parent of latent ``k``.
    """

    latent_adjacency: np.ndarray
    decoder_adjacency: np.ndarray
    inverse_latent_adjacency: np.ndarray
    inverse_context_adjacency: np.ndarray

    @classmethod
    def from_network(cls, adjacency: np.ndarray, latent: np.ndarray,
                     structure: str = "true") -> SIReNStructure:
        """The graphs of a network over latent and observed nodes.

        Parameters
        ----------
        adjacency : ndarray of bool, shape (n_nodes, n_nodes)
            The DAG, ``adjacency[i, j]`` for an edge ``i -> j``.
        latent : ndarray of bool, shape (n_nodes,)
        structure : {"true", "independent", "complete"}
            "true" uses the network; the ablations keep its order but
            replace the latent subgraph by no edges ("independent") or by the
            complete DAG along a topological order ("complete"), with every
            latent a parent of every observed variable. The inverse is
            always the faithful inverse of the graph used.
        """
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}.")
        adjacency = np.asarray(adjacency, dtype=bool)
        latent = np.asarray(latent, dtype=bool)
        observed = ~latent
        if adjacency[observed].any():
            raise ValueError("every observed variable must be a leaf of the network (no "
                             "children): the decoder models the observed variables given "
                             "the latent ones only.")
        if structure != "true":
            adjacency = adjacency.copy()
            order = [node for node in topological_order(adjacency) if latent[node]]
            within = (complete_dag(range(len(order))) if structure == "complete"
                      else np.zeros((len(order), len(order)), dtype=bool))
            adjacency[np.ix_(order, order)] = within
            adjacency[np.ix_(latent, observed)] = True
        inverse = faithful_inverse(adjacency, latent)
        return cls(adjacency[np.ix_(latent, latent)], adjacency[np.ix_(latent, observed)],
                   inverse[np.ix_(latent, latent)], inverse[np.ix_(observed, latent)])


class SIReNVAEModule(ImportanceVAE):
    """Graphical prior, graphical inference network and masked decoder.

    Parameters
    ----------
    structure : SIReNStructure
    n_blocks : int
        Residual blocks of the prior and of the inference network.
    flow_hidden_dims : sequence of int
        Hidden widths of every block (each at least the number of distinct
        parent sets of its graph).
    decoder_hidden_dims : sequence of int
    activation : str
        The decoder's and the inference Gaussian's non-linearity.
    lipschitz : float
        Bound on each block's residual Lipschitz constant.
    likelihood : {"gaussian", "student_t"}
    self_masking : bool
    """

    def __init__(self, structure: SIReNStructure, n_blocks: int,
                 flow_hidden_dims: Sequence[int], decoder_hidden_dims: Sequence[int],
                 activation: str, lipschitz: float, likelihood: str,
                 self_masking: bool = False) -> None:
        n_latent, n_observed = structure.decoder_adjacency.shape
        super().__init__(n_observed, likelihood, self_masking)
        self.latent_dim = n_latent
        # The context is the row (zeros at gaps) then its mask, each with the value's edges.
        context_graph = np.concatenate([structure.inverse_context_adjacency] * 2)
        self.posterior_base = MaskedMLP(torch.as_tensor(context_graph.T), decoder_hidden_dims,
                                        2, activation)
        self.posterior_flow = Compose(*(
            ResidualBlock(n_latent, flow_hidden_dims,
                          adjacency=structure.inverse_latent_adjacency, lipschitz=lipschitz,
                          context_features=2 * n_observed, context_adjacency=context_graph)
            for _ in range(n_blocks)))
        self.prior_flow = residual_transform(n_latent, n_blocks, flow_hidden_dims,
                                             adjacency=structure.latent_adjacency,
                                             lipschitz=lipschitz)
        self.decoder = MaskedMLP(torch.as_tensor(structure.decoder_adjacency.T),
                                 decoder_hidden_dims, self.outputs_per_column, activation)

    def posterior(self, values: Tensor, observed: Tensor, noise: Tensor
                  ) -> tuple[Tensor, Tensor]:
        observed_float = observed.to(values.dtype)
        context = torch.cat([values * observed_float, observed_float], dim=1)
        base = self.posterior_base(context)
        mean, log_scale = base[..., 0], base[..., 1].clamp(-10, 5)
        z = mean + torch.exp(log_scale) * noise                      # (K, n, latent)
        log_q = standard_normal_log_prob(noise).expand(z.shape[:2]) - log_scale.sum(-1)
        n_draws, n_rows = z.shape[:2]
        z_flat, log_det = self.posterior_flow(
            z.reshape(n_draws * n_rows, -1),
            context.expand(n_draws, -1, -1).reshape(n_draws * n_rows, -1))
        return z_flat.view(n_draws, n_rows, -1), log_q - log_det.view(n_draws, n_rows)

    def log_prior(self, z: Tensor) -> Tensor:
        u, log_det = self.prior_flow(z.reshape(-1, z.shape[-1]))
        return (standard_normal_log_prob(u) + log_det).view(z.shape[:-1])

    def decoder_outputs(self, z: Tensor) -> Tensor:
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.view(*z.shape[:-1], *out.shape[1:])
