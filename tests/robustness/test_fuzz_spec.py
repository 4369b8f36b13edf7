"""Fuzzing model specs (nnbasics.models.spec): TOML text, JSON files and dicts.

Property: build_from_spec gives a Module, or SpecError (a ValueError), or a ValueError/TypeError
whose message starts with "spec:" (a layer constructor's own check, re-raised naming the layer);
never a raw exception from deep inside, a hang, or a huge allocation (a model holding more than
nnbasics.models.size.MAX_PARAMETERS numbers, counted over every layer, is refused before building).
"""

import json

import pytest
from fuzz_support import bounded_memory, fuzz_settings, mutated, no_hang
from hypothesis import given
from hypothesis import strategies as st

from nnbasics import nn
from nnbasics.models.spec import SpecError, build_from_spec

_TOML = b'''model = "mlp"
in_features = 4
out_features = 3
hidden = [8, 5]
activation = "tanh"
init = "he"
dropout = 0.1
'''
_LAYERS = b'''init = "he"
[[layers]]
type = "conv2d"
in_channels = 1
out_channels = 2
kernel_size = 3
[[layers]]
type = "max_pool2d"
kernel_size = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
in_features = 8
out_features = 3
[[layers]]
type = "lstm"
input_size = 3
hidden_size = 2
batch_first = true
'''


def _check(source):
    with no_hang(), bounded_memory(64 << 20):
        try:
            model = build_from_spec(source, rng=0)
        except SpecError:
            return None
        except (ValueError, TypeError) as e:
            assert str(e).startswith("spec:"), f"{type(e).__name__} without the spec's own message: {e}"
            return None
    assert isinstance(model, nn.Module) and isinstance(model.spec, dict)
    return model


def _text(blob):
    return blob.decode("utf-8", errors="replace")


@fuzz_settings(250)
@given(st.one_of(mutated(_TOML), mutated(_LAYERS)))
def test_fuzz_spec_toml_text(blob):
    text = _text(blob)
    if "\n" not in text and "=" not in text:
        return  # one line without '=' is read as a file name, not TOML
    _check(text)


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(), st.text(max_size=8),
                    st.sampled_from([10**12, 2**31, -1, 0, [10**6, 10**6], [], {}, "relu", "he", [3, 3]]),
                    st.lists(st.integers(-5, 10**7), max_size=4))
_KEYS = ["model", "layers", "type", "in_features", "out_features", "hidden", "activation", "init", "dropout",
         "in_channels", "out_channels", "kernel_size", "stride", "padding", "input_size", "hidden_size",
         "num_layers", "num_embeddings", "embedding_dim", "bias", "batch_first", "description", "name", "p", "dim"]


@st.composite
def _spec_dicts(draw):
    base = json.loads(json.dumps(draw(st.sampled_from([
        {"model": "mlp", "in_features": 4, "out_features": 3, "hidden": [8]},
        {"model": "lenet5"},
        {"layers": [{"type": "linear", "in_features": 3, "out_features": 2}, {"type": "relu"}]},
        {"layers": [{"type": "embedding", "num_embeddings": 5, "embedding_dim": 3},
                    {"type": "gru", "input_size": 3, "hidden_size": 2}, {"type": "last_step"}]}]))))
    for _ in range(draw(st.integers(1, 4))):
        target = base
        if "layers" in base and isinstance(base["layers"], list) and base["layers"] and draw(st.booleans()):
            target = base["layers"][draw(st.integers(0, len(base["layers"]) - 1))]
            if not isinstance(target, dict):
                continue
        key = draw(st.sampled_from(_KEYS))
        if draw(st.integers(0, 3)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(_VALUES)
    return base


@fuzz_settings(250)
@given(_spec_dicts())
def test_fuzz_spec_dicts(spec):
    _check(spec)


@pytest.mark.parametrize("spec", [
    {"model": "mlp", "in_features": 10**6, "out_features": 10**6, "hidden": []},
    {"layers": [{"type": "linear", "in_features": 10**6, "out_features": 10**6}]},
    {"layers": [{"type": "embedding", "num_embeddings": 10**12, "embedding_dim": 1}]},
    {"layers": [{"type": "lstm", "input_size": 2**40, "hidden_size": 2}]},
    'layers = [{type = "conv2d", in_channels = 100000, out_channels = 100000, kernel_size = 3}]',
    # each layer below passed the old per-layer limit (its two largest sizes multiply below 2^31)
    {"model": "mlp", "in_features": 40000, "out_features": 2, "hidden": [40000] * 200},
    {"layers": [{"type": "conv2d", "in_channels": 40000, "out_channels": 40000, "kernel_size": 3}]},
    {"layers": [{"type": "lstm", "input_size": 20000, "hidden_size": 20000, "num_layers": 100,
                 "bidirectional": True}]},
    {"layers": [{"type": "linear", "in_features": 16000, "out_features": 16000}] * 100},
    {"model": "char-lstm", "vocab_size": 30000, "hidden_size": 20000, "num_layers": 50},
    {"model": "lab-cnn-deep", "image_size": 20000, "hidden": 30000},
])
def test_huge_sizes_are_refused_before_allocating(spec):
    with bounded_memory(1 << 20), pytest.raises(SpecError, match="numbers, more than"):
        build_from_spec(spec)


def test_deeply_nested_toml_and_json(tmp_path):
    with no_hang():
        _check("x = " + "[" * 5000 + "]" * 5000 + "\nmodel = 'mlp'")
        path = tmp_path / "s.json"
        path.write_text('{"model": "mlp", "hidden": ' + "[" * 100000 + "]" * 100000 + "}")
        _check(path)
        path.write_bytes(b"\xff\xfe{")
        _check(path)


def test_seeds_build():
    assert _check(_text(_TOML)) is not None and _check(_text(_LAYERS)) is not None
