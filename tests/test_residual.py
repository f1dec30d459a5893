"""Residual and planar flows beyond the generic transform suite: the
log-determinant estimator, Lipschitz bounds, graph masks, inversion limits,
and the densities built on them."""

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import perturbed
from scipy.stats import multivariate_normal
from sklearn.model_selection import GridSearchCV

from flowimpute import FlowImputer, PlanarFlowDensity, ResidualFlowDensity
from flowimpute.datasets import load_bayesian_network, load_dataset
from flowimpute.nn.lipschitz import LipSwish
from flowimpute.structure.graphs import check_adjacency, complete_dag, topological_order
from flowimpute.transforms import Planar, ResidualBlock

SMALL_DAG = np.zeros((5, 5), dtype=bool)
SMALL_DAG[[0, 1, 2, 0], [2, 2, 3, 4]] = True


def _perturbed_block(block, seed=0, scale=0.5):
    return perturbed(block, seed, scale).eval()


def _block_jacobian(block, row, context=None):
    return torch.autograd.functional.jacobian(
        lambda r: block(r.unsqueeze(0), context)[0].squeeze(0), row)


def test_power_series_estimator_is_unbiased():
    """Many draws of the Russian-roulette estimate average to the exact
    log-determinant, within four standard errors, row by row."""
    torch.manual_seed(0)
    block = _perturbed_block(ResidualBlock(4, (16,), lipschitz=0.6, log_det="estimate"))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = block(x)[1]                        # evaluation mode: exact
    block.train()                              # the estimator runs in training mode
    assert not block.exact_log_det
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(2)
        draws = torch.stack([block(x.repeat(20, 1))[1].view(20, 3).mean(0)
                             for _ in range(600)])
    mean, standard_error = draws.mean(0), draws.std(0) / 600 ** 0.5
    assert ((mean - exact).abs() < 4 * standard_error).all(), (mean, exact, standard_error)
    assert (standard_error < 0.05 * exact.abs().clamp_min(0.1)).all()


