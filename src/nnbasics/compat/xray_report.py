"""The report of ``nnbasics run --xray``: a :class:`nnbasics.lab.Report` built from the monitors of an XRay.

Per watched model: a table of every layer at the first and the last recorded step (activation
mean and std, saturation, dead units, gradient norm relative to the output layer's, update-to-
weight ratio), figures of the gradient ratio, the update ratio, saturation / dead fraction and
the activation spread over training, and the plain-language findings of
:mod:`nnbasics.diagnostics.findings`. Then the script's printed output (its last lines; all of
it in ``output.txt``) and how it ended.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ..lab.report import Report

__all__ = ["CLAIM", "build_report"]

CLAIM = ("The signal flows healthily through every model this script trains: no layer's gradient vanishes or "
         "explodes relative to the output layer's, no sigmoid/tanh layer is saturated, no ReLU layer is mostly "
         "dead, and each step changes the weights by about 1e-3 of their size.")
_OUTPUT_LINES = 80


def _f(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def _ordinal(n: int) -> str:
    """2 -> '2nd', 3 -> '3rd', 4 -> '4th', 11 -> '11th', 22 -> '22nd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _layer_rows(mon, step):
    rows = []
    for s in mon.stats(step):
        rows.append([s.name, s.kind, _f(s.act_mean), _f(s.act_std), _f(s.saturation), _f(s.dead_fraction),
                     _f(s.grad_ratio), _f(s.update_ratio)])
    return rows


_HEADERS = ["layer", "kind", "act mean", "act std", "saturated", "dead", "grad / output layer's", "update / weight"]


def _series(mon, field, layers):
    """``{"name (kind)": (steps, values)}`` for the layers with at least one finite value of ``field``."""
    steps = np.asarray(mon.steps)
    out = {}
    for name in layers:
        y = mon.series(field, name)
        if np.isfinite(y).any():
            out[f"{name} ({mon.kind(name)})"] = (steps, y)
    return out


