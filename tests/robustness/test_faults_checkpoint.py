"""Fault injection at every filesystem call of a checkpoint save (issue 15 item 9; harness: tests/faults.py).

For every counted call of a save (the temporary file's open, each write, flush, fsync, close,
the rename, the directory's fsync) and every error a disk gives (ENOSPC, EIO, EROFS, EFBIG):
the save raises an OSError keeping the errno and saying the previous file is unchanged, the
previous checkpoint loads exactly, and no temporary file is left. Then the same with the
process killed (SIGKILL) at every call: the file under the final name is the old or the new
checkpoint, complete, and the next save removes the dead writer's temporary file.
"""

import os
import stat

import numpy as np
import pytest
from faults import check_every_fault, check_every_kill, count_calls, inject

from nnbasics import nn
from nnbasics.optim import Adam
from nnbasics.training import ModelCheckpoint, fit, load_checkpoint, save_checkpoint


def _model(seed):
    return nn.Sequential(nn.Linear(3, 8, rng=seed), nn.ReLU(), nn.Linear(8, 2, rng=seed))


def _weights(model):
    return {k: np.asarray(v).copy() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def pair(tmp_path):
    """The previous checkpoint's bytes (epoch 1, model A) and the save of the next (epoch 2, model B)."""
    path = tmp_path / "ckpt.safetensors"
    old, new = _model(0), _model(1)
    save_checkpoint(path, old, Adam(old.parameters()), epoch=1)
    previous = path.read_bytes()
    opt = Adam(new.parameters())
    return path, previous, _weights(old), new, opt


def _state(path):
    ckpt = load_checkpoint(path, _model(5))
    return ckpt.epoch, _weights(ckpt.model)


@pytest.mark.parametrize("errnos", [("ENOSPC", "EIO", "EROFS", "EFBIG")])
def test_every_failing_call_of_a_save_keeps_the_previous_checkpoint(pair, errnos):
    path, previous, old_weights, new, opt = pair
    new_weights = _weights(new)

    def setup():
        path.write_bytes(previous)

    def save():
        save_checkpoint(path, new, opt, epoch=2)

    def check(raised):
        epoch, weights = _state(path)
        if raised:
            assert epoch == 1 and _same(weights, old_weights), "the previous checkpoint changed"
        else:
            assert epoch == 2 and _same(weights, new_weights)
        assert sorted(os.listdir(path.parent)) == ["ckpt.safetensors"], "a temporary file was left"

    n = check_every_fault(save, check, setup=setup, errnos=errnos)
    assert n >= 8  # open, write x2, flush, fsync, close, replace, the directory's open and fsync


def test_the_error_keeps_its_errno_and_says_nothing_changed(pair):
    path, previous, *_ , new, opt = pair
    calls = count_calls(lambda: save_checkpoint(path, new, opt, epoch=2))
    n = next(i for i, (name, _) in enumerate(calls, 1) if name == "file.write")
    path.write_bytes(previous)
    with inject(n, "ENOSPC"), pytest.raises(OSError) as info:
        save_checkpoint(path, new, opt, epoch=2)
    assert info.value.errno == 28 and "previous file is unchanged" in str(info.value)
    assert str(path) in str(info.value)


def test_a_new_file_follows_the_umask_and_a_replaced_one_keeps_its_mode(tmp_path):
    old = os.umask(0o027)
    try:
        save_checkpoint(tmp_path / "a.safetensors", _model(0), epoch=0)
        assert stat.S_IMODE(os.stat(tmp_path / "a.safetensors").st_mode) == 0o640
        os.chmod(tmp_path / "a.safetensors", 0o604)
        save_checkpoint(tmp_path / "a.safetensors", _model(1), epoch=1)
        assert stat.S_IMODE(os.stat(tmp_path / "a.safetensors").st_mode) == 0o604
    finally:
        os.umask(old)


_SETUP = """
import numpy as np
from nnbasics import nn
from nnbasics.optim import Adam
from nnbasics.training import save_checkpoint
model = nn.Sequential(nn.Linear(3, 8, rng=1), nn.ReLU(), nn.Linear(8, 2, rng=1))
opt = Adam(model.parameters())
"""


def test_a_kill_at_every_call_of_a_save_leaves_a_complete_checkpoint(pair):
    path, previous, old_weights, new, opt = pair
    new_weights = _weights(new)
    seen = set()

    def before():
        for f in os.listdir(path.parent):
            os.unlink(path.parent / f)
        path.write_bytes(previous)

    def check():
        epoch, weights = _state(path)
        assert (epoch, _same(weights, old_weights if epoch == 1 else new_weights)) in {(1, True), (2, True)}
        seen.add(epoch)
        leftovers = [f for f in os.listdir(path.parent) if f != "ckpt.safetensors"]
        assert all(f.startswith(".ckpt.safetensors.") and f.endswith(".tmp") for f in leftovers), leftovers
        save_checkpoint(path, new, opt, epoch=2)  # the next save sweeps the dead writer's temporary file
        assert os.listdir(path.parent) == ["ckpt.safetensors"]

    n = check_every_kill(_SETUP, f"save_checkpoint({str(path)!r}, model, opt, epoch=2)", check, before=before)
    assert n >= 8 and seen == {1, 2}


def test_a_model_checkpoint_epoch_end_under_every_fault(tmp_path):
    """ModelCheckpoint writes last and best: each stays a complete checkpoint whatever call fails."""
    X = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = _model(0)
    opt = Adam(model.parameters())
    cb = ModelCheckpoint(tmp_path, monitor="loss")
    fit(model, (X, y), epochs=1, optimizer=opt, batch_size=8, rng=0, callbacks=[cb], progress=False)
    files = {n: (tmp_path / n).read_bytes() for n in ("last.safetensors", "best.safetensors")}
    epoch1 = _weights(model)
    fit(model, (X, y), epochs=2, optimizer=opt, batch_size=8, rng=0, callbacks=[cb], progress=False,
        initial_epoch=1)
    epoch2 = _weights(model)

    def setup():
        for n, b in files.items():
            (tmp_path / n).write_bytes(b)
        cb.best = 10.0  # the epoch-2 loss improves on it: both files are written

    def save():
        cb.on_epoch_end(1, {"loss": 0.5})

    def check(raised):
        for n in files:
            epoch, weights = _state(tmp_path / n)
            assert (epoch, _same(weights, epoch1 if epoch == 1 else epoch2)) in {(1, True), (2, True)}, n
        assert sorted(os.listdir(tmp_path)) == ["best.safetensors", "last.safetensors"]

    assert check_every_fault(save, check, setup=setup) >= 16
