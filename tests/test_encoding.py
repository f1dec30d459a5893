"""The piecewise-linear encoding of numbers, and the categorical head that
reads it: with or without an estimator of the numbers, the head's
probabilities depend on the conditioning entries alone."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from flowimpute import ACFlowImputer
from flowimpute.flows.categorical_head import CategoricalHead
from flowimpute.impute import acflow_imputer
from flowimpute.nn.encoding import PiecewiseLinearEncoding


def test_the_encoding_ramps_across_each_bin_and_is_monotone():
    values = np.array([[0.0], [1.0], [2.0], [4.0]])
    encoding = PiecewiseLinearEncoding.from_quantiles(values, np.ones_like(values, bool),
                                                      [0], 2)
    # edges at the quantiles 0, 1.5 and 4
    x = torch.tensor([[-1.0], [0.0], [0.75], [1.5], [2.75], [4.0], [9.0]], dtype=torch.float64)
    encoded = encoding(x, torch.ones_like(x, dtype=torch.bool))
    expected = [[0, 0], [0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [1, 1]]
    np.testing.assert_allclose(encoded.numpy(), expected)
    grid = torch.linspace(-2, 6, 401, dtype=torch.float64)[:, None]
    steps = encoding(grid, torch.ones_like(grid, dtype=torch.bool)).diff(dim=0)
    assert bool((steps >= 0).all())
    assert float(steps.abs().max()) <= 0.02 / 1.5 + 1e-12       # continuous: slope 1/1.5


def test_a_column_of_few_values_and_an_absent_entry_encode_zero_where_they_should():
    values = np.array([[0.0, 5.0], [1.0, 5.0], [0.0, 5.0], [1.0, np.nan]])
    present = ~np.isnan(values)
    encoding = PiecewiseLinearEncoding.from_quantiles(values, present, [0, 1], 4)
    assert encoding.width == 8
    x = torch.tensor([[1.0, 5.0], [0.0, 7.0]], dtype=torch.float32)
    encoded = encoding.to(torch.float32)(x, torch.tensor([[True, True], [False, True]]))
    # column 0: edges 0, 0.5 and 1 (ties merged), then +inf; column 1: one value, no bin
    np.testing.assert_array_equal(encoded.numpy(), [[1, 1, 0, 0, 0, 0, 0, 0],
                                                     [0, 0, 0, 0, 0, 0, 0, 0]])
    assert torch.isfinite(encoded).all()


def test_the_encoding_refuses_edges_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"edges of shape \(2, n_bins \+ 1\)"):
        PiecewiseLinearEncoding([0, 1], np.zeros((3, 4)))


class _Estimator(torch.nn.Module):
    """A prediction of every coordinate from the known ones."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(5, 5)

    def forward(self, x, known):
        return self.linear(x * known)


def _head(with_estimator: bool):
    """A head of one three-way category (coordinates 2-4) over two numbers
    (0, 1), encoded, reading an estimator of the numbers or not."""
    torch.manual_seed(0)
    values = np.random.RandomState(0).normal(size=(200, 5))
    encoding = PiecewiseLinearEncoding.from_quantiles(values, np.ones_like(values, bool),
                                                      [0, 1], 8)
    head = CategoricalHead(5, [[2, 3, 4]], [torch.eye(3, dtype=torch.float64)], (16,),
                           encoding=encoding).double()
    estimator = _Estimator().double()
    with torch.no_grad():
        for parameter in [*head.parameters(), *estimator.parameters()]:
            parameter.normal_()
    if with_estimator:
        head.read_estimates(estimator)
    return head, estimator


@pytest.mark.parametrize("with_estimator", [False, True])
def test_the_head_reads_nothing_of_the_entries_it_does_not_condition_on(with_estimator):
    head, _ = _head(with_estimator)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(50, 5, generator=generator, dtype=torch.float64)
    conditioning = torch.rand(50, 5, generator=generator) < 0.5
    changed = torch.where(conditioning, x, 10 * torch.randn(50, 5, generator=generator,
                                                            dtype=torch.float64))
    with torch.no_grad():
        before, = head.log_probabilities(x, conditioning)
        after, = head.log_probabilities(changed, conditioning)
        hidden_number = conditioning.clone()
        hidden_number[:, 0] = ~hidden_number[:, 0]
        moved, = head.log_probabilities(x, hidden_number)
    torch.testing.assert_close(before, after, rtol=0, atol=1e-12)
    assert not torch.allclose(before, moved)             # what it conditions on matters


