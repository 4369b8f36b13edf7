"""load_checkpoint is all or nothing (issue 15 item 4): every kind of failure leaves the model, the
optimizer and the random streams exactly as they were.

Before: a bad RNG state or dtype raised *after* the weights and the optimizer were loaded (the
learning rate had changed from 0.123 to the checkpoint's 0.001).
"""

import copy

import numpy as np
import pytest
from ckpt_support import edit_meta

from nnbasics import nn
from nnbasics.data import DataLoader, TensorDataset
from nnbasics.io.safetensors import load_bytes, save_bytes
from nnbasics.optim import SGD, Adam
from nnbasics.training import CheckpointError, load_checkpoint, save_checkpoint


def _model(seed):
    return nn.Sequential(nn.Linear(3, 4, rng=seed), nn.Dropout(0.3, rng=seed), nn.Linear(4, 2, rng=seed))


def _loader(seed):
    X = np.arange(24, dtype=np.float32).reshape(8, 3)
    return DataLoader(TensorDataset(X, np.zeros(8, np.int64)), batch_size=4, shuffle=True, rng=seed)


def _step(model, opt):
    out = model(np.ones((2, 3), np.float32))
    (out * out).sum().backward()
    opt.step()


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of an Adam run at lr 0.001 with a dropout stream and the loader's stream."""
    model = _model(0)
    opt = Adam(model.parameters(), lr=0.001, amsgrad=True)
    _step(model, opt)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, opt, epoch=2, rng_states={"loader": _loader(0)})
    return path


def _snapshot(model, opt, loader):
    return ({k: np.asarray(v).copy() for k, v in model.state_dict().items()}, copy.deepcopy(opt.state_dict()),
            copy.deepcopy(model[1].rng.bit_generator.state), copy.deepcopy(loader.generator.bit_generator.state))


def _same(a, b):
    wa, oa, ra, la = a
    wb, ob, rb, lb = b
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for i in oa["state"]:
        for k, v in oa["state"][i].items():
            assert np.array_equal(v, ob["state"][i][k]), (i, k)
    assert repr(ra) == repr(rb) and repr(la) == repr(lb)  # MT19937's state holds an array


def _set(*keys, value):
    def edit(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


def _del(*keys):
    def edit(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return edit


_META_FAILURES = {
    "rng state int is a string": _set("rng_states", "model.1.rng", "state", "state", value="x"),
    "rng state of another bit generator": _set("rng_states", "model.1.rng", "bit_generator", value="MT19937"),
    "rng state unknown bit generator": _set("rng_states", "loader", "bit_generator", value="os.system"),
    "rng state missing key": _del("rng_states", "loader", "has_uint32"),
    "rng state negative": _set("rng_states", "loader", "state", "inc", value=-5),
    "rng has_uint32 a list": _set("rng_states", "loader", "has_uint32", value=[1]),
    "no state for the model's dropout": _del("rng_states", "model.1.rng"),
    "optimizer of another class": _set("optimizer", "class", value="SGD"),
    "lr a string": _set("optimizer", "param_groups", 0, "lr", value="0.1"),
    "lr negative": _set("optimizer", "param_groups", 0, "lr", value=-1.0),
    "lr NaN": _set("optimizer", "param_groups", 0, "lr", value=float("nan")),
    "betas of three": _set("optimizer", "param_groups", 0, "betas", value=[0.9, 0.99, 0.5]),
    "amsgrad an int": _set("optimizer", "param_groups", 0, "amsgrad", value=1),
    "amsgrad off but its buffer saved": _set("optimizer", "param_groups", 0, "amsgrad", value=False),
    "params listed twice": _set("optimizer", "param_groups", 0, "params", value=[0, 0, 1, 2]),
    "step -1": _set("optimizer", "scalar_state", "0", "step", value=-1),
    "step a float": _set("optimizer", "scalar_state", "0", "step", value=1.5),
    "step huge": _set("optimizer", "scalar_state", "0", "step", value=10**400),
    "step missing": _del("optimizer", "scalar_state", "0", "step"),
    "state for parameter 99": _set("optimizer", "scalar_state", "99", value={"step": 1}),
    "epoch negative": _set("epoch", value=-1),
    "epoch a string": _set("epoch", value="2"),
    "history misaligned": _set("history", value={"epoch": [0, 1], "history": {"loss": [1.0]}}),
    "model keys not strings": _set("model", "keys", value=[1, 2]),
    "optimizer groups an object": _set("optimizer", "param_groups", value={"lr": 1}),
    "format version from the future": _set("format_version", value=99),
}


@pytest.mark.parametrize("what", sorted(_META_FAILURES))
def test_a_failed_load_changes_nothing(what, saved, tmp_path):
    edit_meta(saved, _META_FAILURES[what])
    model, loader = _model(1), _loader(1)
    opt = Adam(model.parameters(), lr=0.123, amsgrad=True)
    _step(model, opt)
    before = _snapshot(model, opt, loader)
    with pytest.raises(CheckpointError):
        load_checkpoint(saved, model, opt, generators={"loader": loader})
    _same(before, _snapshot(model, opt, loader))
    assert opt.param_groups[0]["lr"] == 0.123


def _arrays_edit(fn):
    def edit(path):
        arrays, header = load_bytes(path.read_bytes())
        arrays, header = fn(arrays, header)
        with open(path, "wb") as f:
            f.write(save_bytes(arrays, header))
    return edit


def _flip(arrays, header):
    arrays["0.weight"] = arrays["0.weight"].copy()
    arrays["0.weight"].view(np.uint8)[0] ^= 1
    return arrays, header


def _shape(name, shape):
    def fn(arrays, header):
        arrays[name] = np.zeros(shape, arrays[name].dtype)
        return arrays, header
    return fn


_FILE_FAILURES = {
    "a bit flipped in a weight": _arrays_edit(_flip),
    "an optimizer array of the wrong shape": _arrays_edit(_shape("optimizer/state/0/exp_avg", (2, 2))),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-7]),
    "not a checkpoint": lambda p: p.write_bytes(save_bytes({"x": np.zeros(1)})),
    "garbage": lambda p: p.write_bytes(b"\x00" * 64),
}


