"""Fuzzing the resume path (issue 15 item 5): fit(resume=...) on type-mutated checkpoint headers.

About 126 of 930 type-mutated headers that load_checkpoint accepted ended ``fit(resume=...)`` in
a raw TypeError/KeyError/OverflowError/ZeroDivisionError, often epochs later inside
``optimizer.step`` (``step=-1``, a bad ``amsgrad``, a bad ``rng_states.loader``). Here every
field of a real ModelCheckpoint file (Adam with AMSGrad, a StepLR schedule, early stopping,
dropout, a shuffling loader) is replaced by a value of another type, or deleted, and the run
resumed for two more epochs: it must either train or raise CheckpointError, and a refused
resume must leave the model and the optimizer as they were.
"""

import copy
import json
import math

import numpy as np
import pytest
from ckpt_support import paths, read_meta, set_path, write_meta
from fuzz_support import fuzz_settings, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics import nn
from nnbasics.optim import Adam
from nnbasics.optim.lr_scheduler import StepLR
from nnbasics.training import (
    CheckpointError,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    fit,
)

_X = np.random.default_rng(0).standard_normal((24, 3)).astype(np.float32)
_Y = (_X[:, 0] > 0).astype(np.int64)


def _run(epochs, resume=None, directory=None):
    model = nn.Sequential(nn.Linear(3, 6, rng=0), nn.ReLU(), nn.Dropout(0.2, rng=0), nn.Linear(6, 2, rng=0))
    opt = Adam(model.parameters(), lr=0.01, amsgrad=True)
    cbs = [LearningRateScheduler(StepLR(opt, step_size=1, gamma=0.5)), EarlyStopping(monitor="loss", patience=5),
           TerminateOnNaN()]
    if directory is not None:
        cbs.append(ModelCheckpoint(directory, monitor="loss"))
    before = {k: np.asarray(v).copy() for k, v in model.state_dict().items()}
    try:
        fit(model, (_X, _Y), epochs=epochs, optimizer=opt, batch_size=8, rng=0, callbacks=cbs, progress=False,
            resume=resume)
    except CheckpointError:
        after = {k: np.asarray(v).copy() for k, v in model.state_dict().items()}
        assert all(np.array_equal(before[k], after[k]) for k in before), "a refused resume changed the weights"
        assert opt.param_groups[0]["lr"] == 0.01 and not any(s for s in opt.state[0]), "it changed the optimizer"
        return None
    return model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    _run(2, directory=d)
    return read_meta(d / "last.safetensors"), d


_VALUES = [None, True, False, 0, -1, 1, 2, 2**31, 2**63, 10**30, 10**400, 0.5, -1e308, 1e308, math.nan, math.inf,
           -math.inf, "x", "", "min", [], [1], [1, 2, 3], [None], {}, {"a": 1}, {"bit_generator": "PCG64"}]


def _cases(meta):
    every = paths(meta)
    return st.tuples(st.sampled_from(every), st.one_of(st.sampled_from(_VALUES).map(lambda v: ("set", v)),
                                                       st.just(("delete", None))))


def _resume_with(base, tmp_path_factory, edits):
    (arrays, meta), _ = base
    meta = copy.deepcopy(meta)
    for path, (op, value) in edits:
        try:
            set_path(meta, path, copy.deepcopy(value), delete=op == "delete")
        except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the parent
            pass
    out = tmp_path_factory.mktemp("mutated") / "last.safetensors"
    write_meta(out, arrays, meta)
    with no_hang(30), np.errstate(all="ignore"):
        return _run(4, resume=out)


def test_the_unmutated_checkpoint_resumes(base, tmp_path_factory):
    assert _resume_with(base, tmp_path_factory, []) is not None


@pytest.fixture(scope="module")
def edit_strategy(base):
    (_, meta), _ = base
    return st.lists(_cases(meta), min_size=1, max_size=3)


def test_fuzz_resume(base, tmp_path_factory, edit_strategy):
    @fuzz_settings(200)
    @given(edit_strategy)
    def check(edits):
        _resume_with(base, tmp_path_factory, edits)

    check()


@pytest.mark.parametrize("path, value", [
    (("optimizer", "scalar_state", "0", "step"), -1),
    (("optimizer", "param_groups", 0, "amsgrad"), "yes"),
    (("optimizer", "param_groups", 0, "amsgrad"), False),
    (("rng_states", "loader", "state", "state"), "x"),
    (("rng_states", "loader"), {"bit_generator": "PCG64"}),
    (("extra", "callbacks", "LearningRateScheduler", "scheduler", "last_epoch"), "3"),
    (("extra", "callbacks", "LearningRateScheduler", "scheduler", "step"), 1),
    (("extra", "callbacks", "LearningRateScheduler", "scheduler", "gamma"), -1e308),  # found by the long run
    (("extra", "callbacks", "LearningRateScheduler", "scheduler", "last_epoch"), -(2**53)),  # 2^53 steps to catch up
    (("extra", "callbacks", "EarlyStopping", "wait"), 1.5),
    (("extra", "callbacks", "EarlyStopping", "best"), "low"),
    (("extra", "callbacks", "EarlyStopping"), []),
    (("extra", "callbacks"), [1]),
    (("epoch",), None),
    (("history", "history", "loss"), [1, 2, 3, 4, 5]),
])
def test_known_crashes_are_refused(base, tmp_path_factory, path, value):
    assert _resume_with(base, tmp_path_factory, [(path, ("set", value))]) is None


def test_paths_cover_every_part_of_the_header(base):
    (_, meta), _ = base
    tops = {p[0] for p in paths(meta)}
    assert {"optimizer", "rng_states", "extra", "history", "model", "epoch"} <= tops
    assert len(paths(meta)) > 80, json.dumps(meta)[:300]
