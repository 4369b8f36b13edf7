"""What the page shows, computed from a :class:`~nnbasics.playground.trainer.Run`: JSON-ready dicts.

* :func:`data_view` (once per dataset): the points or the test images, class names, the note.
* :func:`run_view` (every frame): step, history, decision-boundary heatmap, each hidden unit's
  map (small 2-D nets), per-layer diagnostics from :class:`nnbasics.diagnostics.SignalMonitor`,
  the image grid's predictions and the confusion matrix, and the findings in plain language.

Arrays of pixels travel as base64 of uint8 (a 64x64 heatmap is 5 KB of JSON); numbers are
rounded to 5 significant digits; NaN and Inf become null.
"""

from __future__ import annotations

import base64
import copy
import math

import numpy as np

from ..autograd import no_grad
from ..diagnostics import SignalMonitor
from ..diagnostics.findings import layer_findings
from .findings import extra_findings, nan_finding

__all__ = ["HEATMAP_RES", "UNIT_RES", "data_view", "grid_indices", "run_view", "small_net"]

HEATMAP_RES = 64
UNIT_RES = 24
GRID_IMAGES = 32
PROBE = 512
#: Unit maps are drawn for nets with at most this many hidden layers / units per layer.
SMALL_LAYERS, SMALL_UNITS = 8, 16


def num(x):
    """A float for JSON: 5 significant digits, None for NaN/Inf."""
    if x is None:
        return None
    x = float(x)
    return float(f"{x:.5g}") if math.isfinite(x) else None


def b64(a) -> str:
    return base64.b64encode(np.ascontiguousarray(a, np.uint8).tobytes()).decode("ascii")


def grid_indices(n: int, k: int = GRID_IMAGES) -> np.ndarray:
    """``k`` test images spread over the set (class-major sets show every class)."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(np.int64))


def data_view(data) -> dict:
    """The dataset as the page draws it (points or images), sent when the data change."""
    out = {"name": data.name, "kind": data.kind, "task": data.task, "n_classes": data.n_classes,
           "class_names": data.class_names, "feature_names": data.feature_names, "note": data.note,
           "n_train": len(data.y_train), "n_test": len(data.y_test), "domain": data.domain}
    if data.kind == "2d":
        def pts(X, y):
            v = y[:, 0] if y.ndim == 2 else y
            return {"x": np.round(X[:, 0], 4).tolist(), "y": np.round(X[:, 1], 4).tolist(),
                    "label": [num(t) for t in v.tolist()]}
        out["train"], out["test"] = pts(data.X_train, data.y_train), pts(data.X_test, data.y_test)
        if data.task == "regression":
            out["range"] = [num(data.y_train.min()), num(data.y_train.max())]
    elif data.kind == "image":
        idx = grid_indices(len(data.y_test))
        imgs = data.X_test[idx]
        out["images"] = {"size": list(imgs.shape[-2:]), "pixels": b64(np.clip(imgs[:, 0] * 255, 0, 255)),
                         "labels": data.y_test[idx].tolist()}
    return out


def small_net(run) -> bool:
    sizes = [layer["units"] for layer in run.cfg["layers"]]
    return run.data.kind == "2d" and 0 < len(sizes) <= SMALL_LAYERS and max(sizes) <= SMALL_UNITS


def _grid(domain, res):
    x0, x1, y0, y1 = domain
    xs, ys = np.linspace(x0, x1, res), np.linspace(y1, y0, res)  # rows from the top
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)


def _probabilities(run, out):
    if run.ensemble is not None:
        return out  # vote fractions
    if run.cfg["loss"] == "mse":
        return np.clip(out, 0.0, 1.0)
    z = out - out.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def heatmap(run, res=HEATMAP_RES):
    """The prediction over the data's square: class and confidence per cell (or the value, for regression)."""
    data = run.data
    if data.kind != "2d":
        return None
    out = run.predict(_grid(data.domain, res))
    if data.task == "regression":
        lo, hi = float(data.y_train.min()), float(data.y_train.max())
        v = np.clip((out[:, 0] - lo) / max(hi - lo, 1e-12), 0, 1)
        return {"res": res, "value": b64(np.nan_to_num(v) * 255)}
    p = np.nan_to_num(_probabilities(run, out))
    return {"res": res, "cls": b64(p.argmax(1)), "conf": b64(np.clip(p.max(1), 0, 1) * 255)}


def unit_maps(run, res=UNIT_RES):
    """Each hidden unit's output over the square (member 0), for small 2-D nets: per layer, per unit."""
    if not small_net(run):
        return None
    model = run.models[0]
    outs, handles = [], []
    for m in model.modules():
        if type(m).__name__ == "Dropout":  # the end of each hidden block: the block's output
            handles.append(m.register_forward_hook(lambda mod, args, o: outs.append(o.detach().numpy())))
    model.eval()
    try:
        with no_grad(), np.errstate(all="ignore"):
            model(_grid(run.data.domain, res))
    finally:
        model.train()
        for h in handles:
            h.remove()
    layers = []
    for layer, a in zip(run.cfg["layers"], outs):
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1e30, neginf=-1e30)
        units = []
        for j in range(a.shape[1]):
            v = a[:, j]
            lo, hi = _unit_range(layer["activation"], v)
            units.append({"lo": num(lo), "hi": num(hi), "px": b64(np.clip((v - lo) / (hi - lo), 0, 1) * 255)})
        layers.append(units)
    return {"res": res, "layers": layers}


