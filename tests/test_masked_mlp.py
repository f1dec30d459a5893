"""MaskedMLP: outputs depend on exactly the inputs an adjacency allows."""

import numpy as np
import pytest
import torch

from flowimpute.nn.masked import MaskedMLP, hidden_input_sets
from flowimpute.transforms.autoregressive import MADE, autoregressive_adjacency


def _dependencies(network, n_inputs, context=None):
    """(n_outputs, n_params, n_inputs) bool: where the Jacobian is non-zero."""
    network = network.double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator,
                                       dtype=torch.float64))
    x = torch.randn(n_inputs, generator=generator, dtype=torch.float64)

    def outputs(row):
        return network(row.unsqueeze(0), None if context is None else context)[0]

    return torch.autograd.functional.jacobian(outputs, x).abs() > 0


def _random_dag(n, seed):
    rng = np.random.RandomState(seed)
    adjacency = np.tril(rng.uniform(size=(n, n)) < 0.4, -1)
    order = rng.permutation(n)
    return torch.as_tensor(adjacency[np.ix_(order, order)])


@pytest.mark.parametrize("hidden_dims", [(), (7,), (16, 9)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_output_depends_on_its_parents_only(hidden_dims, seed):
    adjacency = _random_dag(6, seed)
    network = MaskedMLP(adjacency, hidden_dims, n_params=2, activation="tanh")
    depends = _dependencies(network, 6)
    allowed = adjacency.unsqueeze(1).expand(-1, 2, -1)
    assert (depends == allowed).all()   # each allowed input is reached, no other


def test_context_reaches_every_output_even_one_without_parents():
    adjacency = autoregressive_adjacency(torch.tensor([2, 0, 1]))
    network = MaskedMLP(adjacency, (12,), n_params=1, activation="tanh",
                        context_features=2).double()
    context = torch.randn(1, 2, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(
        lambda c: network(torch.zeros(1, 3, dtype=torch.float64), c)[0, :, 0],
        context)
    assert (jacobian.abs().sum(-1) > 0).all()


def test_made_is_the_masked_mlp_of_an_order():
    order = [3, 1, 0, 2]
    made = MADE(order, (10, 10), n_params=2, activation="tanh", initial_params=torch.zeros(2))
    depends = _dependencies(made, 4)
    rank = {feature: position for position, feature in enumerate(order)}
    for i in range(4):
        for j in range(4):
            assert bool(depends[i, :, j].any()) == (rank[j] < rank[i])


def test_hidden_sets_of_an_order_are_its_prefixes():
    sets = hidden_input_sets(autoregressive_adjacency(torch.tensor([1, 2, 0])))
    assert sets.tolist() == [[False, True, False], [False, True, True]]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="matrix"):
        MaskedMLP(torch.ones(3, dtype=torch.bool), (4,), 1, "relu")
    with pytest.raises(ValueError, match="activation"):
        MaskedMLP(torch.ones(3, 3, dtype=torch.bool), (4,), 1, "sigmoid")
    with pytest.raises(ValueError, match="needs a context"):
        MaskedMLP(torch.ones(3, 3, dtype=torch.bool), (4,), 1, "relu",
                  context_features=2)(torch.zeros(1, 3))
