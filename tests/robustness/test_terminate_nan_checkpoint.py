"""TerminateOnNaN + ModelCheckpoint: the last finite checkpoint survives a run that diverges."""

import math
import os

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.functional import cross_entropy
from nnbasics.optim import SGD
from nnbasics.training import Callback, ModelCheckpoint, TerminateOnNaN, fit, load_checkpoint


def _data():
    r = np.random.default_rng(0)
    X = r.standard_normal((40, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


class _EpochWeights(Callback):
    """Copies of the weights at every epoch end, as ModelCheckpoint saw them."""

    order = 200

    def __init__(self):
        self.at = {}

    def on_epoch_end(self, epoch, logs=None):
        self.at[epoch] = {k: v._array.copy() for k, v in self.context.model.state_dict().items()}


def _model():
    return nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))


def _run(tmp_path, loss, epochs=5):
    model = _model()
    seen, ckpt = _EpochWeights(), ModelCheckpoint(tmp_path, monitor="loss")
    term = TerminateOnNaN()
    with pytest.warns(RuntimeWarning, match="TerminateOnNaN"):
        hist = fit(model, _data(), epochs=epochs, batch_size=10, optimizer=SGD(model.parameters(), lr=0.1),
                   loss=loss, callbacks=[ckpt, term, seen], rng=0, progress=False)
    return model, hist, term, seen, ckpt


def test_nan_loss_mid_training_keeps_last_finite_checkpoint(tmp_path):
    calls = {"n": 0}

    def loss(out, y):  # finite for two epochs (8 batches), then NaN on epoch 3, batch 2
        calls["n"] += 1
        value = cross_entropy(out, y)
        return value * math.nan if calls["n"] == 11 else value

    model, hist, term, seen, ckpt = _run(tmp_path, loss)
    assert (term.stopped_epoch, term.stopped_batch) == (2, 2)
    assert hist.epoch == [0, 1] and sorted(seen.at) == [0, 1]
    assert "the training loss was nan at epoch 3, batch 2" in hist.stop_reason
    assert "end of epoch 2" in hist.stop_reason and term.stop_reason == hist.stop_reason
    for path in (ckpt.last_path, ckpt.best_path):
        loaded = load_checkpoint(path, _model())
        assert loaded.epoch == 2
        for k, v in loaded.model.state_dict().items():
            assert np.isfinite(v._array).all()
            np.testing.assert_array_equal(v._array, seen.at[1][k])
    for k, v in model.state_dict().items():  # the model in memory went back to the same weights
        np.testing.assert_array_equal(v._array, seen.at[1][k])


def test_last_step_of_an_epoch_making_weights_inf_is_never_saved(tmp_path):
    calls = {"n": 0}

    def loss(out, y):  # the loss of the last batch of epoch 2 is finite, but its gradient overflows the weights
        calls["n"] += 1
        value = cross_entropy(out, y)
        if calls["n"] != 8:
            return value
        zero = out - nb.tensor(out._array)  # 0 in value; its gradient times 1e38 * 1e38 is inf
        return value + (zero * 1e38 * 1e38).sum()

    with np.errstate(over="ignore", invalid="ignore"):
        _, hist, term, seen, ckpt = _run(tmp_path, loss)
    assert (term.stopped_epoch, term.stopped_batch) == (1, None)
    assert hist.epoch == [0]  # the diverged epoch is taken back out of the history
    assert "epoch 2" in hist.stop_reason and "end of epoch 1" in hist.stop_reason
    loaded = load_checkpoint(ckpt.last_path, _model())
    assert loaded.epoch == 1
    for k, v in loaded.model.state_dict().items():
        np.testing.assert_array_equal(v._array, seen.at[0][k])


def test_model_checkpoint_alone_refuses_to_save_nan_weights(tmp_path):
    model = _model()
    ckpt = ModelCheckpoint(tmp_path, monitor="loss", save_best=False)

    class Poison(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                model[0].weight._array[0, 0] = np.nan

    with pytest.warns(RuntimeWarning, match="ModelCheckpoint: not saving epoch 2"):
        fit(model, _data(), epochs=2, batch_size=10, optimizer=SGD(model.parameters(), lr=0.1),
            loss="cross_entropy", callbacks=[Poison(), ckpt], rng=0, progress=False)
    assert load_checkpoint(ckpt.last_path, _model()).epoch == 1
    assert os.path.exists(ckpt.last_path) and not os.path.exists(ckpt.best_path)
