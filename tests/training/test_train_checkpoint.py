"""Checkpoints: round trips (weights, every optimizer, RNG states), mismatch messages, corrupt files,
a crash during save, rebuilding from a spec, and an exact resume in a fresh process."""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.io import load_file, save_file
from nnbasics.io import safetensors as st
from nnbasics.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from nnbasics.training import (
    CheckpointError,
    History,
    load_checkpoint,
    module_generators,
    read_checkpoint_metadata,
    save_checkpoint,
)


def _mlp(seed=0, hidden=5, p=0.25):
    return nn.Sequential(nn.Linear(3, hidden, rng=seed), nn.Tanh(), nn.Dropout(p, rng=seed + 100),
                         nn.Linear(hidden, 2, rng=seed))


def _steps(model, opt, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = nb.tensor(rng.normal(size=(7, 3)).astype(np.float32))
        y = nb.tensor(rng.integers(0, 2, size=7))
        opt.zero_grad()
        nb.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _params(model):
    return [p._array.copy() for p in model.parameters()]


OPTIMIZERS = {
    "sgd_momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
    "adamw": lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips_and_training_continues_identically(tmp_path, name):
    make = OPTIMIZERS[name]
    model = _mlp()
    opt = make(model.parameters())
    _steps(model, opt, 3, seed=1)
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1)

    twin = _mlp(seed=9)
    twin_opt = make(twin.parameters())
    ckpt = load_checkpoint(path, twin, twin_opt)
    assert ckpt.epoch == 1 and ckpt.optimizer is twin_opt
    a, b = opt.state_dict(), twin_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]  # tuples (betas) come back as tuples
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for k, v in a["state"][i].items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(b["state"][i][k], v)
                assert b["state"][i][k].dtype == v.dtype
            else:
                assert b["state"][i][k] == v and type(b["state"][i][k]) is type(v)
    _steps(model, opt, 2, seed=2)
    _steps(twin, twin_opt, 2, seed=2)
    for p, q in zip(_params(model), _params(twin)):
        np.testing.assert_array_equal(p, q)


def test_file_layout_and_metadata(tmp_path):
    model = _mlp()
    opt = Adam(model.parameters(), lr=0.01)
    _steps(model, opt, 2, seed=0)
    h = History()
    h.append(0, {"loss": 0.5, "accuracy": 0.75})
    loader_gen = np.random.default_rng(5)
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1, history=h,
                           rng_states={"loader": loader_gen}, extra={"note": [1, 2]})
    arrays, header = load_file(path)
    assert {k for k in arrays if "/" not in k} == set(model.state_dict())  # PyTorch's keys
    assert list(load_checkpoint(path, _mlp()).state_dict) == list(model.state_dict())  # and order
    assert "optimizer/state/0/exp_avg" in arrays and "optimizer/state/3/exp_avg_sq" in arrays
    assert list(header) == ["nnbasics"]
    meta = json.loads(header["nnbasics"])
    assert meta["format"] == "nnbasics.checkpoint" and meta["format_version"] == 1
    assert meta["nnbasics_version"] == nb.__version__ and meta["numpy_version"] == np.__version__
    assert meta["optimizer"]["class"] == "Adam" and meta["optimizer"]["step"] == 2
    assert meta["optimizer"]["scalar_state"]["0"] == {"step": 2}
    assert set(meta["rng_states"]) == {"model.2.rng", "model.0._rng", "model.3._rng", "loader"}
    assert meta["extra"] == {"note": [1, 2]} and meta["epoch"] == 1
    assert History.from_dict(meta["history"]) == h
    assert read_checkpoint_metadata(path)["epoch"] == 1


def test_rng_states_restored(tmp_path):
    model = _mlp()
    loader_gen = np.random.default_rng(3)
    loader_gen.random(5)
    path = save_checkpoint(tmp_path / "c.safetensors", model, rng_states={"loader": loader_gen})
    expected_drop = model[2].rng.random(4)
    expected_loader = loader_gen.random(4)

    twin = _mlp(seed=7)
    other = np.random.default_rng(99)
    load_checkpoint(path, twin, generators={"loader": other})
    np.testing.assert_array_equal(twin[2].rng.random(4), expected_drop)
    np.testing.assert_array_equal(other.random(4), expected_loader)

    untouched = _mlp(seed=7)
    before = untouched[2].rng.bit_generator.state
    load_checkpoint(path, untouched, restore_rng=False)
    assert untouched[2].rng.bit_generator.state == before
    with pytest.raises(CheckpointError, match="no random stream 'data'.*saved streams"):
        load_checkpoint(path, _mlp(), generators={"data": np.random.default_rng()})
    with pytest.raises(CheckpointError, match="MT19937"):
        load_checkpoint(path, _mlp(), generators={"loader": np.random.Generator(np.random.MT19937(0))})


