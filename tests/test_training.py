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


def test_parameter_average_is_the_mean_of_the_steps_then_a_moving_average():
    from flowimpute._training import ParameterAverage
    module = nn.Linear(1, 1, bias=False).double()
    average = ParameterAverage(module, epochs=1.5, steps_per_epoch=2)   # 3 steps
    expected = None
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0, 8.0, -1.0], start=1):
        with torch.no_grad():
            module.weight.fill_(value)
        average.update()
        # the initial weights never count; the plain mean up to 3 steps
        expected = value if step == 1 else expected + (value - expected) / min(step, 3)
        assert average.average["weight"].item() == pytest.approx(expected)
    assert average.state_dict(module)["weight"].item() == pytest.approx(expected)
    assert module.weight.item() == -1.0   # the live weights are left alone


def test_training_with_averaging_keeps_the_mean_of_the_iterates():
    """Averaging does not change the path of the steps; without early
    stopping the module ends with the average of the iterates."""
    data = _data(80)
    target = torch.tensor([[1.0], [2.0]], dtype=torch.float64)

    def run(average_epochs, trace=None):
        torch.manual_seed(0)
        module = nn.Linear(2, 1, bias=False).double()

        def loss_fn(batch):
            if trace is not None:
                trace.append(module.weight.detach().clone())
            return (module(batch) - batch @ target).pow(2).mean()

        config = TrainingConfig(max_epochs=1, batch_size=20, learning_rate=0.1,
                                n_iter_no_change=None, average_epochs=average_epochs)
        train(module, loss_fn, data, None, config, torch.Generator().manual_seed(0))
        return module.weight.detach()

    trace = []
    averaged = run(100.0, trace)          # four steps, well within the time constant
    last = run(None)
    iterates = torch.stack(trace[1:] + [last])   # the weights after each step
    assert torch.allclose(averaged, iterates.mean(0))
    assert not torch.allclose(averaged, last)