def _unit_range(activation, v):
    if activation in ("sigmoid", "hardsigmoid", "step"):
        return 0.0, 1.0
    if activation in ("tanh", "softsign", "hardtanh"):
        return -1.0, 1.0
    m = max(float(np.abs(v).max()), 1e-6)
    return (0.0, m) if activation in ("relu", "relu6") else (-m, m)


def _probe_stats(run):
    """SignalMonitor statistics of member 0 on up to PROBE training samples, in eval mode (no update)."""
    model = run.models[0]
    X = run.data.X_train[:PROBE]
    mon = SignalMonitor(model)
    model.eval()
    try:
        with mon, no_grad(), np.errstate(all="ignore"):
            model(X)
            mon.after_step()
    finally:
        model.train()
    return mon.stats(-1)


def _row(s):
    return {"name": s.name, "kind": s.kind, "mean": num(s.act_mean), "std": num(s.act_std),
            "saturation": num(s.saturation), "dead": num(s.dead_fraction), "hist": s.hist.tolist(),
            "range": [num(s.edges[0]), num(s.edges[-1])], "nonfinite": int(s.nonfinite)}


def diagnostics(run):
    """One row per hidden layer (and the output layer), with the library's LayerStats behind them.

    A row joins a block's modules: its Linear's gradient norm, gradient ratio (to the output
    layer's) and update ratio from the last diagnosed training step, and the activation statistics
    (histogram, mean, std, saturation, dead units) of the block's last watched module -- the
    activation, or the Linear itself where there is none -- from a probe pass over up to 512
    training points in eval mode.

    Returns:
        (rows, merged): the rows (JSON data) and the merged LayerStats (for the findings).
    """
    probe = _probe_stats(run)
    step = {s.name: s for s in (run.last_step_stats or [])}
    merged, rows, by_block = [], [], {}
    for p in probe:
        s = copy.copy(p)
        if s.name in step:
            t = step[s.name]
            s.grad_norm, s.grad_ratio, s.update_ratio = t.grad_norm, t.grad_ratio, t.update_ratio
        merged.append(s)
        block = run.blocks.get(s.name, s.name)
        row = by_block.get(block)
        if row is None:
            row = by_block[block] = {"block": block, "modules": [], "grad_norm": None, "grad_ratio": None,
                                     "update_ratio": None}
            rows.append(row)
        row["modules"].append(f"{s.name} {s.kind}")
        if s.kind == "linear":
            row.update(grad_norm=num(s.grad_norm), grad_ratio=num(s.grad_ratio), update_ratio=num(s.update_ratio))
        if s.kind != "norm":
            row.update(_row(s))  # the block's last module wins: its activation
    return rows, merged


def _labelled(run, sentences, merged):
    """The library's sentences with each layer's hidden-layer number added: 'layer 3 (tanh, hidden 2)'."""
    out = []
    for text in sentences:
        for s in merged:
            head = f"layer {s.name} ({s.kind})"
            if text.startswith(head + " ") and run.blocks.get(s.name):
                text = f"layer {s.name} ({s.kind}, {run.blocks[s.name]})" + text[len(head):]
                break
        out.append(text)
    return out


def image_view(run):
    """Predictions on the image grid and the test confusion matrix (rows: true class, columns: predicted)."""
    data = run.data
    if data.kind != "image" and not (data.task == "classification" and data.kind == "table"):
        return None
    pred = run.predict(data.X_test).argmax(1)
    k = data.n_classes
    cm = np.bincount(data.y_test * k + pred, minlength=k * k).reshape(k, k)
    out = {"confusion": cm.tolist()}
    if data.kind == "image":
        out["pred"] = pred[grid_indices(len(data.y_test))].tolist()
    return out


def run_view(run, with_maps: bool = True) -> dict:
    """Everything the page shows about one run, as JSON data."""
    h = run.history
    rows, merged = diagnostics(run)
    findings = _labelled(run, layer_findings(merged), merged) + extra_findings(run)
    nan_text = nan_finding(run.nan)
    k = run.data.n_classes
    view = {
        "step": run.step, "epoch": num(run.epoch), "every": run.every,
        "history": {key: [num(v) for v in vals] if key != "step" else list(vals) for key, vals in h.items()},
        "start_loss": num(run.start_loss), "log_k": num(math.log(k)) if run.data.task == "classification" else None,
        "nan": run.nan, "nan_text": nan_text, "layers": rows, "findings": findings, "images": image_view(run),
        "member_metrics": [num(m) for m in run.member_metrics] if run.member_metrics else None,
        "spec": run.spec,
    }
    if with_maps:
        view["heatmap"] = heatmap(run)
        view["units"] = unit_maps(run)
    return view