def test_mt19937_state_survives_json(tmp_path):
    gen = np.random.Generator(np.random.MT19937(4))
    path = save_checkpoint(tmp_path / "c.safetensors", nn.Linear(2, 2, rng=0), rng_states={"g": gen})
    expected = gen.random(3)
    fresh = np.random.Generator(np.random.MT19937(0))
    load_checkpoint(path, nn.Linear(2, 2, rng=0), generators={"g": fresh})
    np.testing.assert_array_equal(fresh.random(3), expected)


def test_mismatch_messages_list_everything(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=0)))
    other = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Linear(3, 2, rng=0), nn.Linear(2, 2, rng=0))
    before = _params(other)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, other)
    msg = str(e.value)
    assert str(path) in msg and "does not fit Sequential" in msg
    assert "missing keys (in the model, not in the checkpoint): '2.weight', '2.bias'" in msg
    assert "'0.weight': checkpoint (4, 3) vs model (3, 4)" in msg
    assert "'1.weight': checkpoint (2, 4) vs model (2, 3)" in msg
    for p, q in zip(before, _params(other)):  # nothing changed
        np.testing.assert_array_equal(p, q)

    small = nn.Sequential(nn.Linear(3, 4, rng=0))
    with pytest.raises(CheckpointError, match=r"unexpected keys \(in the checkpoint, not in the model\): '1.weight', "
                                              r"'1.bias'"):
        load_checkpoint(path, small)
    load_checkpoint(path, small, strict=False)  # skips the extra keys

    double = nn.Sequential(nn.Linear(3, 4, rng=1), nn.Linear(4, 2, rng=1)).double()
    with pytest.raises(CheckpointError, match="wrong dtypes: '0.weight': checkpoint float32 vs model float64"):
        load_checkpoint(path, double)
    load_checkpoint(path, double, strict=False)
    assert double[0].weight.dtype == np.float64
    np.testing.assert_array_equal(double[0].weight._array, load_file(path)[0]["0.weight"].astype(np.float64))


def test_optimizer_mismatches(tmp_path):
    model = _mlp()
    plain = save_checkpoint(tmp_path / "plain.safetensors", model)
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load_checkpoint(plain, _mlp(), Adam(_mlp().parameters()))
    opt = Adam(model.parameters())
    _steps(model, opt, 1, seed=0)
    path = save_checkpoint(tmp_path / "adam.safetensors", model, opt)
    twin = _mlp()
    with pytest.raises(CheckpointError, match="holds Adam state, but the optimizer given is a SGD"):
        load_checkpoint(path, twin, SGD(twin.parameters(), lr=0.1))
    half = _mlp()
    with pytest.raises(CheckpointError, match="optimizer state does not fit"):
        load_checkpoint(path, half, Adam(list(half.parameters())[:2]))


def test_corrupt_truncated_and_foreign_files(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _mlp(), Adam(_mlp().parameters()), epoch=2)
    with open(path, "rb") as f:
        data = f.read()

    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 10])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: truncated safetensors file"):
        load_checkpoint(cut, _mlp())

    flipped = bytearray(data)
    flipped[-3] ^= 0xFF  # inside the last array's bytes
    bad = tmp_path / "flip.safetensors"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=r"flip\.safetensors: corrupt checkpoint.*SHA-256"):
        load_checkpoint(bad, _mlp())

    bare = tmp_path / "bare.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, bare)
    with pytest.raises(CheckpointError, match="not an nnbasics checkpoint"):
        load_checkpoint(bare, _mlp())

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(os.urandom(100))
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_checkpoint(junk, _mlp())

    newer = tmp_path / "newer.safetensors"
    arrays, header = load_file(path)
    meta = json.loads(header["nnbasics"])
    meta["format_version"] = 99
    save_file(arrays, newer, {"nnbasics": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="format version 99.*Upgrade nnbasics"):
        load_checkpoint(newer, _mlp())

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors", _mlp())


class _Boom:
    def __reduce__(self):
        return (open, (os.environ["NNB_MARKER"], "w"))


def test_a_pickle_is_never_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("NNB_MARKER", str(marker))
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError, match="evil.safetensors"):
        load_checkpoint(evil, _mlp())
    assert not marker.exists()


