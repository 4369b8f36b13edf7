"""What the page is sent: heatmaps, unit maps, per-layer diagnostics, images, findings in plain language."""

import base64
import json
import math

import numpy as np

from nnbasics.playground.config import normalize
from nnbasics.playground.datasets import make_data
from nnbasics.playground.findings import nan_finding, overfit_finding, start_loss_finding, symmetry_findings
from nnbasics.playground.trainer import Run
from nnbasics.playground.views import HEATMAP_RES, UNIT_RES, data_view, run_view


def run_of(**changes):
    cfg = normalize(changes)
    return Run(cfg, make_data(cfg))


def pixels(b64):
    return np.frombuffer(base64.b64decode(b64), np.uint8)


def test_run_view_is_json_and_has_every_part():
    run = run_of(dataset="spiral", layers=[{"units": 4, "activation": "tanh"}] * 2)
    run.train(20)
    view = run_view(run)
    json.dumps(view, allow_nan=False)
    assert view["step"] == 20 and view["history"]["step"][-1] == 20
    assert view["log_k"] == round(math.log(3), 4) or abs(view["log_k"] - math.log(3)) < 1e-4
    hm = view["heatmap"]
    cls, conf = pixels(hm["cls"]), pixels(hm["conf"])
    assert hm["res"] == HEATMAP_RES and cls.size == conf.size == HEATMAP_RES ** 2 and cls.max() <= 2
    # the heatmap is the network's prediction: the cell nearest a training point predicts what the net predicts there
    x0, x1, y0, y1 = run.data.domain
    p = run.data.X_train[0]
    col = round((p[0] - x0) / (x1 - x0) * (HEATMAP_RES - 1))
    row = round((y1 - p[1]) / (y1 - y0) * (HEATMAP_RES - 1))
    cell = np.array([[x0 + col * (x1 - x0) / (HEATMAP_RES - 1), y1 - row * (y1 - y0) / (HEATMAP_RES - 1)]], np.float32)
    assert cls[row * HEATMAP_RES + col] == run.predict(cell).argmax(1)[0]
    units = view["units"]
    assert units["res"] == UNIT_RES and [len(l) for l in units["layers"]] == [4, 4]
    u = units["layers"][0][0]
    assert (u["lo"], u["hi"]) == (-1.0, 1.0) and pixels(u["px"]).size == UNIT_RES ** 2


def test_layer_rows_join_each_block():
    run = run_of(layers=[{"units": 8, "activation": "relu", "dropout": 0.2}] * 2, batch_norm=True)
    run.train(3, monitor=__import__("nnbasics").diagnostics.SignalMonitor(run.models[0]).attach())
    rows = run_view(run)["layers"]
    assert [r["block"] for r in rows] == ["hidden 1", "hidden 2", "output"]
    assert [r["kind"] for r in rows] == ["relu", "relu", "linear"]
    assert rows[0]["modules"] == ["0 linear", "1 norm", "2 relu"]
    assert rows[-1]["grad_ratio"] == 1.0 and all(r["update_ratio"] > 0 for r in rows)
    assert sum(rows[0]["hist"]) == min(512, len(run.data.y_train)) * 8 and 0 <= rows[0]["dead"] <= 1


def test_big_nets_and_images_get_no_unit_maps():
    assert run_view(run_of(layers=[{"units": 17, "activation": "relu"}]))["units"] is None
    img = run_of(dataset="shapes", n=64, layers=[{"units": 16, "activation": "relu"}])
    view = run_view(img)
    assert view["heatmap"] is None and view["units"] is None
    cm = np.array(view["images"]["confusion"])
    assert cm.shape == (8, 8) and cm.sum() == len(img.data.y_test) and len(view["images"]["pred"]) == 32
    d = data_view(img.data)
    assert d["images"]["size"] == [16, 16] and pixels(d["images"]["pixels"]).size == 32 * 16 * 16


def test_findings_of_a_deep_sigmoid_net_name_the_hidden_layer():
    run = run_of(dataset="moons", layers=[{"units": 16, "activation": "sigmoid"}] * 10, init="xavier",
                 optimizer="momentum", lr=0.05)
    run.train(2, monitor=__import__("nnbasics").diagnostics.SignalMonitor(run.models[0]).attach())
    text = " ".join(run_view(run)["findings"])
    assert "layer 0 (linear, hidden 1) receives" in text and "vanishing" in text


def test_playground_findings():
    assert start_loss_finding(1.1, 3) is None
    assert "ln(3)" in start_loss_finding(9.0, 3)
    zeros = run_of(init="zeros", layers=[{"units": 4, "activation": "tanh"}])
    assert any("identical weights" in s and "hidden 1" in s for s in symmetry_findings(zeros))
    assert symmetry_findings(run_of(init="he")) == []
    assert "starting loss" in " ".join(run_view(run_of(init="normal", layers=[{"units": 64, "activation": "relu"}] * 3))
                                       ["findings"])
    steps = list(range(0, 200, 10))
    falling = [1.0 / (1 + s) for s in steps]
    h = {"step": steps, "loss": falling, "test_loss": [0.5 - s / 1000 if s < 80 else 0.42 + (s - 80) / 100
                                                       for s in steps]}
    assert "overfitting" in overfit_finding(h) and "from 0.44 (step 80)" in overfit_finding(h)
    h["test_loss"] = [0.5 - s / 1000 for s in steps]
    assert overfit_finding(h) is None
    text = nan_finding({"step": 4, "where": "loss", "op": "Linear", "phase": "forward", "layer": "'9' (Linear)",
                        "block": "hidden 4"})
    assert text.startswith("step 4: the first NaN/Inf appeared in the forward pass, op Linear") and "hidden 4" in text