def _plot(report, key, title, ylabel, series, *, log=False, ref=None, caption=""):
    if not series:
        return
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, (x, y) in series.items():
        y = np.where(np.isfinite(y) & ((y > 0) if log else True), y, np.nan)
        ax.plot(x, y, label=name, lw=1.4)
    if log:
        ax.set_yscale("log")
    if ref is not None:
        ax.axhline(ref, color="0.5", ls="--", lw=1)
    ax.set_xlabel("training step (optimizer.step calls)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) <= 12:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    report.figure(fig, key, caption)


def _model_section(report, xray, idx, model, mon):
    name = xray.model_name(model)
    n_params = sum(int(np.prod(p.shape)) for p in model.parameters())
    report.section(f"Model `{name}` ({type(model).__name__}, {n_params:,} parameters)")
    if not mon.steps:
        report.text("No training step was recorded for this model (its optimizer never stepped).")
        return {"class": type(model).__name__, "parameters": n_params, "recorded_steps": 0}, []
    which = "every step" if mon.every == 1 else f"every {_ordinal(mon.every)} step, to keep the record bounded"
    report.text(f"{len(mon.steps)} of {mon.step} training steps recorded ({which}); layers in the order the model "
                "called them.")
    first, last = 0, -1
    report.table(_HEADERS, _layer_rows(mon, first), caption=f"At the first recorded step ({mon.steps[first]}).")
    report.table(_HEADERS, _layer_rows(mon, last), caption=f"At the last recorded step ({mon.steps[last]}).")
    layers = mon.layers
    param_layers = [n for n in layers if np.isfinite(mon.series("grad_norm", n)).any()]
    key = f"m{idx}"
    _plot(report, f"{key}-grad-ratio", f"{name}: gradient flow", "||dL/dW|| / output layer's",
          _series(mon, "grad_ratio", param_layers), log=True, ref=1e-3,
          caption="Each layer's weight-gradient norm relative to the output layer's; below the dashed 1e-3 "
                  "line the gradient vanishes before it reaches the layer.")
    _plot(report, f"{key}-update-ratio", f"{name}: update / weight", "||W_new - W_old|| / ||W_old||",
          _series(mon, "update_ratio", param_layers), log=True, ref=1e-3,
          caption="How much each step changes a layer's weights relative to their size (rule of thumb: about "
                  "1e-3, the dashed line).")
    sat = {**{f"{n} saturated": v for n, v in _series(mon, "saturation", layers).items()},
           **{f"{n} dead": v for n, v in _series(mon, "dead_fraction", layers).items()}}
    _plot(report, f"{key}-saturation", f"{name}: saturated and dead units", "fraction", sat,
          caption="Sigmoid/tanh layers: fraction of outputs in the flat tails; ReLU layers: fraction of units "
                  "that output 0 for the whole step.")
    _plot(report, f"{key}-act-std", f"{name}: activation spread", "std of the layer's output",
          _series(mon, "act_std", layers), log=True,
          caption="The standard deviation of each layer's output: shrinking layer by layer means a vanishing "
                  "signal, growing means exploding.")
    found = [f"`{name}` at the start of training (step {mon.steps[first]}): {t}" for t in mon.findings(first)]
    if len(mon.steps) > 1:
        found += [f"`{name}` at the end of training (step {mon.steps[last]}): {t}" for t in mon.findings(last)]
    per_layer = {}
    for s0, s1 in zip(mon.stats(first), mon.stats(last)):
        per_layer[s1.name] = {"kind": s1.kind, "grad_ratio_first": _f(s0.grad_ratio), "grad_ratio_last": _f(s1.grad_ratio),
                              "update_ratio_last": _f(s1.update_ratio), "saturation_last": _f(s1.saturation),
                              "dead_fraction_last": _f(s1.dead_fraction), "act_std_last": _f(s1.act_std)}
    return {"class": type(model).__name__, "parameters": n_params, "recorded_steps": len(mon.steps),
            "every": mon.every, "layers": per_layer}, found


def _output_section(report, text, status, error):
    report.section("What the script printed")
    lines = text.splitlines()
    shown = lines[-_OUTPUT_LINES:]
    start = len(lines) - len(shown) + 1
    if not lines:
        report.text("The script printed nothing.")
    else:
        note = f" (the last {len(shown)} of {len(lines)} lines; all of them in `output.txt`)" \
            if len(lines) > len(shown) else ""
        report.table(["line", "output"], [[start + i, ln] for i, ln in enumerate(shown)],
                     caption=f"Standard output{note}.")
    ended = "to the end" if status == 0 else f"with exit status {status}" + (f": {error}" if error else "")
    report.text(f"The script ran {ended}.")


def build_report(xray, status: int, error, output_text: str, wall_s: float) -> Report:
    """The :class:`Report` of one X-rayed run (see the module docstring)."""
    script = xray.script
    report = Report("xray", f"X-ray of {script}", CLAIM)
    report.data_note = (f"`{script}` run with `nnbasics run --xray`; a model is watched when an optimizer is given "
                        "its parameters, and each `optimizer.step()` is one training step.")
    models, findings = {}, []
    for idx, (model, mon) in enumerate(xray.monitors):
        info, found = _model_section(report, xray, idx, model, mon)
        key = xray.model_name(model)
        models[key if key not in models else f"{key}_{idx}"] = info
        findings += found
    if not xray.monitors:
        report.section("No model watched")
        report.text("The script built no optimizer over a Module's parameters, so there was nothing to X-ray. "
                    "X-ray watches models trained with torch.optim (SGD, Adam...).")
    for f in findings:
        report.finding(f)
    _output_section(report, output_text, status, error)
    report.metric("exit_status", int(status))
    report.metric("training_steps", int(xray.steps))
    report.metric("models", models)
    report.metric("findings", len(findings))
    recorded = any(m.steps for _, m in xray.monitors)
    if not recorded:
        report.conclude(None, "no training step of a watched model was recorded")
    elif findings:
        report.conclude(False, f"{len(findings)} problem(s) at the first or last recorded step; see the findings")
    else:
        report.conclude(True, "every watched layer was within the healthy ranges at the first and the last "
                              "recorded step")
    report.timings = {"wall_s": round(wall_s, 2)}
    report.config = {"script": script, "args": list(sys.argv[1:]),
                     "command": "nnbasics run --xray " + " ".join([script, *sys.argv[1:]])}
    return report
