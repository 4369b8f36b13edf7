"""The ``nnbasics`` CLI end to end on generated data: train, evaluate, predict, datasets, models, errors, config."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.data import load_dataset

FAST = ["--n-train", "120", "--n-test", "90", "--hidden", "16", "--epochs", "3", "--batch-size", "30",
        "--progress", "epoch"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One trained run shared by the read-only tests."""
    out = tmp_path_factory.mktemp("runs") / "spiral"
    assert main(["train", "spiral", *FAST, "--activation", "tanh", "--init", "xavier", "--seed", "3",
                 "--output", str(out)]) == 0
    return out


def test_train_writes_checkpoint_history_and_resolved_config(run, tmp_path, capsys):
    assert {p.name for p in run.iterdir()} >= {"last.safetensors", "best.safetensors", "history.json", "config.json",
                                               "manifest.json", "history.png", "history.html"}
    history = json.loads((run / "history.json").read_text())
    assert len(history["history"]["loss"]) == 3 and len(history["history"]["val_accuracy"]) == 3
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "spiral" and config["epochs"] == 3 and config["seed"] == 3
    assert config["activation"] == "tanh" and config["hidden"] == [16] and config["init"] == "xavier"
    assert config["model_spec"]["in_features"] == 2 and config["model_spec"]["out_features"] == 3
    # one printed line per epoch with loss and accuracy
    main(["train", "moons", *FAST, "--output", str(tmp_path / "m")])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 3 and all("loss" in ln and "accuracy" in ln for ln in lines)


def test_evaluate_reproduces_the_validation_accuracy(run, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(run), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads(out.read_text())
    history = json.loads((run / "history.json").read_text())["history"]
    assert metrics["n_samples"] == 90 and metrics["split"] == "test"
    np.testing.assert_allclose(metrics["accuracy"], history["val_accuracy"][-1], rtol=1e-12)
    np.testing.assert_allclose(metrics["loss"], history["val_loss"][-1], rtol=1e-5)
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == 90 and np.trace(cm) == round(metrics["accuracy"] * 90)
    assert "confusion matrix" in printed and f"accuracy {metrics['accuracy']:.4f}" in printed


def test_predict_from_npy_and_csv(run, tmp_path, capsys):
    X, _ = load_dataset("spiral", "test", n=90, rng=3)
    np.save(tmp_path / "x.npy", X[:7])
    np.savetxt(tmp_path / "x.csv", X[:7], delimiter=",")
    assert main(["predict", str(run), str(tmp_path / "x.npy")]) == 0
    labels = [int(v) for v in capsys.readouterr().out.split()]
    assert len(labels) == 7 and set(labels) <= {0, 1, 2}
    assert main(["predict", str(run), str(tmp_path / "x.csv"), "--proba", "--output", str(tmp_path / "p.npy")]) == 0
    proba = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(proba.argmax(1), labels)


def test_datasets_and_models_lists(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "spiral" in out and "generated" in out and "fashion-mnist" in out
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert "mlp" in models and "perceptron" in models["mlp"]["description"]


@pytest.mark.parametrize("argv, match", [
    (["train", "spiral", "--activation", "relux"], r"invalid choice: 'relux'. Did you mean 'relu'\? Choose from .*tanh"),
    (["train", "spiral", "--optimizer", "adamx"], r"invalid choice: 'adamx'. Did you mean 'adam'\? Choose from .*sgd"),
    (["train", "spiral", "--model", "nope"], r"unknown model 'nope'. Choose from .*mlp"),
    (["train", "spiral", "--model", "mpl"], r"unknown model 'mpl'. Did you mean 'mlp'\?"),
    (["train", "spirals"], r"unknown dataset 'spirals'. Did you mean 'spiral'\? Choose from .*circles"),
    (["train", "spiral", "--init", "xav"], r"--init: unknown init 'xav'.* Choose from default, zeros"),
    (["train", "spiral", "--dropout", "1.5"], r"expected a dropout rate in \[0, 1\)"),
    (["train", "spiral", "--epochs", "0"], "expected a positive integer, e.g. 20; got 0"),
    (["train", "spiral", "--epocs", "3"], r"unrecognized arguments: --epocs 3. Did you mean '--epochs'\?"),
    (["trian", "spiral"], r"unknown command 'trian'. Did you mean 'train'\?"),
    (["train", "spiral", "--model", "lenet5", "--hidden", "8"], r"does not take --hidden; its settings are"),
    (["train", "sine"], "classification"),
    (["train"], "give a DATASET"),
    (["evaluate", "no/such/run"], "no run at no/such/run"),
])
def test_bad_flags_exit_2_with_one_paragraph_and_a_suggestion(argv, match, capsys):
    """Item 13: one paragraph (no 12-line usage block), the closest valid name, a pointer to --help."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "usage:" not in err and "Traceback" not in err
    first, hint = err.rstrip("\n").split("\n")
    assert re.search(match, first), err
    assert first.startswith("nnbasics") and re.fullmatch(r"See `nnbasics( [a-z-]+)? --help`\.", hint)


def test_config_file_is_honored_and_flags_override_it(tmp_path, capsys):
    cfg = tmp_path / "train.toml"
    cfg.write_text('dataset = "blobs"\nhidden = [8]\nactivation = "tanh"\nepochs = 2\nlr = 0.05\n'
                   'n-train = 60\nn_test = 30\nprogress = "none"\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--epochs", "1", "--output", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "blobs" and config["hidden"] == [8] and config["activation"] == "tanh"
    assert config["lr"] == 0.05 and config["epochs"] == 1  # the flag beats the file
    assert len(json.loads((out / "history.json").read_text())["history"]["loss"]) == 1
    cfg.write_text('dataset = "blobs"\nepoch = 2\n')
    with pytest.raises(SystemExit):
        main(["train", "--config", str(cfg)])
    assert "unknown key 'epoch'. Valid keys: dataset, model" in capsys.readouterr().err
    cfg.write_text('dataset = "blobs"\noptimizer = "adamx"\n')
    with pytest.raises(SystemExit):
        main(["train", "--config", str(cfg)])
    assert "optimizer: invalid choice 'adamx'" in capsys.readouterr().err


def test_train_from_a_layer_spec_file(tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text('init = "he"\n[[layers]]\ntype = "linear"\nin_features = 2\nout_features = 8\n'
                    '[[layers]]\ntype = "relu"\n[[layers]]\ntype = "linear"\nin_features = 8\nout_features = 2\n')
    out = tmp_path / "run"
    assert main(["train", "xor", "--spec", str(spec), "--epochs", "2", "--n-train", "64", "--n-test", "32",
                 "--progress", "none", "--output", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_spec"]["layers"][0]["type"] == "linear"
    assert main(["evaluate", str(out)]) == 0


@pytest.mark.parametrize("cmd", ["train", "evaluate", "predict", "datasets", "models", "xor", "train-lm", "sample"])
def test_help_everywhere(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and f"usage: nnbasics {cmd}" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    from nnbasics.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith("usage: nnbasics")
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) >= {"train", "evaluate", "predict", "datasets", "models", "train-lm", "sample"}
    assert all(name in out for name in commands)


def test_python_m_nnbasics_train_in_a_subprocess(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train", "circles", "--epochs", "2", "--n-train", "64",
                           "--n-test", "32", "--hidden", "8", "--output", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Epoch 2/2" in proc.stdout and (out / "last.safetensors").exists()
