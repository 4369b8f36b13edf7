"""Callbacks: early stopping, checkpoints (best/last), LR schedules, NaN termination, CSV/JSONL logs, resume state."""

import csv
import json
import math

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.optim import SGD, Adam
from nnbasics.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from nnbasics.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLinesLogger,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    fit,
    load_checkpoint,
)


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def mlp(seed=0):
    return nn.Sequential(nn.Linear(2, 8, rng=seed), nn.Tanh(), nn.Linear(8, 2, rng=seed))


class Script(Callback):
    """Overwrites ``logs[key]`` with scripted values (runs before the others) and snapshots the weights."""

    order = -50

    def __init__(self, key, values):
        self.key, self.values, self.weights = key, list(values), []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        if self.key in self.context.history:
            self.context.history.history[self.key][-1] = self.values[epoch]
        self.weights.append([p._array.copy() for p in self.context.model.parameters()])


def _run(callbacks, epochs=6, model=None, optimizer=None, **kw):
    X, y = data()
    model = model or mlp()
    optimizer = optimizer or SGD(model.parameters(), lr=0.1)
    h = fit(model, (X, y), epochs=epochs, optimizer=optimizer, validation_data=(X, y), batch_size=10, rng=0,
            callbacks=callbacks, progress=False, **kw)
    return model, optimizer, h


def _same(params, arrays):
    return all(np.array_equal(p._array, a) for p, a in zip(params, arrays))


