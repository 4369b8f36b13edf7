"""models.spec: declarative model specs (dict, TOML, JSON), validation messages, exact round trips."""

import json

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.models import build_model
from nnbasics.models.spec import SpecError, build_from_spec, layer_types, load_spec, validate_spec

MLP = {"model": "mlp", "in_features": 4, "hidden": [6, 5], "out_features": 3, "activation": "tanh",
       "init": "he", "dropout": 0.2}
LAYERS = {"layers": [{"type": "linear", "in_features": 4, "out_features": 6}, {"type": "leaky_relu",
          "negative_slope": 0.1}, {"type": "Dropout", "p": 0.3}, {"type": "linear", "in_features": 6,
          "out_features": 3}], "init": "kaiming"}


def _same_architecture_and_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype
        np.testing.assert_array_equal(sa[k]._array, sb[k]._array)
    assert repr(a) == repr(b)


@pytest.mark.parametrize("spec", [MLP, LAYERS], ids=["model", "layers"])
def test_spec_round_trips_through_json(spec):
    m = build_from_spec(spec, rng=0)
    text = json.dumps(m.spec)
    again = build_from_spec(json.loads(text), rng=0)
    _same_architecture_and_weights(m, again)
    assert again.spec == m.spec
    assert m(nb.randn(2, 4, rng=1)).shape == (2, 3)


def test_model_spec_records_defaults_and_layer_spec_records_class_names():
    m = build_from_spec({"model": "mlp", "in_features": 2, "out_features": 2}, rng=0)
    assert m.spec["hidden"] == [] and m.spec["activation"] == "relu" and m.spec["batch_norm"] is False
    s = build_from_spec(LAYERS, rng=0).spec
    assert [e["type"] for e in s["layers"]] == ["linear", "leakyrelu", "dropout", "linear"]
    assert s["init"] == "he"


def test_layer_spec_applies_init_and_is_seeded():
    m = build_from_spec(LAYERS, rng=0)
    assert not m[0].bias._array.any()  # every scheme but 'default' zeroes biases
    np.testing.assert_allclose(m[0].weight._array.std(), np.sqrt(2 / 4), rtol=0.6)
    assert not np.array_equal(build_from_spec(LAYERS, rng=1)[0].weight._array, m[0].weight._array)


def test_toml_text_and_files(tmp_path):
    text = """
model = "mlp"
in_features = 4
hidden = [6, 5]
out_features = 3
activation = "tanh"
init = "he"
dropout = 0.2
"""
    _same_architecture_and_weights(build_from_spec(text, rng=0), build_from_spec(MLP, rng=0))
    path = tmp_path / "net.toml"
    path.write_text("""
init = "kaiming"
[[layers]]
type = "linear"
in_features = 4
out_features = 6
[[layers]]
type = "leaky_relu"
negative_slope = 0.1
[[layers]]
type = "Dropout"
p = 0.3
[[layers]]
type = "linear"
in_features = 6
out_features = 3
""")
    _same_architecture_and_weights(build_from_spec(path, rng=0), build_from_spec(LAYERS, rng=0))
    _same_architecture_and_weights(build_from_spec(str(path), rng=0), build_from_spec(LAYERS, rng=0))
    jpath = tmp_path / "net.json"
    jpath.write_text(json.dumps(MLP))
    assert load_spec(jpath) == MLP


def test_overrides_complete_a_model_spec():
    m = build_from_spec({"model": "mlp", "hidden": [5]}, rng=0, in_features=[1, 2, 3], out_features=4)
    assert m.spec["in_features"] == [1, 2, 3] and m(nb.randn(2, 1, 2, 3, rng=0)).shape == (2, 4)
    with pytest.raises(SpecError, match="'model' specs only"):
        build_from_spec(LAYERS, in_features=3)


def test_load_spec_copies_the_dict():
    spec = {"model": "mlp", "hidden": [4]}
    loaded = load_spec(spec)
    loaded["hidden"].append(5)
    assert spec["hidden"] == [4]


