import pytest
import torch
from torch import nn

from flowimpute._training import TrainingConfig, evaluate_loss, train


def _data(n=100):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=generator, dtype=torch.float64)


def test_non_finite_loss_names_the_epoch():
    module = nn.Linear(2, 1).double()
    calls = {"n": 0}

    def loss_fn(batch):
        calls["n"] += 1
        loss = module(batch).pow(2).mean()
        return loss * float("nan") if calls["n"] > 4 else loss

    config = TrainingConfig(max_epochs=10, batch_size=50, learning_rate=0.01)
    with pytest.raises(FloatingPointError, match="epoch 3"):
        train(module, loss_fn, _data(), None, config, torch.Generator().manual_seed(0))


def test_early_stopping_restores_the_best_epoch():
    module = nn.Linear(2, 1).double()
    target = torch.tensor([[1.0], [2.0]], dtype=torch.float64)

    def loss_fn(batch):
        return (module(batch) - batch @ target).pow(2).mean()

    data = _data()
    config = TrainingConfig(max_epochs=400, batch_size=20, learning_rate=0.5,
                            n_iter_no_change=5, tol=0.0)
    result = train(module, loss_fn, data[:80], data[80:], config,
                   torch.Generator().manual_seed(0))
    best = min(result.history["validation_loss"])
    assert result.history["validation_loss"][result.best_epoch - 1] == best
    assert evaluate_loss(loss_fn, data[80:], 20) == pytest.approx(best)


def test_batches_have_nearly_equal_sizes():
    from flowimpute._training import _batches
    sizes = [len(b) for b in _batches(103, 50, torch.Generator().manual_seed(0))]
    assert sorted(sizes) == [34, 34, 35]
