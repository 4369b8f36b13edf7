"""train_char_lm(resume=...) on type-mutated checkpoint headers: it trains on, or raises CheckpointError /
its own ValueError for settings that differ -- never a raw error from deep inside, nor an allocation
a dtype string asks for (the carried state is float32/64 of the model's state shape only).
"""

import copy
import math

import pytest
from ckpt_support import paths, read_meta, set_path, write_meta
from fuzz_support import fuzz_settings, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics.training import CheckpointError, train_char_lm

_TEXT = "abcab cab abc. " * 12
_KW = {"model": {"model": "char-gru", "hidden_size": 6, "embedding_dim": 3}, "seq_len": 6, "batch_size": 2,
       "eval_every": 3, "rng": 0}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    train_char_lm(_TEXT, steps=4, checkpoint_dir=d, **_KW)  # stops inside an epoch: a carried state is saved
    arrays, meta = read_meta(d / "last.safetensors")
    assert meta["extra"]["resume"]["state"] is not None
    return arrays, meta


def _resume(base, tmp_path_factory, edits):
    arrays, meta = copy.deepcopy(base)
    for path, value in edits:
        try:
            set_path(meta, path, copy.deepcopy(value), delete=value is _DELETE)
        except (KeyError, IndexError, TypeError):
            pass
    out = tmp_path_factory.mktemp("lm-mutated") / "last.safetensors"
    write_meta(out, arrays, meta)
    with no_hang(30):
        try:
            return train_char_lm(_TEXT, steps=8, resume=str(out), **_KW)
        except CheckpointError:
            return None
        except ValueError as e:  # the run's settings against the checkpoint's: its own message
            assert str(e).startswith("train_char_lm:"), e
            return None


_DELETE = object()
_VALUES = [None, True, 0, -1, 2**31, 10**30, 1.5, math.nan, math.inf, "x", "", [], [1], {}, {"a": 1}, "<f4",
           "(5000,5000)f8", [10**6, 10**6, 10**6], _DELETE]


def test_the_unmutated_checkpoint_resumes(base, tmp_path_factory):
    assert _resume(base, tmp_path_factory, []).history["step"][-1] == 8


@pytest.mark.parametrize("field, value", [
    (("extra", "resume", "state", "arrays", 0, "dtype"), "(5000,5000)f8"),
    (("extra", "resume", "state", "arrays", 0, "shape"), [10**5, 10**5, 10]),
    (("extra", "resume", "state", "arrays", 0, "base64"), "!!!"),
    (("extra", "resume", "state", "tuple"), True),
    (("extra", "vocab", "chars"), 5),
    (("extra", "step"), -1),
    (("extra", "history", "val_loss"), [1.0]),
    (("extra", "resume", "start"), "x"),
    (("extra", "resume", "best"), None),
    (("extra",), True),  # found by the long run
    (("extra", "vocab", "chars"), "<f4"),  # found by the long run: a vocabulary that misses the text
    (("extra", "resume", "start"), 2**31),  # found by the long run
])
def test_known_hostile_fields_are_refused(base, tmp_path_factory, field, value):
    assert _resume(base, tmp_path_factory, [(field, value)]) is None


def test_fuzz_char_lm_resume(base, tmp_path_factory):
    every = [p for p in paths(base[1]) if p[0] in ("extra", "optimizer", "rng_states", "epoch")]

    @fuzz_settings(60)
    @given(st.lists(st.tuples(st.sampled_from(every), st.sampled_from(_VALUES)), min_size=1, max_size=2))
    def check(edits):
        _resume(base, tmp_path_factory, edits)

    check()
