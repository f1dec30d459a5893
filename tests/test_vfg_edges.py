"""The batched edge flows of VFGModel: invertible, and each edge its own flow."""

import pytest
import torch

from flowimpute.vfg.edges import EdgeFlows


def _trained_like(n_edges: int, latent_dim: int, seed: int = 0) -> EdgeFlows:
    """Edge flows with every parameter perturbed, so couplings are not the identity."""
    torch.manual_seed(seed)
    flows = EdgeFlows(n_edges, latent_dim, 3, (16, 16), "tanh", 3.0).double()
    with torch.no_grad():
        for parameter in flows.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return flows


@pytest.mark.parametrize("latent_dim", [2, 3, 5])
def test_inverse_undoes_forward(latent_dim):
    flows = _trained_like(4, latent_dim)
    edges = torch.tensor([2, 0, 3])
    x = torch.randn(3, 50, latent_dim, dtype=torch.float64)
    y = flows(x, edges)
    assert not torch.allclose(y, x, atol=1e-3)
    torch.testing.assert_close(flows.inverse(y, edges), x, atol=1e-10, rtol=0)


def test_each_edge_is_its_own_flow():
    flows = _trained_like(4, 4)
    x = torch.randn(4, 30, 4, dtype=torch.float64)
    together = flows(x, torch.arange(4))
    for edge in range(4):
        alone = flows(x[edge:edge + 1], torch.tensor([edge]))
        torch.testing.assert_close(alone[0], together[edge], atol=1e-12, rtol=0)
    swapped = flows(x[[1, 0]], torch.tensor([1, 0]))
    torch.testing.assert_close(swapped, together[[1, 0]], atol=1e-12, rtol=0)
    assert not torch.allclose(flows(x[:1], torch.tensor([1])), together[:1], atol=1e-3)


def test_starts_as_an_invertible_rotation_per_edge():
    torch.manual_seed(0)
    flows = EdgeFlows(3, 4, 2, (8,), "relu", 3.0).double()
    x = torch.randn(3, 20, 4, dtype=torch.float64)
    y = flows(x, torch.arange(3))
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=0)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="latent_dim"):
        EdgeFlows(2, 1, 3, (8,), "tanh", 3.0)
    with pytest.raises(ValueError, match="activation"):
        EdgeFlows(2, 4, 3, (8,), "sigmoid", 3.0)
