"""Presets that tell the lecture's story: one click sets up two runs side by side and a sentence of what to see.

Each preset is a pair of setups (run A on the left, run B on the right) that differ in the one
thing the lecture is about, from the same seed: same data, same batch order, and -- where
the shapes agree -- the same random draws under the weights.

Example:
    >>> sorted(PRESETS)[:2]
    ['deep-sigmoid', 'ensemble-vote']
    >>> PRESETS["xor-hidden"]["b"]["layers"]
    [{'units': 4, 'activation': 'tanh'}]
"""

from __future__ import annotations

import copy

__all__ = ["PRESETS", "preset"]

_DEEP = 10

PRESETS = {
    "xor-hidden": {
        "title": "XOR: one layer vs a hidden layer",
        "look_for": "The single layer (A) can only draw a straight line and stalls near 50-75% accuracy; one hidden "
                    "layer of four units (B) bends the boundary around the quadrants and separates them.",
        "a": {"dataset": "xor", "noise": 0.1, "n": 200, "layers": [], "init": "lecun", "optimizer": "adam",
              "lr": 0.03, "batch_size": 16, "speed": 5},
        "b": {"layers": [{"units": 4, "activation": "tanh"}]},
    },
    "deep-sigmoid": {
        "title": f"{_DEEP} layers: sigmoid vs ReLU",
        "look_for": "Watch the gradient bars: the first layers of the sigmoid net (A) get a tiny fraction of the "
                    "output layer's gradient (vanishing: sigmoid's slope is at most 1/4 per layer) and its loss "
                    "hardly moves; the ReLU net (B) passes the gradient down and learns the moons.",
        "a": {"dataset": "moons", "noise": 0.2, "n": 400, "optimizer": "momentum", "lr": 0.05, "momentum": 0.9,
              "batch_size": 32, "init": "xavier", "speed": 5,
              "layers": [{"units": 16, "activation": "sigmoid"}] * _DEEP},
        "b": {"init": "he", "layers": [{"units": 16, "activation": "relu"}] * _DEEP},
    },
    "init-deep-relu": {
        "title": "N(0, 1) vs He on a deep ReLU net",
        "look_for": "With N(0, 1) weights (A) every layer multiplies the signal's spread by about sqrt(fan_in/2): the "
                    "histograms pile up at their edges, the starting loss is far above ln(k), and SGD blows up "
                    "(see where the first NaN/Inf appeared). He's N(0, 2/fan_in) (B) keeps every layer's spread "
                    "steady, starts near ln(k) and trains. The draws are the same; only the scale differs.",
        "a": {"dataset": "spiral", "noise": 0.2, "n": 400, "optimizer": "momentum", "lr": 0.02, "momentum": 0.9,
              "batch_size": 32, "init": "normal", "speed": 5,
              "layers": [{"units": 32, "activation": "relu"}] * 8},
        "b": {"init": "he"},
    },
    "overfit-dropout": {
        "title": "Overfitting a small set, then dropout",
        "look_for": "With 40 training points and three wide layers (A) the training loss falls towards 0 while the "
                    "test loss turns up: it memorizes the noise. Dropout 0.5 (B) keeps the boundary smoother and "
                    "the test loss lower; compare the train/test gaps.",
        "a": {"dataset": "moons", "noise": 0.35, "n": 80, "test_fraction": 0.5, "optimizer": "adam", "lr": 0.01,
              "batch_size": 8, "init": "he", "speed": 10,
              "layers": [{"units": 64, "activation": "relu", "dropout": 0.0}] * 3},
        "b": {"layers": [{"units": 64, "activation": "relu", "dropout": 0.5}] * 3},
    },
    "ensemble-vote": {
        "title": "An ensemble's vote",
        "look_for": "One network (A) draws a boundary shaped by its seed and its batches; seven networks voting (B, "
                    "member 0 is A's network) smooth out each other's mistakes: the vote's boundary is calmer and its "
                    "test accuracy usually at least as good (try other seeds). The member accuracies show how much "
                    "the members disagree.",
        "a": {"dataset": "circles", "noise": 0.4, "n": 300, "optimizer": "adam", "lr": 0.03, "batch_size": 16,
              "init": "he", "speed": 5, "members": 1,
              "layers": [{"units": 8, "activation": "relu"}, {"units": 8, "activation": "relu"}]},
        "b": {"members": 7},
    },
}


def preset(name: str) -> dict:
    """A copy of preset ``name``: ``title``, ``look_for``, ``a`` (setup changes) and ``b`` (changes to A's).

    Raises:
        ValueError: an unknown name (the message lists the presets).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return copy.deepcopy(PRESETS[name])