@pytest.mark.parametrize("hidden_dims", [(16,), (12, 12)])
@pytest.mark.parametrize("adjacency", [None, SMALL_DAG])
def test_lipschitz_bound_holds_for_any_weights(hidden_dims, adjacency):
    block = _perturbed_block(ResidualBlock(5, hidden_dims, adjacency=adjacency, lipschitz=0.8),
                             scale=3.0)
    assert block.network.lipschitz_bound() <= 0.8 * (1 + 1e-9)
    # ... and bounds the block's actual slopes: |J_g| <= 0.8 at random rows.
    rows = torch.randn(20, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for row in rows:
        jacobian_g = _block_jacobian(block, row) - torch.eye(5, dtype=torch.float64)
        assert torch.linalg.matrix_norm(jacobian_g, ord=2) <= 0.8 + 1e-9


def test_lipswish_is_one_lipschitz_with_its_slope():
    activation = LipSwish(3).double()
    with torch.no_grad():
        activation.raw_beta.copy_(torch.tensor([-3.0, 0.5, 6.0]))
    a = torch.linspace(-20, 20, 4001, dtype=torch.float64).unsqueeze(1).expand(-1, 3)
    a = a.clone().requires_grad_()
    value, slope = activation(a)
    autograd_slope = torch.autograd.grad(value.sum(), a)[0]
    torch.testing.assert_close(slope, autograd_slope)
    assert slope.abs().max() <= 1.0


def _allowed(adjacency):
    return torch.as_tensor(adjacency).T | torch.eye(len(adjacency), dtype=torch.bool)


@pytest.mark.parametrize("hidden_dims", [(16,), (16, 16)])
def test_block_jacobian_follows_the_graph(hidden_dims):
    """J[i, j] is zero unless j is i or a parent of i, and nonzero there."""
    block = _perturbed_block(ResidualBlock(5, hidden_dims, adjacency=SMALL_DAG))
    allowed = _allowed(SMALL_DAG)
    for row in torch.randn(4, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64):
        jacobian = _block_jacobian(block, row)
        assert (jacobian[~allowed] == 0).all()
        assert (jacobian[allowed].abs() > 1e-12).all()


def test_context_graph_masks_the_context_too():
    """A generating graphical block: output i depends on the features
    allowed by the DAG and on the context features with an edge into i only."""
    edges = np.zeros((3, 5), dtype=bool)
    edges[[0, 0, 1], [1, 2, 4]] = True
    block = _perturbed_block(ResidualBlock(5, (16,), adjacency=SMALL_DAG, context_features=3,
                                           context_adjacency=edges))
    generator = torch.Generator().manual_seed(6)
    row = torch.randn(5, generator=generator, dtype=torch.float64)
    context = torch.randn(3, generator=generator, dtype=torch.float64)
    by_context = torch.autograd.functional.jacobian(
        lambda c: block(row.unsqueeze(0), c.unsqueeze(0))[0].squeeze(0), context)
    allowed = torch.as_tensor(edges).T
    assert (by_context[~allowed] == 0).all() and (by_context[allowed].abs() > 1e-12).all()
    by_row = _block_jacobian(block, row, context.unsqueeze(0))
    assert (by_row[~_allowed(SMALL_DAG)] == 0).all()
    with pytest.raises(ValueError, match="context graph must have shape"):
        ResidualBlock(5, (16,), adjacency=SMALL_DAG, context_features=3,
                      context_adjacency=edges[:, :4])
    with pytest.raises(ValueError, match="needs a graph over the features"):
        ResidualBlock(5, (16,), context_features=3, context_adjacency=edges)


def test_block_jacobian_follows_ecoli70():
    network = load_bayesian_network("ecoli70")
    n_nodes = len(network.nodes)
    block = _perturbed_block(ResidualBlock(n_nodes, (96,), adjacency=network.adjacency),
                             scale=0.1)
    allowed = _allowed(network.adjacency)
    row = torch.tensor(network.sample(1, random_state=0).to_numpy()[0])
    jacobian = _block_jacobian(block, row)
    assert (jacobian[~allowed] == 0).all()
    assert (jacobian[allowed].abs() > 1e-12).all()
    _, log_det = block(row.unsqueeze(0))
    sign, expected = torch.linalg.slogdet(jacobian)
    torch.testing.assert_close(log_det[0], expected)
    assert sign == 1


def test_graphical_flow_maps_each_feature_from_its_ancestors_only():
    """Stacked blocks compose their graphs: output i depends on i's ancestors."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    flow = ResidualFlowDensity(n_blocks=3, hidden_dims=(16,), adjacency=SMALL_DAG,
                               max_epochs=3, random_state=0).fit(X)
    transform = flow.module_.transform
    row = torch.as_tensor(X[0])
    jacobian = torch.autograd.functional.jacobian(
        lambda r: transform(r.unsqueeze(0))[0].squeeze(0), row)
    ancestors = np.eye(5, dtype=bool)
    for _ in range(5):
        ancestors = ancestors | (ancestors.astype(int) @ SMALL_DAG.T.astype(int) > 0)
    assert (jacobian.numpy()[~ancestors] == 0).all()


def test_inverse_warns_when_it_runs_out_of_steps():
    block = _perturbed_block(ResidualBlock(5, (16,), lipschitz=0.99))
    block.max_inverse_iter = 2
    y = torch.randn(8, 5, dtype=torch.float64) * 3
    with pytest.warns(RuntimeWarning, match="did not reach inverse_tol"):
        block.inverse(y)


def test_planar_layer_stays_invertible_for_any_u():
    """With u pointing against w, an unconstrained planar map folds; the
    constrained one stays strictly increasing along w and round-trips."""
    layer = Planar(3).double().eval()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([1.0, -2.0, 0.5]))
        layer.u.copy_(-10.0 * layer.w)
        layer.b.fill_(0.3)
    x = torch.randn(200, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3
    y, log_det = layer(x)
    assert torch.isfinite(log_det).all()
    torch.testing.assert_close(layer.inverse(y), x, atol=1e-8, rtol=0)


@pytest.mark.parametrize("settings, message", [
    (dict(adjacency=[(0, 1), (1, 0)]), "acyclic"),
    (dict(adjacency=[(0, 0)]), "self-loops"),
    (dict(adjacency=[(0, 7)]), "neither a column name nor an index"),
    (dict(adjacency=[("a", "b")]), "not a column"),
    (dict(adjacency=np.ones((3, 4))), "matrix of 0/1 or a list"),
    (dict(adjacency="chain"), "adjacency"),
    (dict(adjacency="complete", hidden_dims=(2,)), "distinct parent sets"),
    (dict(hidden_dims=()), "at least one hidden layer"),
    (dict(lipschitz=1.0), "lipschitz"),
])
def test_bad_settings_are_named(settings, message):
    X = np.random.RandomState(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match=message):
        ResidualFlowDensity(n_blocks=1, max_epochs=1, **settings).fit(X)


def test_edges_by_column_name_and_categorical_columns():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=200),
                          "colour": rng.choice(["red", "green", "blue"], size=200),
                          "b": rng.normal(size=200)})
    flow = ResidualFlowDensity(n_blocks=2, hidden_dims=(16,), max_epochs=3,
                               adjacency=[("a", "colour"), ("colour", "b")],
                               random_state=0).fit(frame)
    expected = np.zeros((3, 3), dtype=bool)
    expected[[0, 1], [1, 2]] = True
    np.testing.assert_array_equal(flow.adjacency_, expected)
    # The three indicators of colour share its parent and follow one another.
    coordinates = flow._coordinate_adjacency()
    assert coordinates.shape == (5, 5)
    assert coordinates[0, 1:4].all() and coordinates[1, 2] and coordinates[2, 3]
    assert coordinates[1:4, 4].all() and not coordinates[0, 4]
    assert np.isfinite(flow.score_samples(frame.head())).all()
    sample = flow.sample(5, random_state=0)
    assert list(sample.columns) == ["a", "colour", "b"]


@pytest.fixture(scope="module")
def diabetes():
    return load_dataset("diabetes").data.to_numpy()


def test_trained_blocks_keep_their_lipschitz_bound(diabetes):
    flow = ResidualFlowDensity(n_blocks=3, hidden_dims=(32, 32), lipschitz=0.9,
                               learning_rate=1e-2, max_epochs=15, random_state=0).fit(diabetes)
    blocks = [layer for layer in flow.module_.transform.transforms
              if isinstance(layer, ResidualBlock)]
    assert len(blocks) == 3
    bounds = [block.network.lipschitz_bound() for block in blocks]
    assert max(bounds) <= 0.9 * (1 + 1e-9)
    assert min(bounds) > 0.5          # training used the room it was given


def test_residual_flow_learns_a_correlated_gaussian_and_inverts_its_samples():
    rng = np.random.RandomState(0)
    cov = np.array([[1.0, 0.9, 0.3], [0.9, 1.0, 0.4], [0.3, 0.4, 1.0]])
    X_train = rng.multivariate_normal(np.zeros(3), cov, size=2000)
    X_test = rng.multivariate_normal(np.zeros(3), cov, size=1000)
    flow = ResidualFlowDensity(n_blocks=3, hidden_dims=(32,), max_epochs=40,
                               random_state=0).fit(X_train)
    truth = multivariate_normal(np.zeros(3), cov).logpdf(X_test).mean()
    assert flow.score(X_test) > truth - 0.08
    samples = flow.sample(4000, random_state=1)
    np.testing.assert_allclose(np.cov(samples.T), np.cov(X_train.T), atol=0.08)


def test_planar_flow_beats_a_diagonal_gaussian_on_a_curved_density():
    rng = np.random.RandomState(0)
    x = rng.normal(size=3000)
    X = np.column_stack([x, 0.5 * x ** 2 + 0.3 * rng.normal(size=3000)])
    flow = PlanarFlowDensity(n_layers=16, max_epochs=40, random_state=0).fit(X[:2000])
    diagonal = multivariate_normal(X[:2000].mean(0), np.diag(X[:2000].var(0)))
    assert flow.score(X[2000:]) > diagonal.logpdf(X[2000:]).mean() + 0.2
    samples = flow.sample(10, random_state=0)
    assert samples.shape == (10, 2) and np.isfinite(samples).all()


def test_grid_search_over_depth(diabetes):
    search = GridSearchCV(ResidualFlowDensity(hidden_dims=(16,), max_epochs=3, random_state=0),
                          {"n_blocks": [1, 2]}, cv=2).fit(diabetes)
    assert search.best_params_["n_blocks"] in (1, 2)


def test_flow_imputer_uses_a_residual_flow():
    rng = np.random.RandomState(0)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    X = rng.multivariate_normal(np.zeros(2), cov, size=600)
    X_missing = X.copy()
    X_missing[rng.rand(600) < 0.3, 1] = np.nan
    imputer = FlowImputer(ResidualFlowDensity(n_blocks=2, hidden_dims=(16,), max_epochs=20),
                          max_em_iter=1, em_epochs=2, random_state=0)
    filled = imputer.fit_transform(X_missing)
    gaps = np.isnan(X_missing)
    np.testing.assert_array_equal(filled[~gaps], X_missing[~gaps])
    error = np.sqrt(np.mean((filled[gaps] - X[gaps]) ** 2))
    assert error < 0.6           # the mean fill's error is about 1; the regression's 0.44


# --------------------------------------------------------------------- graphs
def test_topological_order_and_complete_dag():
    order = topological_order(SMALL_DAG)
    position = {node: i for i, node in enumerate(order)}
    for parent, child in zip(*np.nonzero(SMALL_DAG), strict=True):
        assert position[parent] < position[child]
    complete = complete_dag([2, 0, 1])
    np.testing.assert_array_equal(complete, [[0, 1, 0], [0, 0, 0], [1, 1, 0]])


def test_check_adjacency_reads_matrices_edges_and_names():
    matrix = check_adjacency(SMALL_DAG.astype(int), None, 5)
    edges = check_adjacency([(0, 2), (1, 2), (2, 3), (0, 4)], None, 5)
    names = check_adjacency([("a", "c"), ("b", "c"), ("c", "d"), ("a", "e")],
                            ["a", "b", "c", "d", "e"], 5)
    for result in (matrix, edges, names):
        np.testing.assert_array_equal(result, SMALL_DAG)
    assert not check_adjacency("empty", None, 3).any()
    assert check_adjacency([], None, 3).shape == (3, 3)


def test_network_log_density_is_the_joint_gaussian():
    network = load_bayesian_network("magic-niab")
    X = network.sample(20000, random_state=0).to_numpy()
    assert X.shape == (20000, 44)
    mean, cov = network.moments()
    np.testing.assert_allclose(network.log_density(X[:50]),
                               multivariate_normal(mean, cov).logpdf(X[:50]), rtol=1e-8)
    np.testing.assert_allclose(X.mean(0), mean, atol=0.05 * np.sqrt(np.diag(cov)).max())
