"""Non-finite optimizer state is never checkpointed (issue 15 item 6).

Adagrad on inputs x1e20: the loss and the weights stay finite (each step divides by the square
root of an infinite accumulator, so it moves nothing), but the accumulator is inf, and a run
resumed from that checkpoint has frozen parameters. TerminateOnNaN and ModelCheckpoint now look
at the optimizer state as well as the weights.
"""

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.optim import Adagrad
from nnbasics.training import ModelCheckpoint, TerminateOnNaN, fit, load_checkpoint
from nnbasics.training.checkpoint_check import nonfinite_state

_X = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
_Y = (_X[:, 0] > 0).astype(np.int64)


def _model():
    return nn.Sequential(nn.Linear(3, 2, rng=0))


def _epochs(model, opt, scale, callbacks, epochs, initial_epoch=0):
    with np.errstate(all="ignore"):
        return fit(model, (_X * scale, _Y), epochs=epochs, initial_epoch=initial_epoch, optimizer=opt, batch_size=10,
                   rng=0, callbacks=callbacks, progress=False)


def test_the_scenario_gives_an_infinite_accumulator_with_finite_loss_and_weights():
    model = _model()
    opt = Adagrad(model.parameters(), lr=0.1)
    hist = _epochs(model, opt, 1e20, [], 1)
    assert np.isfinite(hist["loss"]).all()
    assert all(np.isfinite(np.asarray(p)).all() for p in model.parameters())
    assert nonfinite_state(opt) == ["0.sum"]  # the weight's (the bias sees gradients of order 1)


def test_model_checkpoint_keeps_the_last_finite_state(tmp_path):
    model = _model()
    opt = Adagrad(model.parameters(), lr=0.1)
    cb = ModelCheckpoint(tmp_path, monitor="loss", save_best=False)
    _epochs(model, opt, 1.0, [cb], 1)
    with pytest.warns(RuntimeWarning, match=r"not saving epoch 2: non-finite values in optimizer state 0\.sum"):
        _epochs(model, opt, 1e20, [cb], 2, initial_epoch=1)
    ckpt = load_checkpoint(cb.last_path, _model(), Adagrad(_model().parameters()))
    assert ckpt.epoch == 1 and not nonfinite_state(ckpt.optimizer)


def test_terminate_on_nan_stops_and_restores_the_optimizer(tmp_path):
    model = _model()
    opt = Adagrad(model.parameters(), lr=0.1)
    term = TerminateOnNaN()
    _epochs(model, opt, 1.0, [term], 1)
    good = {i: s["sum"].copy() for i, s in enumerate(opt.state[0])}
    with pytest.warns(RuntimeWarning, match="weights or optimizer state became non-finite"):
        hist = _epochs(model, opt, 1e20, [term], 3, initial_epoch=1)
    assert term.stopped_epoch == 1 and hist.epoch == []
    assert not nonfinite_state(opt)
    for i, s in enumerate(opt.state[0]):
        np.testing.assert_array_equal(s["sum"], good[i])


def test_loading_a_non_finite_state_warns(tmp_path):
    from nnbasics.training import save_checkpoint

    model = _model()
    opt = Adagrad(model.parameters(), lr=0.1)
    _epochs(model, opt, 1e20, [], 1)
    save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1)  # the API still saves what it is given
    twin = _model()
    with pytest.warns(RuntimeWarning, match="optimizer state holds non-finite values"):
        load_checkpoint(tmp_path / "c.safetensors", twin, Adagrad(twin.parameters()))