@pytest.mark.parametrize("what", sorted(_FILE_FAILURES))
def test_a_damaged_file_changes_nothing(what, saved):
    _FILE_FAILURES[what](saved)
    model, loader = _model(1), _loader(1)
    opt = Adam(model.parameters(), lr=0.123, amsgrad=True)
    before = _snapshot(model, opt, loader)
    with pytest.raises(CheckpointError):
        load_checkpoint(saved, model, opt, generators={"loader": loader})
    _same(before, _snapshot(model, opt, loader))


@pytest.mark.parametrize("what", ["other model", "other optimizer", "missing generator", "other bit generator"])
def test_a_mismatch_changes_nothing(what, saved):
    model, loader = _model(1), _loader(1)
    opt = Adam(model.parameters(), lr=0.123, amsgrad=True)
    gens = {"loader": loader}
    if what == "other model":
        model = nn.Sequential(nn.Linear(3, 5, rng=1), nn.Dropout(0.3, rng=1), nn.Linear(5, 2, rng=1))
        opt = Adam(model.parameters(), lr=0.123)
    elif what == "other optimizer":
        opt = SGD(model.parameters(), lr=0.123, momentum=0.9)
    elif what == "missing generator":
        gens["sampler"] = np.random.default_rng(0)
    else:
        loader.generator = np.random.Generator(np.random.MT19937(1))
    before = _snapshot(model, opt, loader)
    with pytest.raises(CheckpointError):
        load_checkpoint(saved, model, opt, generators=gens)
    _same(before, _snapshot(model, opt, loader))


def test_a_failure_while_applying_is_rolled_back(saved, monkeypatch):
    """Belt and braces: should loading the weights fail after the optimizer and streams were set, both go back."""
    model, loader = _model(1), _loader(1)
    opt = Adam(model.parameters(), lr=0.123, amsgrad=True)
    before = _snapshot(model, opt, loader)

    def boom(*a, **k):
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(model, "load_state_dict", boom)
    with pytest.raises(RuntimeError, match="disk vanished"):
        load_checkpoint(saved, model, opt, generators={"loader": loader})
    _same(before, _snapshot(model, opt, loader))


def test_the_good_checkpoint_loads_everything(saved):
    model, loader = _model(1), _loader(1)
    opt = Adam(model.parameters(), lr=0.123, amsgrad=True)
    ckpt = load_checkpoint(saved, model, opt, generators={"loader": loader})
    assert ckpt.epoch == 2 and opt.param_groups[0]["lr"] == 0.001 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert loader.generator.bit_generator.state == _loader(0).generator.bit_generator.state


def test_a_hyperparameter_the_file_lacks_takes_the_optimizers_value(saved):
    """A checkpoint saved before an optimizer gained a hyperparameter still loads (as torch fills new defaults)."""
    edit_meta(saved, _del("optimizer", "param_groups", 0, "eps"))
    model = _model(1)
    opt = Adam(model.parameters(), lr=0.123, eps=1e-6, amsgrad=True)
    load_checkpoint(saved, model, opt)
    assert opt.param_groups[0]["lr"] == 0.001 and opt.param_groups[0]["eps"] == 1e-6
