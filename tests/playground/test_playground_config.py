"""Playground setups: validation with messages that say what to change, and what a change needs."""

import pytest

from nnbasics.playground.config import DEFAULTS, ConfigError, change_kind, normalize, options


def test_defaults_fill_every_key_and_the_input_is_not_mutated():
    given = {"dataset": "XOR", "layers": [{"units": 4}], "init": "He", "optimizer": "adam"}
    cfg = normalize(given)
    assert set(cfg) == set(DEFAULTS)
    assert cfg["dataset"] == "xor" and cfg["init"] == "he"
    assert cfg["layers"] == [{"units": 4, "activation": "relu", "dropout": 0.0}]
    assert given["layers"] == [{"units": 4}]  # normalize copies
    assert normalize({"layers": [3, 5]})["layers"][1] == {"units": 5, "activation": "relu", "dropout": 0.0}


def test_partial_change_keeps_the_base():
    base = normalize({"dataset": "moons", "lr": 0.1})
    cfg = normalize({"seed": 4}, base=base)
    assert (cfg["dataset"], cfg["lr"], cfg["seed"]) == ("moons", 0.1, 4)
    assert base["seed"] == 0


@pytest.mark.parametrize("bad, words", [
    ({"dataset": "mnist-2"}, ["dataset", "xor", "fashion-mnist"]),
    ({"lr": 0}, ["lr", "1e-06"]),
    ({"lr": float("nan")}, ["lr"]),
    ({"lr": "0.1"}, ["lr", "number"]),
    ({"batch_size": 2.5}, ["batch_size", "whole number"]),
    ({"seed": True}, ["seed"]),
    ({"layers": [{"units": 0}]}, ["layers[0]", "units"]),
    ({"layers": [{"units": 4, "activation": "swishy"}]}, ["layers[0]", "activation", "tanh"]),
    ({"layers": [{"units": 4, "dropout": 1.0}]}, ["layers[0]", "dropout", "0.95"]),
    ({"layers": [{"units": 4, "size": 3}]}, ["layers[0]", "size"]),
    ({"layers": [{"units": 4}] * 33}, ["layers", "32"]),
    ({"layers": "8,8"}, ["layers", "list"]),
    ({"batch_norm": "yes"}, ["batch_norm", "true or false"]),
    ({"batch_norm": True, "batch_size": 1}, ["batch norm", "batch size"]),
    ({"learning_rate": 0.1}, ["unknown setting", "'learning_rate'", "lr"]),
])
def test_bad_values_name_the_setting_and_the_valid_range(bad, words):
    with pytest.raises(ConfigError) as e:
        normalize(bad)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_not_a_dict_is_refused():
    with pytest.raises(ConfigError, match="JSON object"):
        normalize(["lr", 0.1])


@pytest.mark.parametrize("change, kind", [
    ({"lr": 0.1}, "live"), ({"optimizer": "sgd"}, "live"), ({"batch_size": 4}, "live"), ({"l2": 0.01}, "live"),
    ({"schedule": "cosine"}, "live"), ({"loss": "mse"}, "live"), ({"speed": 50}, "live"),
    ({"layers": [{"units": 8, "activation": "tanh", "dropout": 0.3}] * 2}, "live"),
    ({"layers": [{"units": 8, "activation": "relu"}] * 2}, "reset"),
    ({"layers": [{"units": 9, "activation": "tanh"}] * 2}, "reset"),
    ({"layers": [{"units": 8, "activation": "tanh"}]}, "reset"),
    ({"init": "he"}, "reset"), ({"seed": 1}, "reset"), ({"batch_norm": True}, "reset"), ({"members": 3}, "reset"),
    ({"noise": 0.3}, "data"), ({"dataset": "xor"}, "data"), ({"data_seed": 2}, "data"), ({"n": 100}, "data"),
    ({"test_fraction": 0.3}, "data"), ({}, None),
])
def test_change_kind(change, kind):
    old = normalize({})
    assert change_kind(old, normalize(change, base=old)) == kind


def test_options_list_the_lectures_inits_and_every_choice():
    o = options()
    assert {"zeros", "normal", "small", "lecun", "xavier", "he", "orthogonal"} <= set(o["inits"])
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "gelu", "linear"} <= set(o["activations"])
    assert o["defaults"] == DEFAULTS and o["defaults"] is not DEFAULTS
