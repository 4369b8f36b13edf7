"""models.size: the numbers a spec asks for, counted before building, equal the built model's state dict.

Every layer type a layer-list spec may name and every model of the zoo is built from random
small arguments and its state dict counted; a type the counter does not know fails here (add
its count to ``nnbasics/models/size.py``), so no layer can slip back to a per-layer estimate.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnbasics.models import available_models, build_model
from nnbasics.models.size import MAX_PARAMETERS, spec_size
from nnbasics.models.spec import SpecError, build_from_spec, layer_params, layer_table, layer_types

_SETTINGS = settings(max_examples=15, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))


def _numbers(model) -> int:
    return sum(int(np.asarray(getattr(v, "data", v)).size) for v in model.state_dict().values())


_SIZES = st.integers(1, 6)
# Values by argument name: every required argument of every layer, and the optional ones that change sizes.
_ARGS = {
    "in_features": _SIZES, "out_features": _SIZES, "in_channels": st.sampled_from([2, 4, 6]),
    "out_channels": st.sampled_from([2, 4, 6]), "groups": st.sampled_from([1, 2]),
    "kernel_size": st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2)),
    "num_features": _SIZES, "num_embeddings": _SIZES, "embedding_dim": _SIZES, "input_size": _SIZES,
    "hidden_size": _SIZES, "num_layers": st.integers(1, 3), "bidirectional": st.booleans(), "bias": st.booleans(),
    "affine": st.booleans(), "track_running_stats": st.booleans(), "elementwise_affine": st.booleans(),
    "normalized_shape": st.one_of(_SIZES, st.lists(_SIZES, min_size=1, max_size=3)), "num_parameters": _SIZES,
    "output_size": st.just(2), "pool_size": st.just(1), "dim": st.just(1), "unflattened_size": st.just([1, 4]),
}


@st.composite
def _layer_entry(draw, kind):
    cls = layer_table()[kind]
    entry = {"type": kind}
    for p in layer_params(cls):
        if p.name == "rng":
            continue
        if p.name in _ARGS and (p.default is p.empty or draw(st.booleans())):
            entry[p.name] = draw(_ARGS[p.name])
        elif p.default is p.empty:
            raise AssertionError(f"test: no value strategy for the required argument {p.name!r} of {kind}")
    if kind.startswith("conv") and isinstance(entry["kernel_size"], list) and kind in ("conv1d", "convtranspose1d"):
        entry["kernel_size"] = entry["kernel_size"][:1]
    return entry


@pytest.mark.parametrize("kind", sorted(layer_table()))
def test_every_layer_type_is_counted_exactly(kind):
    @_SETTINGS
    @given(_layer_entry(kind))
    def check(entry):
        n = spec_size({"layers": [entry]})
        assert n is not None, f"models/size.py cannot count layer type {kind!r}: add its count"
        assert n == _numbers(build_from_spec({"layers": [entry]}, rng=0)), entry

    check()


def test_layer_types_cover_the_table():
    assert len(layer_types()) >= 40


_IMAGE = st.one_of(st.integers(8, 40), st.lists(st.integers(8, 40), min_size=2, max_size=2))
_ZOO = {
    "mlp": st.fixed_dictionaries({"in_features": st.one_of(_SIZES, st.lists(_SIZES, min_size=1, max_size=3)),
                                  "out_features": _SIZES, "hidden": st.one_of(_SIZES, st.lists(_SIZES, max_size=3)),
                                  "batch_norm": st.booleans(), "bias": st.booleans(),
                                  "dropout": st.sampled_from([0.0, 0.2])}),
    "logreg": st.fixed_dictionaries({"in_features": _SIZES, "out_features": _SIZES, "bias": st.booleans()}),
    "lenet5": st.fixed_dictionaries({"in_channels": st.integers(1, 3), "num_classes": _SIZES,
                                     "image_size": st.one_of(st.sampled_from([28, 32]), st.integers(32, 40)),
                                     "padding": st.one_of(st.none(), st.integers(0, 2))}),
    "lab-cnn": st.fixed_dictionaries({"in_channels": st.integers(1, 3), "num_classes": _SIZES, "image_size": _IMAGE}),
    "lab-cnn-deep": st.fixed_dictionaries({"in_channels": st.integers(1, 3), "num_classes": _SIZES,
                                           "image_size": _IMAGE, "hidden": _SIZES, "batch_norm": st.booleans()}),
    "char-lstm": st.fixed_dictionaries({"vocab_size": _SIZES, "embedding_dim": _SIZES, "hidden_size": _SIZES,
                                        "num_layers": st.integers(1, 3)}),
    "char-gru": st.fixed_dictionaries({"vocab_size": _SIZES, "num_layers": st.integers(1, 3)}),
    "char-rnn": st.fixed_dictionaries({"vocab_size": _SIZES, "hidden_size": _SIZES}),
    "sequence-classifier": st.one_of(
        st.fixed_dictionaries({"num_classes": _SIZES, "vocab_size": _SIZES, "embedding_dim": _SIZES,
                               "cell": st.sampled_from(["lstm", "gru", "rnn"]), "num_layers": st.integers(1, 3)}),
        st.fixed_dictionaries({"num_classes": _SIZES, "input_size": _SIZES, "hidden_size": _SIZES})),
    "ensemble": st.fixed_dictionaries({"members": st.lists(st.fixed_dictionaries(
        {"model": st.just("mlp"), "in_features": _SIZES, "out_features": _SIZES,
         "hidden": st.lists(_SIZES, max_size=2)}), min_size=1, max_size=3)}),
}


@pytest.mark.parametrize("name", sorted(available_models()))
def test_every_zoo_model_is_counted_exactly(name):
    assert name in _ZOO, f"test: add a strategy for the zoo model {name!r} (and its count to models/size.py)"

    @_SETTINGS
    @given(_ZOO[name])
    def check(args):
        spec = {"model": name, **args}
        n = spec_size(spec)
        assert n is not None, f"models/size.py cannot count {spec}"
        assert n == _numbers(build_model(dict(spec), rng=0)), spec

    check()


def test_uncountable_specs_say_so():
    assert spec_size({"model": "no-such-model"}) is None
    assert spec_size({"model": "mlp", "in_features": "four", "out_features": 2}) is None
    assert spec_size({"layers": [{"type": "linear", "in_features": 2.5, "out_features": 2}]}) is None
    assert spec_size(["not", "a", "spec"]) is None


def test_the_absolute_cap_is_the_whole_model(monkeypatch):
    """Many small layers add up: 3 layers of 40 numbers pass a cap of 100 one by one, not together."""
    from nnbasics.models import size

    monkeypatch.setattr(size, "MAX_PARAMETERS", 100)
    layer = {"type": "linear", "in_features": 4, "out_features": 8}  # 40 numbers
    build_from_spec({"layers": [layer, {"type": "linear", "in_features": 8, "out_features": 4}]})
    with pytest.raises(SpecError, match="would hold 112 numbers, more than"):
        build_from_spec({"layers": [layer, {"type": "relu"}, {"type": "linear", "in_features": 8, "out_features": 8}]})
    with pytest.raises(SpecError, match="would hold 148 numbers"):
        build_model("mlp", in_features=4, hidden=[8, 8], out_features=4)
    assert MAX_PARAMETERS == 2**28