def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _mlp()
    opt = Adam(model.parameters())
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, model, opt, epoch=1)
    saved = _params(model)
    _steps(model, opt, 2, seed=0)

    def crash(f, data):
        f.write(data[: len(data) // 2])
        raise KeyboardInterrupt  # even an interrupt leaves no partial file

    monkeypatch.setattr(st, "_write_all", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, opt, epoch=2)
    monkeypatch.undo()
    twin = _mlp(seed=3)
    ckpt = load_checkpoint(path, twin, Adam(twin.parameters()))
    assert ckpt.epoch == 1
    for p, q in zip(saved, _params(twin)):
        np.testing.assert_array_equal(p, q)
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_model_rebuilt_from_spec(tmp_path):
    from nnbasics.models import build_model, register_model

    @register_model("test-train-ckpt-mlp", description="tiny MLP for checkpoint tests")
    def factory(*, hidden=4, rng=None):
        return nn.Sequential(nn.Linear(3, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 2, rng=rng))

    model = build_model("test-train-ckpt-mlp", hidden=6, rng=0)
    path = save_checkpoint(tmp_path / "c.safetensors", model)
    ckpt = load_checkpoint(path)
    assert ckpt.model.spec == {"model": "test-train-ckpt-mlp", "hidden": 6}
    for p, q in zip(_params(model), _params(ckpt.model)):
        np.testing.assert_array_equal(p, q)
    with pytest.raises(CheckpointError, match="no model spec recorded.*pass model= a Sequential"):
        load_checkpoint(save_checkpoint(tmp_path / "nospec.safetensors", _mlp()))


def test_save_validates_its_arguments(tmp_path):
    model = _mlp()
    with pytest.raises(CheckpointError, match="JSON-able"):
        save_checkpoint(tmp_path / "c.safetensors", model, extra={"f": object()})
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        save_checkpoint(tmp_path / "c.safetensors", model, epoch=-1)
    with pytest.raises(TypeError, match="history must be a History"):
        save_checkpoint(tmp_path / "c.safetensors", model, history={"loss": [1]})
    with pytest.raises(TypeError, match="rng_states\\['x'\\] must be a numpy Generator"):
        save_checkpoint(tmp_path / "c.safetensors", model, rng_states={"x": 3})
    assert not list(tmp_path.iterdir())
    assert sorted(module_generators(model)) == ["model.0._rng", "model.2.rng", "model.3._rng"]


# ------------------------------------------------------------------ exact resume in a fresh process
TASK = '''
import numpy as np
import nnbasics.nn as nn
from nnbasics.optim import Adam
from nnbasics.optim.lr_scheduler import StepLR
from nnbasics.training import LearningRateScheduler, ModelCheckpoint, fit


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] * X[:, 2] > 0)).astype(np.int64)
    return X, y


def run(epochs, *, model_seed=0, data_seed=0, save_dir=None, resume=None):
    model = nn.Sequential(nn.Linear(4, 32, rng=model_seed), nn.ReLU(), nn.Dropout(0.3, rng=model_seed + 1),
                          nn.Linear(32, 3, rng=model_seed))
    opt = Adam(model.parameters(), lr=0.02)
    callbacks = [LearningRateScheduler(StepLR(opt, step_size=1, gamma=0.5))]
    if save_dir:
        callbacks.append(ModelCheckpoint(save_dir, monitor="loss"))
    X, y = data()
    history = fit(model, (X, y), epochs=epochs, optimizer=opt, batch_size=16, rng=data_seed,
                  validation_data=(X[:40], y[:40]), callbacks=callbacks, progress=False, resume=resume)
    return model, opt, history
'''


def test_exact_resume_in_a_fresh_process(tmp_path):
    (tmp_path / "resume_task.py").write_text(TASK)
    sys.path.insert(0, str(tmp_path))
    try:
        import resume_task
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("resume_task", None)

    straight, straight_opt, straight_hist = resume_task.run(2)
    resume_task.run(1, save_dir=str(tmp_path / "ckpt"))

    child = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import resume_task
        from nnbasics.io import save_file
        # different seeds: everything that matters must come from the checkpoint
        model, opt, hist = resume_task.run(2, model_seed=123, data_seed=456,
                                           resume={str(tmp_path / "ckpt" / "last.safetensors")!r})
        save_file({{k: v._array for k, v in model.state_dict().items()}}, {str(tmp_path / "out.safetensors")!r},
                  {{"history": json.dumps(hist.to_dict()), "lr": repr(opt.param_groups[0]["lr"])}})
    """)
    proc = subprocess.run([sys.executable, "-c", child], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    resumed, meta = load_file(tmp_path / "out.safetensors")
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed[k], v._array, err_msg=k)  # bit-identical
    hist = History.from_dict(json.loads(meta["history"]))
    assert hist.epoch == [0, 1]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert hist[key] == straight_hist[key], key
    assert float(meta["lr"]) == straight_opt.param_groups[0]["lr"] == 0.01  # epochs ran at 0.02, 0.01
