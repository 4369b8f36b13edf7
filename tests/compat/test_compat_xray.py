"""nnbasics run --xray: monitors on the models a script trains, a lab-style report at the end, on errors and Ctrl-C."""

import json

import pytest

pytest.importorskip("matplotlib")

from nnbasics.compat.xray import XRay

DEEP_SIGMOID = """
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    X = torch.randn(128, 16)
    y = (X[:, 0] > 0).long()
    layers = []
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model(X)  # an evaluation forward: not recorded
        print("step", step, "loss", round(loss.item(), 4))
        AFTER
"""


def _xray(script, run, tmp_path, steps=6, after="pass", **kw):
    path = script(DEEP_SIGMOID.replace("STEPS", str(steps)).replace("AFTER", after))
    xr = XRay(str(path), output=tmp_path / "report", **kw)
    status, out, err = run(path, xray=xr)
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    return status, out, err, metrics, xr


def test_deep_sigmoid_net_gets_a_vanishing_gradient_finding(script, run, tmp_path):
    status, _out, err, m, xr = _xray(script, run, tmp_path)
    assert status == 0, err
    assert any("vanishing" in f and "layer 0 (linear)" in f for f in m["findings"])
    assert m["verdict"] == "not supported"
    model = m["metrics"]["models"]["model"]
    assert model["recorded_steps"] == 6 and m["metrics"]["training_steps"] == 6
    assert model["layers"]["0"]["grad_ratio_first"] < 1e-3 < model["layers"]["16"]["grad_ratio_first"] + 1
    html = (tmp_path / "report" / "report.html").read_text()
    assert "vanishing" in html and "step 5 loss" in html
    assert (tmp_path / "report" / "output.txt").read_text().count("step ") == 6
    assert {p.name for p in (tmp_path / "report" / "figures").iterdir()} >= {"m0-grad-ratio.png", "m0-update-ratio.png"}
    assert "report written to" in err
    mon = xr.monitors[0][1]
    sig = mon.series("count", "1")  # the first Sigmoid: 128 x 16 outputs per step, evaluation forward skipped
    assert sig.tolist() == [128 * 16] * 6


def test_ctrl_c_still_writes_the_report(script, run, tmp_path):
    status, _out, _err, m, _ = _xray(script, run, tmp_path, steps=50,
                                   after="if step == 2: raise KeyboardInterrupt")
    assert status == 130
    assert m["metrics"]["exit_status"] == 130 and m["metrics"]["training_steps"] == 3
    assert "interrupted" in (tmp_path / "report" / "report.md").read_text()


def test_script_error_still_writes_the_report(script, run, tmp_path):
    status, _out, err, m, _ = _xray(script, run, tmp_path, steps=50, after="if step == 1: undefined_name")
    assert status == 1 and "NameError" in err
    assert m["metrics"]["training_steps"] == 2 and m["metrics"]["exit_status"] == 1


def test_records_are_thinned_to_a_bound(script, run, tmp_path):
    status, _, err, _m, xr = _xray(script, run, tmp_path, steps=40, max_records=8)
    assert status == 0, err
    mon = xr.monitors[0][1]
    assert len(mon.steps) <= 8 and mon.every == 8
    assert all(s % mon.every == 0 for s in mon.steps)


def test_without_an_optimizer_the_verdict_is_inconclusive(script, run, tmp_path):
    path = script("import torch\nprint(torch.nn.Linear(2, 2)(torch.ones(1, 2)).shape)\n")
    status, _, err = run(path, xray=XRay(str(path), output=tmp_path / "r"))
    assert status == 0, err
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["verdict"] == "inconclusive" and m["metrics"]["models"] == {}


def test_cli_xray_writes_where_asked(cli, script, tmp_path):
    script(DEEP_SIGMOID.replace("STEPS", "3").replace("AFTER", "pass"))
    proc = cli("run", "--xray", "--xray-output", "xr", "main.py")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "xr" / "report.html").is_file()
    assert json.loads((tmp_path / "xr" / "metrics.json").read_text())["metrics"]["training_steps"] == 3


def test_cli_refuses_a_report_folder_it_could_not_write_before_running(cli, script, tmp_path):
    script("open('ran.txt', 'w').write('yes')\n")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    (tmp_path / "afile").write_text("x")
    for target in ("busy", "afile", "afile/sub"):
        proc = cli("run", "--xray", "--xray-output", target, "main.py")
        assert proc.returncode == 2 and "--xray-output" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ran.txt").exists()  # the script never ran
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
