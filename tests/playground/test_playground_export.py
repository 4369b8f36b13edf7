"""Every export round-trips: checkpoint (nnbasics evaluate, load_checkpoint, PyTorch), ONNX, TOML spec, script."""

import json
import os
import runpy
import shlex
import subprocess
import sys

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.cli import main
from nnbasics.data import load_dataset
from nnbasics.models.spec import read_toml, validate_spec
from nnbasics.playground.config import ConfigError, normalize
from nnbasics.playground.datasets import make_data
from nnbasics.playground.export import export_run
from nnbasics.playground.network import export_model, export_spec
from nnbasics.playground.trainer import Run
from nnbasics.training import load_checkpoint


def trained(steps=60, **changes):
    cfg = normalize({"dataset": "spiral", "layers": [{"units": 12, "activation": "tanh", "dropout": 0.0},
                                                     {"units": 12, "activation": "relu", "dropout": 0.1}],
                     "batch_norm": True, **changes})
    run = Run(cfg, make_data(cfg))
    run.train(steps)
    return run


def save(tmp_path, run, fmt):
    name, body, _ = export_run(run, fmt)
    path = tmp_path / name
    path.write_bytes(body)
    return path


def outputs(model, X):
    model.eval()
    with nb.no_grad():
        return model(nb.as_tensor(X)).numpy()


@pytest.fixture(scope="module")
def run():
    return trained()


def test_exported_model_equals_the_running_one(run):
    X = run.data.X_test
    np.testing.assert_array_equal(outputs(export_model(run.models[0]), X), run.predict(X))
    assert [e["type"] for e in export_spec(run.spec)["layers"]] == [
        "linear", "batchnorm1d", "tanh", "linear", "batchnorm1d", "relu", "dropout", "linear"]


def test_checkpoint_loads_with_its_optimizer_and_setup(run, tmp_path):
    path = save(tmp_path, run, "checkpoint")
    ckpt = load_checkpoint(path)
    np.testing.assert_array_equal(outputs(ckpt.model, run.data.X_test), run.predict(run.data.X_test))
    assert ckpt.extra["playground"]["config"] == run.cfg and ckpt.extra["playground"]["step"] == 60
    assert ckpt.metadata["optimizer"]["class"] == "Adam"
    opt = nb.optim.Adam(ckpt.model.parameters())
    load_checkpoint(path, ckpt.model, opt)  # Adam's moments travelled with the weights
    mine, theirs = run.optimizers[0].state_dict(), opt.state_dict()
    assert theirs["param_groups"][0]["lr"] == run.cfg["lr"] and len(theirs["state"]) == len(mine["state"])
    for i, state in mine["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(np.asarray(theirs["state"][i][key]), np.asarray(value))


def test_checkpoint_evaluates_with_the_cli(run, tmp_path):
    path = save(tmp_path, run, "checkpoint")
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(path), "spiral", "--n", "300", "--seed", "5", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    X, y = load_dataset("spiral", "test", n=300, rng=5)
    expected = (run.predict(X).argmax(1) == y).mean()
    assert metrics["n_samples"] == len(y) and metrics["accuracy"] == pytest.approx(expected)


def test_checkpoint_loads_into_pytorch(run, tmp_path, torch):
    from safetensors.torch import load_file

    path = save(tmp_path, run, "checkpoint")
    tnn = torch.nn
    twin = tnn.Sequential(tnn.Linear(2, 12), tnn.BatchNorm1d(12), tnn.Tanh(), tnn.Linear(12, 12), tnn.BatchNorm1d(12),
                          tnn.ReLU(), tnn.Dropout(0.1), tnn.Linear(12, 3))
    weights = {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer/")}
    twin.load_state_dict(weights, strict=True)
    twin.eval()
    with torch.no_grad():
        got = twin(torch.from_numpy(run.data.X_test)).numpy()
    np.testing.assert_allclose(got, run.predict(run.data.X_test), rtol=1e-5, atol=1e-5)


def test_onnx_runs_in_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    for r in (trained(20), trained(10, dataset="shapes", n=64, layers=[{"units": 16, "activation": "gelu"}])):
        path = save(tmp_path, r, "onnx")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        X = r.data.X_test[:16]
        got = sess.run(None, {sess.get_inputs()[0].name: X})[0]
        np.testing.assert_allclose(got, r.predict(X), rtol=1e-4, atol=1e-5)


def test_toml_spec_round_trips_and_its_command_trains(run, tmp_path):
    path = save(tmp_path, run, "toml")
    text = path.read_text()
    assert validate_spec(read_toml(path)) == validate_spec(export_spec(run.spec))
    command = next(line for line in text.splitlines() if "nnbasics train spiral" in line).strip("# ").strip()
    argv = shlex.split(command)[1:]
    assert "--optimizer" in argv and "--lr" in argv and "--seed" in argv
    argv = [str(tmp_path / "model.toml") if a == "model.toml" else a for a in argv]
    i = argv.index("--epochs")
    argv[i + 1] = "1"
    out = tmp_path / "cli-run"
    assert main([*argv, "--n-train", "90", "--n-test", "30", "--progress", "none", "--output", str(out)]) == 0
    assert load_checkpoint(out / "last.safetensors").model.spec["layers"] == validate_spec(read_toml(path))["layers"]


@pytest.mark.parametrize("changes", [
    {"dataset": "moons", "members": 3, "optimizer": "nesterov", "momentum": 0.5, "schedule": "warmup",
     "schedule_steps": 9, "layers": [{"units": 5, "activation": "elu", "dropout": 0.2}]},
    {"dataset": "blobs", "classes": 4, "loss": "mse", "optimizer": "rmsprop", "l2": 0.01, "schedule": "step",
     "schedule_steps": 7, "batch_norm": False},
    {"dataset": "shapes", "n": 64, "layers": [{"units": 16, "activation": "relu"}], "schedule": "exponential",
     "schedule_steps": 20},
])
def test_script_rebuilds_the_run_exactly(tmp_path, changes):
    r = trained(25, **changes)
    path = save(tmp_path, r, "script")
    ns = runpy.run_path(str(path), run_name="playground_export")
    models = ns["main"](25)
    for m, mine in zip(models, r.models, strict=True):
        for p, q in zip(m.parameters(), mine.parameters(), strict=True):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_script_runs_from_the_command_line_on_an_uploaded_csv(tmp_path):
    from nnbasics.playground.csvdata import parse_csv

    text = "u,v,w,label\n" + "\n".join(f"{i % 5},{i % 7},{i % 3},{'ab'[i % 2]}" for i in range(80))
    table = parse_csv(text, "mine.csv")
    cfg = normalize({"dataset": "csv", "layers": [{"units": 6, "activation": "tanh"}]})
    r = Run(cfg, make_data(cfg, table))
    r.train(5)
    path = save(tmp_path, r, "script")
    (tmp_path / "mine.csv").write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(path), "--steps", "5"], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "step 5:" in out.stdout and "test accuracy" in out.stdout


def test_ensembles_export_their_members_and_vote(tmp_path):
    r = trained(15, dataset="moons", members=3, batch_norm=False)
    ckpt = load_checkpoint(save(tmp_path, r, "checkpoint"))
    assert type(ckpt.model).__name__ == "Ensemble" and ckpt.model.combine == "vote" and len(ckpt.model) == 3
    np.testing.assert_array_equal(ckpt.model.predict(r.data.X_test), r.ensemble.predict(r.data.X_test))
    with pytest.raises(ConfigError, match="one network"):
        export_run(r, "onnx")
