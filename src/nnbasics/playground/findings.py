"""The playground's own findings, beside :mod:`nnbasics.diagnostics.findings`: one measured sentence each.

* starting loss against ln(k): a k-class classifier that is unsure at initialization starts at
  a cross-entropy of ln(k) (CS231n's first sanity check); more than :data:`START_FACTOR` times
  that means the initial weights are too large;
* symmetry: the units of a hidden layer have identical weights (zero initialization), so they
  compute the same function and get the same gradient -- they stay identical forever;
* overfitting: the test loss (a moving average of :data:`SMOOTH` points) has risen more than
  :data:`OVERFIT_RISE` (and 0.05) above its minimum while the training loss fell by more than 10%;
* the first NaN/Inf: the op, the layer and the step.

Example:
    >>> start_loss_finding(7.3, 3)[:40]
    'the starting loss is 7.3, far above ln(3'
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OVERFIT_RISE", "SMOOTH", "START_FACTOR", "extra_findings", "nan_finding", "overfit_finding", "start_loss_finding",
           "symmetry_findings"]

START_FACTOR = 1.5
OVERFIT_RISE = 0.2
#: Points of the moving average the overfitting test looks at (the history is noisy step to step).
SMOOTH = 5


def start_loss_finding(loss, k):
    """A sentence when the cross-entropy at step 0 is far above ln(k), else None."""
    if loss is None or not math.isfinite(loss) or k < 2:
        return None
    expect = math.log(k)
    if loss > START_FACTOR * expect + 0.05:
        return (f"the starting loss is {loss:.3g}, far above ln({k}) = {expect:.3g}, the loss of a network that is "
                "unsure before training: the initial weights are so large that it makes confident wrong "
                "predictions — try LeCun (the lecture's 'Xavier') or He initialization")
    return None


def symmetry_findings(run) -> list:
    """One sentence per hidden Linear whose units all have the same weights and bias."""
    out = []
    for name, m in run.models[0].named_modules():
        if type(m).__name__ != "Linear" or run.blocks.get(name, "output") in ("output", "input"):
            continue
        w = m.weight.detach().numpy()
        b = m.bias.detach().numpy() if m.bias is not None else np.zeros(len(w))
        if len(w) >= 2 and np.all(w == w[:1]) and np.all(b == b[0]):
            out.append(f"layer {name} (linear, {run.blocks[name]}): its {len(w)} units have identical weights, so "
                       "they compute the same thing and get the same gradient — the symmetry is never broken "
                       "(zero initialization?); use a random initialization")
    return out


def _smooth(values, k=SMOOTH):
    """Moving average over ``k`` points (fewer at the start); None where a window holds a non-finite value."""
    out = []
    for i in range(len(values)):
        w = values[max(0, i - k + 1):i + 1]
        out.append(None if any(v is None or not math.isfinite(v) for v in w) else sum(w) / len(w))
    return out


def overfit_finding(history):
    """A sentence when the (smoothed) test loss rose above its minimum while the training loss fell, else None."""
    test, train, steps = _smooth(history["test_loss"]), _smooth(history["loss"]), history["step"]
    finite = [(i, v) for i, v in enumerate(test) if v is not None and i >= SMOOTH - 1]
    if len(finite) < 2 * SMOOTH:
        return None
    i_min, best = min(finite, key=lambda t: t[1])
    last_i, last = finite[-1]
    rising = last > best * (1 + OVERFIT_RISE) + 0.05
    train_falling = train[last_i] is not None and train[i_min] is not None and train[last_i] < 0.9 * train[i_min]
    if rising and train_falling and last_i > i_min:
        return (f"overfitting: the test loss (averaged over {SMOOTH} points) rose from {best:.3g} (step "
                f"{steps[i_min]}) to {last:.3g} while the training loss fell from {train[i_min]:.3g} to "
                f"{train[last_i]:.3g} — the network memorizes the "
                "training points; try dropout, L2, a smaller network or more data")
    return None


def nan_finding(nan):
    """The sentence for the run's first non-finite value, or None."""
    if not nan:
        return None
    where = {"loss": "the forward pass", "gradient": "the backward pass", "update": "the optimizer's update"}
    block = f" ({nan['block']})" if nan.get("block") else ""
    return (f"step {nan['step']}: the first NaN/Inf appeared in {where.get(nan['where'], nan['where'])}, op "
            f"{nan['op']} ({nan['phase']}) in {nan['layer']}{block}; training stopped — lower the learning "
            "rate or use a smaller initialization, then reset")


def extra_findings(run) -> list:
    """The playground's findings for a run (the NaN sentence apart: :func:`nan_finding`)."""
    out = []
    if run.data.task == "classification" and run.cfg["loss"] == "cross_entropy" and run.ensemble is None:
        out.append(start_loss_finding(run.start_loss, run.data.n_classes))
    out += symmetry_findings(run)
    out.append(overfit_finding(run.history))
    return [s for s in out if s]