@pytest.mark.parametrize("spec, match", [
    ({"model": "mpl"}, r"model: unknown model 'mpl'\. Did you mean 'mlp'\? Valid models: .*logreg.*mlp"),
    ({**MLP, "hiden": [3]}, r"unknown key\(s\) 'hiden' \(did you mean 'hidden'\?\)\. Valid keys: in_features"),
    ({"model": "mlp"}, r"missing required key\(s\) 'in_features', 'out_features'"),
    ({**MLP, "activation": "relux"}, r"activation: .*valid names: step, sigmoid, tanh, relu"),
    ({**MLP, "init": "xav"}, r"unknown init scheme 'xav'\. Valid: default, zeros"),
    ({**MLP, "dropout": 1.5}, r"dropout"),
    ({"layers": [{"type": "conv3x"}]}, r"layers\[0\]\.type: unknown layer type 'conv3x'.*Valid types: .*linear"),
    ({"layers": [{"type": "linear", "in_feature": 3, "out_features": 2}]},
     r"layers\[0\] \(linear\): unknown key 'in_feature'\. Did you mean 'in_features'\? Valid keys: in_features"),
    ({"layers": [{"type": "linear", "in_features": 3}]}, (r"layers\[0\] \(linear\): missing required key\(s\) "
                                                         r"'out_features'")),
    ({"layers": [{"in_features": 3}]}, r"layers\[0\] needs a 'type' key"),
    ({"layers": []}, "non-empty list"),
    ({"layers": [{"type": "relu"}], "bar": 2}, r"unknown key 'bar'.*Valid keys: layers, init, description"),
    ({"layers": [{"type": "relu"}], "init": "nope"}, "unknown init scheme"),
    ({"foo": 1}, r"needs a 'model' key .*mlp.* or a 'layers' list"),
    ({**MLP, "layers": []}, "not both"),
    ("model = ", "invalid TOML"),
])
def test_bad_specs_name_the_key_and_list_the_choices(spec, match):
    with pytest.raises(SpecError, match=match):
        build_from_spec(spec, rng=0)


def test_a_spec_is_data_never_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for spec in ({"model": evil}, {"layers": [{"type": evil}]}, {**MLP, "activation": evil}):
        with pytest.raises(SpecError):
            build_from_spec(spec)
    with pytest.raises(SpecError, match="Valid types"):
        build_from_spec({"layers": [{"type": "Module"}]})  # not a layer
    with pytest.raises(SpecError, match="Valid types"):
        build_from_spec({"layers": [{"type": "MSELoss"}]})  # losses are not layers either
    with pytest.raises(TypeError, match="JSON data"):
        build_from_spec({**MLP, "hidden": [object()]})
    assert not marker.exists()


def test_missing_file_and_wrong_types():
    with pytest.raises(FileNotFoundError, match="no-such.toml"):
        load_spec("no-such.toml")
    with pytest.raises(TypeError, match="expected a dict"):
        load_spec(3)


def test_layer_types_cover_the_zoo_and_validate_spec_builds_nothing():
    types = layer_types()
    assert {"linear", "relu", "dropout", "flatten", "last_step", "batchnorm1d"} <= set(types)
    assert validate_spec(LAYERS)["layers"][1] == {"type": "leakyrelu", "negative_slope": 0.1}


def test_cnn_layer_list():
    spec = {"layers": [{"type": "conv2d", "in_channels": 1, "out_channels": 3, "kernel_size": [3, 3], "padding": 1},
                       {"type": "relu"}, {"type": "max_pool2d", "kernel_size": 2}, {"type": "flatten"},
                       {"type": "linear", "in_features": 3 * 3 * 2, "out_features": 4}], "init": "he"}
    m = build_from_spec(spec, rng=0)
    assert m(nb.randn(2, 1, 6, 4, rng=1)).shape == (2, 4)
    assert list(m.state_dict()) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    _same_architecture_and_weights(m, build_from_spec(json.loads(json.dumps(m.spec)), rng=0))


def test_rnn_layer_list_passes_on_the_output_and_keeps_the_last_step():
    spec = {"layers": [{"type": "embedding", "num_embeddings": 7, "embedding_dim": 5},
                       {"type": "lstm", "input_size": 5, "hidden_size": 6, "batch_first": True},
                       {"type": "last_step"}, {"type": "linear", "in_features": 6, "out_features": 2}]}
    m = build_from_spec(spec, rng=0)
    out = m(nb.tensor(np.array([[1, 2, 3], [4, 5, 6]])))
    assert out.shape == (2, 2)
    assert "1.weight_ih_l0" in m.state_dict()
    _same_architecture_and_weights(m, build_from_spec(m.spec, rng=0))


def test_registry_accepts_the_old_name_key_and_records_model():
    m = build_model({"name": "mlp", "in_features": 2, "out_features": 2}, rng=0)
    assert m.spec["model"] == "mlp" and "name" not in m.spec
    with pytest.raises(ValueError, match="exactly one 'model' entry"):
        build_model({"in_features": 2})


def test_build_model_rebuilds_a_layer_list_spec_too():
    m = build_from_spec(LAYERS, rng=0)
    _same_architecture_and_weights(m, build_model(m.spec, rng=0))