def test_early_stopping_stops_at_the_right_epoch_and_restores_best():
    script = Script("val_loss", [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model, _, h = _run([script, stop])
    assert h.epoch == [0, 1, 2, 3]  # best at 1, then two epochs without improvement
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 0.8
    assert _same(model.parameters(), script.weights[1])
    assert not _same(model.parameters(), script.weights[3])


def test_early_stopping_min_delta_mode_max_and_no_restore():
    script = Script("val_accuracy", [0.5, 0.55, 0.58, 0.9, 0.9, 0.9])
    stop = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.1)  # auto -> max
    model, _, h = _run([script, stop])
    assert stop.mode == "max" and h.epoch == [0, 1]  # +0.05 is not an improvement of more than 0.1
    assert _same(model.parameters(), script.weights[1])  # restore_best_weights=False keeps the last
    script = Script("val_accuracy", [0.5, 0.7, 0.9, 0.95, 0.99, 1.0])
    _, _, h = _run([script, EarlyStopping(monitor="val_accuracy", patience=0, min_delta=0.1)])
    assert h.epoch == [0, 1, 2, 3]


def test_early_stopping_errors():
    with pytest.raises(ValueError, match="monitors 'val_loss', which is not in the epoch logs.*Pass validation_data"):
        X, y = data()
        model = mlp()
        fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=0.1), callbacks=[EarlyStopping()],
            progress=False)
    with pytest.raises(ValueError, match="patience of EarlyStopping must be an int >= 0"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode of EarlyStopping must be"):
        EarlyStopping(mode="up")


def test_model_checkpoint_best_and_last(tmp_path):
    script = Script("val_loss", [1.0, 0.5, 0.7, 0.4, 0.9, 0.8])
    ckpt = ModelCheckpoint(tmp_path / "run")
    model, _, _ = _run([script, ckpt])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.safetensors", "last.safetensors"]
    assert ckpt.best_epoch == 3 and ckpt.best == 0.4
    best = load_checkpoint(ckpt.best_path, mlp(5))
    assert best.epoch == 4 and best.history.epoch == [0, 1, 2, 3]
    assert _same(best.model.parameters(), script.weights[3])
    twin = mlp(5)
    last = load_checkpoint(ckpt.last_path, twin, SGD(twin.parameters(), lr=1.0))
    assert last.epoch == 6 and _same(twin.parameters(), [p._array for p in model.parameters()])
    assert last.optimizer.param_groups[0]["lr"] == 0.1
    assert set(last.rng_states) == {"loader", "model.0._rng", "model.2._rng"}
    assert last.extra["callbacks"]["ModelCheckpoint"] == {"best": 0.4, "best_epoch": 3}


def test_model_checkpoint_last_only_and_errors(tmp_path):
    ckpt = ModelCheckpoint(tmp_path, monitor="nope", save_best=False)
    _run([ckpt], epochs=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]
    with pytest.raises(ValueError, match="would save nothing"):
        ModelCheckpoint(tmp_path, save_best=False, save_last=False)
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'nope'"):
        _run([ModelCheckpoint(tmp_path / "b", monitor="nope")], epochs=1)


def test_lr_scheduler_wrapping_a_scheduler_and_a_function():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    _, _, h = _run([LearningRateScheduler(StepLR(opt, step_size=1, gamma=0.5))], epochs=3, model=model,
                   optimizer=opt)
    assert h["lr"] == [0.1, 0.05, 0.025]
    _, _, h = _run([LearningRateScheduler(lambda epoch: 0.2 / (epoch + 1))], epochs=3)
    assert h["lr"] == [0.2, 0.1, 0.2 / 3]
    other = SGD(mlp().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="drives a different optimizer"):
        _run([LearningRateScheduler(StepLR(other, step_size=1))], epochs=1)
    with pytest.raises(ValueError, match="returned lr=-1"):
        _run([LearningRateScheduler(lambda e: -1)], epochs=1)
    with pytest.raises(TypeError, match="schedule of LearningRateScheduler"):
        LearningRateScheduler(0.1)


def test_lr_scheduler_reduce_on_plateau_and_a_later_start():
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    script = Script("val_loss", [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    sched = LearningRateScheduler(ReduceLROnPlateau(opt, factor=0.5, patience=1))
    _, _, h = _run([script, sched], epochs=5, model=model, optimizer=opt)
    assert h["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05]
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    _, _, h = _run([LearningRateScheduler(StepLR(opt, step_size=1, gamma=0.5))], epochs=4, initial_epoch=2,
                   model=model, optimizer=opt)
    assert h["lr"] == [0.025, 0.0125]  # a fresh scheduler is fast-forwarded to the starting epoch


def test_terminate_on_nan_keeps_the_last_good_weights_and_checkpoint(tmp_path):
    X, y = data()
    model = mlp()
    opt = Adam(model.parameters(), lr=0.01)
    calls = {"n": 0}

    def loss(out, t):  # finite for 2 epochs (4 batches each), then NaN at the 2nd batch of epoch 2
        calls["n"] += 1
        scale = math.nan if calls["n"] == 10 else 1.0
        return nb.functional.cross_entropy(out, t) * scale

    snap = Script("unused", [0.0] * 5)
    term = TerminateOnNaN()
    ckpt = ModelCheckpoint(tmp_path, monitor="loss")
    h = fit(model, (X, y), epochs=5, optimizer=opt, loss=loss, batch_size=10, rng=0, callbacks=[snap, term, ckpt],
            metrics=(), progress=False)
    assert (term.stopped_epoch, term.stopped_batch) == (2, 1)
    assert h.epoch == [0, 1] and all(np.isfinite(h["loss"]))
    assert _same(model.parameters(), snap.weights[1])  # the weights after epoch 1, not the NaN ones
    assert opt.state[0][0]["step"] == 8  # the optimizer state went back too
    last = load_checkpoint(ckpt.last_path, mlp(3))
    assert last.epoch == 2 and _same(last.model.parameters(), snap.weights[1])


def test_csv_logger_content_and_append_on_resume(tmp_path):
    path = tmp_path / "logs" / "train.csv"
    _, _, h = _run([CSVLogger(path)], epochs=3)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for i, r in enumerate(rows[1:]):
        assert float(r[1]) == h["loss"][i] and float(r[4]) == h["val_accuracy"][i]  # repr: exact round trip
    _run([CSVLogger(path)], epochs=5, initial_epoch=3)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows] == ["epoch", "0", "1", "2", "3", "4"]
    _run([CSVLogger(path, separator=";")], epochs=1)  # a fresh run overwrites
    assert path.read_text().splitlines()[0].startswith("epoch;loss;")


def test_jsonlines_logger_is_strict_json(tmp_path):
    path = tmp_path / "train.jsonl"
    script = Script("val_loss", [0.5, math.nan, math.inf])
    _, _, h = _run([script, JSONLinesLogger(path)], epochs=3)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert [r["val_loss"] for r in rows] == [0.5, None, None]
    assert rows[0]["loss"] == h["loss"][0] and set(rows[0]) == {"epoch", *h.history}


def test_callback_state_is_checkpointed_and_restored_on_resume(tmp_path):
    script = Script("val_loss", [1.0, 0.9, 0.95, 0.97, 0.99, 1.2])
    stop = EarlyStopping(patience=3)
    _run([script, stop, ModelCheckpoint(tmp_path)], epochs=3)
    saved = load_checkpoint(tmp_path / "last.safetensors", mlp()).extra["callbacks"]
    assert saved["EarlyStopping"] == {"best": 0.9, "best_epoch": 1, "wait": 1}
    stop2 = EarlyStopping(patience=3)
    script2 = Script("val_loss", [1.0, 0.9, 0.95, 0.97, 0.99, 1.2])
    _, _, h = _run([script2, stop2], epochs=6, resume=tmp_path / "last.safetensors")
    assert h.epoch == [0, 1, 2, 3, 4]  # continued history; wait carried over: stops at epoch 4, not 5
    assert stop2.stopped_epoch == 4


def test_callbacks_run_in_order_with_checkpoint_last():
    calls = []

    class Tag(Callback):
        def __init__(self, name, order=0):
            self.name, self.order = name, order

        def on_epoch_end(self, epoch, logs=None):
            calls.append(self.name)

    _run([Tag("late", 100), Tag("a"), Tag("early", -1), Tag("b")], epochs=1)
    assert calls == ["early", "a", "b", "late"]


def test_resume_from_a_checkpoint_without_the_loader_stream_warns(tmp_path):
    from nnbasics.training import save_checkpoint

    model = mlp()
    path = save_checkpoint(tmp_path / "c.safetensors", model, SGD(model.parameters(), lr=0.1), epoch=1)
    with pytest.warns(UserWarning, match="saved no 'loader' random stream"):
        _, _, h = _run([], epochs=2, resume=path)
    assert h.epoch == [1]
