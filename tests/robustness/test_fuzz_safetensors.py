"""Fuzzing safetensors reading (nnbasics.io.safetensors) and checkpoint files (training.checkpoint).

Property: any bytes give arrays or SafetensorsError (checkpoints: CheckpointError) naming the
file; no hang, no allocation beyond the file's size, no raw json/struct/NumPy exception.
Checkpoint metadata (JSON inside the header, not covered by the SHA-256 of the arrays) is
fuzzed separately: wrong types, huge numbers, deep nesting, missing and extra fields.
"""

import json
import struct

import numpy as np
import pytest
from fuzz_support import bounded_memory, fuzz_settings, mutated, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics import nn
from nnbasics.io.safetensors import SafetensorsError, load_bytes, save_bytes
from nnbasics.models import build_model
from nnbasics.optim import Adam
from nnbasics.training import CheckpointError, History, load_checkpoint, save_checkpoint
from nnbasics.training.checkpoint import checkpoint_bytes

_SEED = save_bytes({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64),
                    "s": np.array(True)}, metadata={"k": "v"})


def _st(header, body=b""):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


_HOSTILE = [
    _st({"a": {"dtype": "F32", "shape": [2**70], "data_offsets": [0, 4]}}, b"\0" * 4),
    _st({"a": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}),
    _st({"a": {"dtype": "F64", "shape": [10**6, 10**6], "data_offsets": [0, 8 * 10**12]}}, b"\0" * 8),
    _st({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    _st({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4),
    _st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, b"\0" * 4),
    _st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, b"\0" * 4),
    _st({"a": [1, 2, 3]}), _st([1, 2]), _st({"__metadata__": {"k": 1}}),
    _st(b'{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    _st(b'{"a": {"dtype": "F32", "shape": [1' + b"0" * 5000 + b'], "data_offsets": [0, 4]}}', b"\0" * 4),
    struct.pack("<Q", 2**64 - 1) + b"{}", b"\xff" * 7, b"",
]


def _check_st(blob):
    with no_hang(), bounded_memory(16 * len(blob) + (1 << 20)):
        try:
            arrays, meta = load_bytes(blob, source="f.safetensors")
        except SafetensorsError as e:
            assert str(e).startswith("f.safetensors: ")
            return None
    assert all(isinstance(a, np.ndarray) for a in arrays.values()) and isinstance(meta, dict)
    return arrays


@fuzz_settings(250)
@given(st.one_of(mutated(_SEED), st.sampled_from(_HOSTILE).flatmap(mutated)))
def test_fuzz_safetensors(blob):
    _check_st(blob)


@pytest.mark.parametrize("i", range(len(_HOSTILE)))
def test_hostile_safetensors_headers(i):
    assert _check_st(_HOSTILE[i]) is None


def test_every_truncation():
    for cut in range(len(_SEED)):
        assert _check_st(_SEED[:cut]) is None
    assert set(_check_st(_SEED)) == {"w", "b", "s"}


# ------------------------------------------------------------------- checkpoints
def _net():
    return build_model("mlp", in_features=3, out_features=2, hidden=[4], rng=0)


def _ckpt_bytes():
    model = _net()
    opt = Adam(model.parameters(), lr=0.01)
    model(np.ones((2, 3), np.float32)).sum().backward()
    opt.step()
    h = History()
    h.append(0, {"loss": 1.0})
    return checkpoint_bytes(model, opt, epoch=1, history=h, extra={"a": [1, 2]})


_CKPT = _ckpt_bytes()


def _load(tmp_path_factory, blob, with_model):
    path = tmp_path_factory.mktemp("ck") / "c.safetensors"
    path.write_bytes(blob)
    model = _net() if with_model else None
    with no_hang(), bounded_memory(64 * len(blob) + (1 << 21)):
        try:
            ck = load_checkpoint(path, model, Adam(model.parameters()) if with_model else None)
        except CheckpointError as e:
            assert str(path) in str(e)
            return None
    assert isinstance(ck.model, nn.Module)
    return ck


@fuzz_settings(120)
@given(mutated(_CKPT), st.booleans())
def test_fuzz_checkpoint_file(tmp_path_factory, blob, with_model):
    _load(tmp_path_factory, blob, with_model)


def _meta_of(blob):
    arrays, meta = load_bytes(blob)
    return arrays, json.loads(meta["nnbasics"])


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=8)


@st.composite
def _bad_meta(draw):
    arrays, meta = _meta_of(_CKPT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([
            ("model",), ("model", "class"), ("model", "spec"), ("model", "keys"), ("model", "spec", "hidden"),
            ("model", "spec", "in_features"), ("model", "spec", "model"), ("epoch",), ("history",),
            ("history", "epoch"), ("history", "history"), ("optimizer",), ("optimizer", "class"),
            ("optimizer", "param_groups"), ("optimizer", "scalar_state"), ("rng_states",), ("extra",), ("sha256",),
            ("format_version",), ("format",)]))
        value = draw(st.one_of(_JSON, st.sampled_from([10**12, -1, 2**63, [10**12] * 3, "x" * 10, {}, []])))
        node = meta
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            if draw(st.booleans()):
                node[path[-1]] = value
            else:
                node.pop(path[-1], None)
    text = json.dumps(meta)
    if draw(st.integers(0, 9)) == 0:
        text = '{"format": "nnbasics.checkpoint", "format_version": 1, "extra": ' + "[" * 20000 + "]" * 20000 + "}"
    return save_bytes(arrays, {"nnbasics": text})


@fuzz_settings(150)
@given(_bad_meta(), st.booleans())
def test_fuzz_checkpoint_metadata(tmp_path_factory, blob, with_model):
    _load(tmp_path_factory, blob, with_model)


def test_checkpoint_seed_loads_and_spec_cannot_ask_for_a_huge_model(tmp_path_factory):
    ck = _load(tmp_path_factory, _CKPT, False)
    assert ck.epoch == 1 and ck.extra == {"a": [1, 2]}
    arrays, meta = _meta_of(_CKPT)
    meta["model"]["spec"]["hidden"] = [10**6, 10**6]  # 10^12 weights
    assert _load(tmp_path_factory, save_bytes(arrays, {"nnbasics": json.dumps(meta)}), False) is None


def test_nan_weights_round_trip_through_save_checkpoint(tmp_path):
    model = _net()
    save_checkpoint(tmp_path / "a.safetensors", model)
    assert load_checkpoint(tmp_path / "a.safetensors", _net()).epoch is None