def test_the_estimator_is_held_not_owned_nor_trained_by_the_head():
    head, estimator = _head(with_estimator=False)
    head.read_estimates(estimator)
    owned = {id(parameter) for parameter in head.parameters()}
    assert not owned & {id(parameter) for parameter in estimator.parameters()}
    before = [parameter.detach().clone() for parameter in estimator.parameters()]
    x = torch.randn(20, 5, dtype=torch.float64)
    loss = -head.log_probabilities(x, torch.rand(20, 5) < 0.5)[0].sum()
    loss.backward()
    assert all(parameter.grad is None for parameter in estimator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, estimator.parameters(), strict=True))


def _mixed_frame(n_rows: int) -> pd.DataFrame:
    rng = np.random.RandomState(0)
    grade = rng.choice(["a", "b", "c"], n_rows)
    size = pd.Series(grade).map({"a": 0.0, "b": 1.0, "c": 2.0}).to_numpy()
    frame = pd.DataFrame({"grade": grade, "size": size + rng.normal(size=n_rows),
                          "price": np.exp(size + rng.normal(size=n_rows))})
    return frame.mask(rng.rand(*frame.shape) < 0.2)


def test_the_imputer_encodes_the_numbers_and_reads_estimates_on_larger_tables(monkeypatch):
    settings = dict(n_layers=1, hidden_dims=(8,), max_epochs=2, random_state=0)
    frame = _mixed_frame(300)
    monkeypatch.setattr(acflow_imputer, "HEAD_ESTIMATES_FROM_ROWS", 299)
    larger = ACFlowImputer(**settings).fit(frame)
    head = larger.module_.head
    assert head.encoding.width == 2 * 64
    assert head._estimator[0] is larger.regressor_
    monkeypatch.setattr(acflow_imputer, "HEAD_ESTIMATES_FROM_ROWS", 300)
    smaller = ACFlowImputer(**settings).fit(frame).module_.head
    assert smaller.encoding is not None and smaller._estimator[0] is None
    plain = ACFlowImputer(n_encoding_bins=0, **settings).fit(frame).module_.head
    assert plain.encoding is None
    assert ACFlowImputer(point_estimate="mean", **settings).fit(
        frame).module_.head._estimator[0] is None                 # no regressor to read
    # numbers alone, one with a point mass: the head of its flag reads no encoding
    numbers = frame[["size", "price"]].assign(size=lambda f: f["size"].clip(lower=0.5))
    flags_only = ACFlowImputer(**settings).fit(numbers)
    assert flags_only.point_mass_coordinates_.size == 1
    assert flags_only.module_.head.encoding is None


def test_pickling_keeps_the_head_reading_the_imputers_regressor(monkeypatch):
    """Through a plain pickle, and through the copy to the CPU that a model
    fitted on a GPU makes (one copy of the regressor, not two)."""
    monkeypatch.setattr(acflow_imputer, "HEAD_ESTIMATES_FROM_ROWS", 100)
    frame = _mixed_frame(300)
    imputer = ACFlowImputer(n_layers=1, hidden_dims=(8,), max_epochs=2,
                            random_state=0).fit(frame)
    expected = imputer.transform(frame)
    loaded = pickle.loads(pickle.dumps(imputer))
    assert loaded.module_.head._estimator[0] is loaded.regressor_
    pd.testing.assert_frame_equal(loaded.transform(frame), expected)
    imputer.device_ = torch.device("cuda")       # as if fitted there: copied to the CPU
    state = imputer.__getstate__()
    imputer.device_ = torch.device("cpu")
    assert state["module_"] is not imputer.module_            # the imputer left as it was
    assert imputer.module_.head._estimator[0] is imputer.regressor_
    assert state["module_"].head._estimator[0] is state["regressor_"]
    assert state["regressor_"].context is state["mixture_context_"]
