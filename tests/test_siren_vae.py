"""SIReN-VAE: graphs of its three networks, exact log-densities, the estimator."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import multivariate_normal

from flowimpute import SIReNVAE
from flowimpute.structure.graphs import LinearGaussianNetwork
from flowimpute.vae.siren import SIReNStructure, SIReNVAEModule

# z0 -> z1 -> x0, z0 -> x1, z2 -> x1, z2 -> x2 (latent z0..z2, observed x0..x2).
NODES = ["z0", "z1", "z2", "x0", "x1", "x2"]
EDGES = [("z0", "z1"), ("z1", "x0"), ("z0", "x1"), ("z2", "x1"), ("z2", "x2")]


def _adjacency(edges=EDGES) -> np.ndarray:
    adjacency = np.zeros((6, 6), dtype=bool)
    for parent, child in edges:
        adjacency[NODES.index(parent), NODES.index(child)] = True
    return adjacency


LATENT = np.array([True, True, True, False, False, False])


def _small_module(structure: str = "true") -> SIReNVAEModule:
    torch.manual_seed(0)
    module = SIReNVAEModule(SIReNStructure.from_network(_adjacency(), LATENT, structure),
                            n_blocks=2, flow_hidden_dims=(12,), decoder_hidden_dims=(12,),
                            activation="tanh", lipschitz=0.9, likelihood="gaussian").double()
    with torch.no_grad():       # leave the zero initialization, so every path carries weight
        for parameter in module.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return module.eval()


def _ancestors(adjacency: np.ndarray) -> np.ndarray:
    """``reach[i, j]``: a directed path from i to j (or i == j)."""
    reach = adjacency | np.eye(len(adjacency), dtype=bool)
    for _ in range(len(adjacency)):
        reach = reach | ((reach.astype(int) @ reach.astype(int)) > 0)
    return reach


def test_structures_of_the_network_and_of_its_ablations():
    true = SIReNStructure.from_network(_adjacency(), LATENT, "true")
    np.testing.assert_array_equal(true.latent_adjacency, _adjacency()[:3, :3])
    np.testing.assert_array_equal(true.decoder_adjacency, _adjacency()[:3, 3:])
    # x1's parents z0 and z2 are married, so given x the inverse joins them.
    assert true.inverse_latent_adjacency[0, 2] or true.inverse_latent_adjacency[2, 0]
    assert true.inverse_context_adjacency[1, [0, 2]].all()
    independent = SIReNStructure.from_network(_adjacency(), LATENT, "independent")
    assert not independent.latent_adjacency.any() and independent.decoder_adjacency.all()
    complete = SIReNStructure.from_network(_adjacency(), LATENT, "complete")
    np.testing.assert_array_equal(complete.latent_adjacency, np.triu(np.ones((3, 3), bool), 1))
    assert complete.inverse_context_adjacency.all()
    with pytest.raises(ValueError, match="must be a leaf"):
        SIReNStructure.from_network(_adjacency(EDGES + [("x0", "x2")]), LATENT)
    with pytest.raises(ValueError, match="structure must be one of"):
        SIReNStructure.from_network(_adjacency(), LATENT, "dense")


def test_networks_follow_their_graphs():
    """The decoder reads each column's parents only; the prior maps each
    latent from its ancestors only; the posterior draw of each latent
    depends on the observed variables it may depend on only."""
    module = _small_module()
    structure = SIReNStructure.from_network(_adjacency(), LATENT, "true")
    z = torch.randn(3, dtype=torch.float64)
    decoder = torch.autograd.functional.jacobian(lambda v: module.decode(v)[0], z)
    assert (decoder[~torch.as_tensor(structure.decoder_adjacency.T)] == 0).all()
    assert (decoder[torch.as_tensor(structure.decoder_adjacency.T)].abs() > 1e-10).all()
    prior = torch.autograd.functional.jacobian(
        lambda v: module.prior_flow(v.unsqueeze(0))[0].squeeze(0), z)
    allowed = torch.as_tensor(_ancestors(structure.latent_adjacency).T)
    assert (prior[~allowed] == 0).all()
    x, noise = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 1, 3, dtype=torch.float64)
    observed = torch.ones(1, 3, dtype=torch.bool)
    posterior = torch.autograd.functional.jacobian(
        lambda v: module.posterior(v.unsqueeze(0), observed, noise)[0].squeeze(), x[0])
    full = np.zeros((6, 6), dtype=bool)
    full[:3, :3] = structure.inverse_latent_adjacency
    full[3:, :3] = structure.inverse_context_adjacency
    reach = _ancestors(full)[3:, :3].T                    # (latent, observed)
    assert (posterior[~torch.as_tensor(reach)] == 0).all()


def test_posterior_and_prior_log_densities_are_exact():
    """log q(z | x) against the change of variables with the autograd Jacobian of
    noise -> z; log p(z) against that of z -> u."""
    module = _small_module()
    x = torch.randn(1, 3, dtype=torch.float64)
    observed = torch.tensor([[True, False, True]])
    noise = torch.randn(1, 1, 3, dtype=torch.float64)
    z, log_q = module.posterior(x, observed, noise)
    jacobian = torch.autograd.functional.jacobian(
        lambda e: module.posterior(x, observed, e.view(1, 1, 3))[0].squeeze(), noise.squeeze())
    base = torch.distributions.Normal(0.0, 1.0).log_prob(noise).sum()
    torch.testing.assert_close(log_q.squeeze(), base - torch.linalg.slogdet(jacobian)[1])
    point = z.squeeze()
    prior_jacobian = torch.autograd.functional.jacobian(
        lambda v: module.prior_flow(v.unsqueeze(0))[0].squeeze(0), point)
    u = module.prior_flow(point.unsqueeze(0))[0]
    expected = (torch.distributions.Normal(0.0, 1.0).log_prob(u).sum()
                + torch.linalg.slogdet(prior_jacobian)[1])
    torch.testing.assert_close(module.log_prior(point.view(1, 1, 3)).squeeze(), expected)


def _small_network() -> LinearGaussianNetwork:
    """The graph of NODES/EDGES with weights of either sign and unit-scale noise."""
    adjacency = _adjacency()
    weights = np.where(adjacency, 1.0, 0.0) * np.array([1.0, -0.8, 1.2, 0.7, -1.1, 0.9])
    return LinearGaussianNetwork(NODES, adjacency, weights, np.zeros(6),
                                 np.array([1.0, 0.5, 1.0, 0.2, 0.3, 0.2]))


@pytest.fixture(scope="module")
def small_network_data():
    network = _small_network()
    columns = NODES[3:]
    train = network.sample(1500, random_state=0)[columns]
    train = train.mask(np.random.RandomState(0).uniform(size=train.shape) < 0.2)
    test = network.sample(500, random_state=1)[columns]
    mean, covariance = network.moments()
    return train, test, mean[3:], covariance[3:, 3:]


@pytest.mark.parametrize("structure", ["true", "independent"])
def test_fits_a_network_close_to_its_true_marginal(small_network_data, structure):
    train, test, mean, covariance = small_network_data
    model = SIReNVAE(edges=EDGES, latent_variables=NODES[:3], structure=structure,
                     n_draws=100, max_epochs=60, random_state=0).fit(train)
    truth = multivariate_normal(mean, covariance).logpdf(test.to_numpy()).mean()
    assert truth - 0.3 < model.score(test) < truth + 0.05
    if structure == "true":
        return
    gaps = test.copy()
    gaps.iloc[::2, 0] = np.nan
    imputed = model.transform(gaps)
    assert isinstance(imputed, np.ndarray) and not np.isnan(imputed).any()
    np.testing.assert_array_equal(imputed[1::2], test.to_numpy()[1::2])
    # Close to the true conditional mean, whose error is the least possible.
    gain = covariance[0, 1:] @ np.linalg.inv(covariance[1:, 1:])
    rows = test.to_numpy()[::2]
    best = mean[0] + (rows[:, 1:] - mean[1:]) @ gain
    error, least = imputed[::2, 0] - rows[:, 0], best - rows[:, 0]
    assert np.sqrt(np.mean(error ** 2)) < 1.05 * np.sqrt(np.mean(least ** 2))
    assert np.sqrt(np.mean((imputed[::2, 0] - best) ** 2)) < 0.3 * np.sqrt(np.mean(least ** 2))


def test_ablations_need_no_edges_and_name_their_latents():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    model = SIReNVAE(latent_variables=2, structure="complete", flow_hidden_dims=(8,),
                     hidden_dims=(8,), max_epochs=2, random_state=0).fit(X)
    assert model.latent_names_ == ["z0", "z1"] and model.latent_dim_ == 2
    assert model.structure_.latent_adjacency[0, 1] and model.structure_.decoder_adjacency.all()
    assert model.latent_mean(X[:5]).shape == (5, 2)


def test_edges_by_column_name_and_constant_columns():
    rng = np.random.RandomState(0)
    z = rng.normal(size=200)
    X = pd.DataFrame({"a": z + rng.normal(size=200) * 0.3, "flat": 1.0,
                      "b": -z + rng.normal(size=200) * 0.3})
    model = SIReNVAE(edges=[("z", "a"), ("z", "b"), ("z", "flat")], latent_variables=["z"],
                     max_epochs=2, random_state=0).fit(X)
    assert model.structure_.decoder_adjacency.shape == (1, 2)
    assert model.transform(X).shape == (200, 3)


@pytest.mark.parametrize("settings, message", [
    (dict(latent_variables=["z"]), "needs the network"),
    (dict(edges=[("z", 0)]), "needs latent_variables"),
    (dict(edges=[("z", 0), (0, 1)], latent_variables=["z"]), "must be\\s+leaves"),
    (dict(edges=[("z", 5)], latent_variables=["z"]), "neither a latent variable"),
    (dict(edges=[("z", "w"), ("w", "z")], latent_variables=["z", "w"]), "acyclic"),
    (dict(edges=[("z", "z")], latent_variables=["z"]), "self-loop"),
    (dict(edges=[("z", 0, 1)], latent_variables=["z"]), "pair"),
    (dict(edges=[("z", 0)], latent_variables=["z", "z"]), "distinct names"),
])
def test_bad_networks_are_refused_clearly(settings, message):
    X = np.random.RandomState(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=message):
        SIReNVAE(**settings, max_epochs=1).fit(X)


def test_latent_names_must_differ_from_columns_and_columns_be_numeric():
    X = pd.DataFrame({"z": np.arange(30.0), "b": np.arange(30.0) ** 0.5})
    with pytest.raises(ValueError, match="names of columns"):
        SIReNVAE(edges=[("z", "b")], latent_variables=["z"], max_epochs=1).fit(X)
    X["c"] = pd.Categorical(["u", "v", "w"] * 10)
    with pytest.raises(ValueError, match="categorical columns"):
        SIReNVAE(latent_variables=1, structure="independent", max_epochs=1).fit(X)
