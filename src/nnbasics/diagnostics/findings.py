"""Plain-language findings: one sentence per problem, naming the layer, the measurement and a remedy.

Thresholds (module constants, used by :meth:`SignalMonitor.findings` and :meth:`InitReport.findings`):

* vanishing gradient: a layer's weight-gradient norm < ``VANISHING`` (1e-3) x the output layer's;
* exploding gradient: > ``EXPLODING`` (1e3) x the output layer's;
* saturation: more than ``SATURATED`` (50%) of a sigmoid/tanh layer's outputs in the flat tails;
* dead ReLUs: more than ``DEAD`` (50%) of a ReLU layer's units output 0 for the whole batch;
* update ratio ||dW|| / ||W|| outside [``UPDATE_LOW``, ``UPDATE_HIGH``] = [1e-5, 1e-1]
  (CS231n's rule of thumb: about 1e-3).

Example:
    >>> gradient_finding("1", "linear", 1e-6)
    "layer 1 (linear) receives 1e-06 of the output layer's gradient: vanishing — try ReLU or He initialization"
"""

from __future__ import annotations

import math

__all__ = [
    "DEAD",
    "EXPLODING",
    "SATURATED",
    "UPDATE_HIGH",
    "UPDATE_LOW",
    "VANISHING",
    "dead_finding",
    "fmt",
    "gradient_finding",
    "layer_findings",
    "saturation_finding",
    "update_finding",
]

VANISHING = 1e-3
EXPLODING = 1e3
SATURATED = 0.5
DEAD = 0.5
UPDATE_LOW = 1e-5
UPDATE_HIGH = 1e-1


def fmt(x: float) -> str:
    """Short number: ``1e-06``, ``0.031``, ``250``."""
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-2 or abs(x) >= 1e4):
        return f"{x:.0e}"
    return f"{x:.3g}"


def gradient_finding(name: str, kind: str, ratio: float):
    """Sentence for a vanishing/exploding gradient ratio, or None when it is within [1e-3, 1e3]."""
    if not math.isfinite(ratio):
        if math.isinf(ratio):
            return (f"layer {name} ({kind}) has a gradient while the output layer's is 0: "
                    "check the output layer's initialization (zeros?) and the loss")
        return None
    if ratio < VANISHING:
        return (f"layer {name} ({kind}) receives {fmt(ratio)} of the output layer's gradient: vanishing "
                "— try ReLU or He initialization")
    if ratio > EXPLODING:
        return (f"layer {name} ({kind}) receives {fmt(ratio)}x the output layer's gradient: exploding "
                "— use a smaller initialization (LeCun/Xavier/He), gradient clipping or a lower learning rate")
    return None


def saturation_finding(name: str, kind: str, fraction: float):
    if math.isfinite(fraction) and fraction > SATURATED:
        return (f"layer {name} ({kind}) is saturated: {fraction:.0%} of its outputs sit in the flat tails, "
                "where the derivative is ~0 — use a smaller initialization (LeCun/Xavier), normalize the "
                "inputs, or switch to ReLU")
    return None


def dead_finding(name: str, kind: str, fraction: float):
    if math.isfinite(fraction) and fraction > DEAD:
        return (f"layer {name} ({kind}) has {fraction:.0%} dead units (0 for every sample): they get no "
                "gradient — check for zero initialization or a too-high learning rate; try He "
                "initialization, leaky ReLU or a lower learning rate")
    return None


def update_finding(name: str, kind: str, ratio: float):
    if not math.isfinite(ratio):
        return None
    if ratio < UPDATE_LOW:
        return (f"layer {name} ({kind}) changes its weights by {fmt(ratio)} of their size per step (rule of "
                "thumb ~1e-3): learning too slowly — raise the learning rate")
    if ratio > UPDATE_HIGH:
        return (f"layer {name} ({kind}) changes its weights by {fmt(ratio)} of their size per step (rule of "
                "thumb ~1e-3): too fast, training may diverge — lower the learning rate")
    return None


def layer_findings(stats) -> list:
    """All findings for a list of :class:`LayerStats` (one step), in layer order."""
    out = []
    for s in stats:
        for f in (gradient_finding(s.name, s.kind, s.grad_ratio), saturation_finding(s.name, s.kind, s.saturation),
                  dead_finding(s.name, s.kind, s.dead_fraction), update_finding(s.name, s.kind, s.update_ratio)):
            if f:
                out.append(f)
    return out
