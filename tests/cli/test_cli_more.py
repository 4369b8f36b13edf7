"""The CLI beyond one model on generated data: slices of file datasets, missing files, ensembles,
character language models on a text file, per-class and top-k evaluation."""

import json
import re

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.data import sources
from nnbasics.data.idx import save_idx


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real cache, no $NNBASICS_DATA, an empty system directory, no mirror that answers."""
    monkeypatch.delenv("NNBASICS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "system").mkdir()
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", (str(tmp_path / "system"),))
    for src in sources.SOURCES.values():
        monkeypatch.setattr(src, "mirrors", ((tmp_path / "no-mirror").as_uri() + "/",))
    return tmp_path


def fake_mnist(folder, n_train=80, n_test=40):
    """Tiny learnable IDX files: class c lights up row 2c of the image."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for (images, labels), n in ((("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), n_train),
                                (("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), n_test)):
        y = np.arange(n) % 10
        x = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        x[np.arange(n), 2 * y] = 255
        save_idx(folder / images, x)
        save_idx(folder / labels, y.astype(np.uint8))
    return folder


def _exit2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    return err


def test_train_on_a_stratified_slice_of_a_file_dataset(isolated, capsys):
    root = fake_mnist(isolated / "data" / "mnist").parent
    out = isolated / "run"
    assert main(["train", "mnist", "--data-root", str(root), "--no-download", "--n-train", "30", "--n-test", "20",
                 "--hidden", "16", "--epochs", "4", "--lr", "0.05", "--progress", "none", "--output", str(out)]) == 0
    assert "(30 train / 20 test samples)" in capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())["history"]
    assert history["val_accuracy"][-1] > 0.5  # the slice is learnable and fed in the right order
    # evaluate re-draws the same slices from the run's seed: the training slice is class-balanced (3 each)
    assert main(["evaluate", str(out), "--split", "train", "--json", str(isolated / "train.json")]) == 0
    train = json.loads((isolated / "train.json").read_text())
    assert train["n_samples"] == 30 and np.array(train["confusion_matrix"]).sum(1).tolist() == [3] * 10
    assert main(["evaluate", str(out), "--json", str(isolated / "test.json")]) == 0
    test = json.loads((isolated / "test.json").read_text())
    assert test["n_samples"] == 20 and test["accuracy"] == history["val_accuracy"][-1]
    cm = np.array(test["confusion_matrix"])
    np.testing.assert_allclose(test["per_class_accuracy"], np.diag(cm) / cm.sum(1))
    assert "top5_accuracy" in test and test["top5_accuracy"] >= test["accuracy"]
    printed = capsys.readouterr().out
    assert "top-5 accuracy" in printed and "per-class accuracy" in printed
    # predict reads a CSV of flat 784-pixel rows and reshapes it to the dataset's (1, 28, 28)
    x = np.zeros((3, 784), np.float32)
    for i, c in enumerate((0, 4, 7)):
        x[i].reshape(28, 28)[2 * c] = 1.0
    np.savetxt(isolated / "x.csv", x, delimiter=",")
    assert main(["predict", str(out), str(isolated / "x.csv")]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]  # label TAB class name
    names = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven")
    assert len(rows) == 3 and all(name == names[int(label)] for label, name in rows), rows
    err = _exit2(["evaluate", str(out), "--top-k", "11"], capsys)
    assert "--top-k 11: the model scores 10 classes" in err


def test_missing_files_say_where_it_looked_and_how_to_get_them(isolated, capsys):
    err = _exit2(["train", "kmnist", "--no-download", "--epochs", "1"], capsys)
    assert "kmnist (train split) not found" in err and "Looked in:" in err
    assert str(isolated / "xdg" / "nnbasics" / "kmnist") in err and "To get the files:" in err
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    fashion = listing.split("fashion-mnist", 1)[1].split("\nkmnist", 1)[0]
    assert "not found" in fashion and "get it:" in fashion and "apt install dataset-fashion-mnist" in fashion
    assert "$NNBASICS_DATA/fashion-mnist/" in fashion and "SHA-256" in fashion
    fake_mnist(isolated / "system" / "mnist")
    assert main(["datasets"]) == 0
    mnist = capsys.readouterr().out.split("\nmnist", 1)[1].split("\nfashion-mnist", 1)[0]
    assert str(isolated / "system" / "mnist") in mnist and "get it:" not in mnist


def test_train_an_ensemble_evaluate_and_predict_it(tmp_path, capsys):
    out = tmp_path / "ens"
    assert main(["train", "blobs", "--members", "3", "--executor", "serial", "--combine", "vote", "--n-train", "90",
                 "--n-test", "60", "--hidden", "8", "--epochs", "2", "--seed", "5", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert len(re.findall(r"^member seed [567] - Epoch [12]/2 - loss .* accuracy ", printed, re.MULTILINE)) == 6
    assert "| ensemble (vote) |" in printed
    report = json.loads((out / "report.json").read_text())
    assert len(report["member_accuracy"]) == 3 and report["combine"] == "vote"
    config = json.loads((out / "config.json").read_text())
    assert config["model_spec"]["model"] == "ensemble" and config["model_spec"]["seeds"] == [5, 6, 7]
    assert len(json.loads((out / "history.json").read_text())["members"]) == 3
    assert main(["evaluate", str(out), "--json", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == report["ensemble_accuracy"]
    np.save(tmp_path / "x.npy", np.zeros((4, 2), np.float32))
    assert main(["predict", str(out), str(tmp_path / "x.npy"), "--proba"]) == 0
    rows = [list(map(float, ln.split(","))) for ln in capsys.readouterr().out.split()[-4:]]
    np.testing.assert_allclose(np.sum(rows, 1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.multiply(rows, 3), np.round(np.multiply(rows, 3)), atol=1e-5)  # votes of 3


TEXT = "hello world, hello there.\n" * 40


def test_train_lm_on_a_text_file_then_sample(tmp_path, capsys):
    text = tmp_path / "tiny.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "lm"
    cfg = tmp_path / "lm.toml"
    cfg.write_text('hidden-size = 24\nembedding_dim = 8\nseq_len = 16\nbatch_size = 4\nsteps = 60\nlr = 0.02\n'
                   'eval_every = 20\nsample = 30\n')
    assert main(["train-lm", str(text), "--config", str(cfg), "--steps", "80", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert len(re.findall(r"^step +\d+ ", printed, re.MULTILINE)) == 5  # steps 0, 20, 40, 60 and the final 80
    assert {p.name for p in out.iterdir()} >= {"best.safetensors", "last.safetensors", "history.json", "config.json"}
    history = json.loads((out / "history.json").read_text())
    assert history["step"][-1] == 80  # the flag beat the file's 60
    assert history["val_loss"][-1] < 0.7 * history["val_loss"][0]  # it learned the repeated line
    config = json.loads((out / "config.json").read_text())
    assert config["model_spec"]["hidden_size"] == 24 and config["model_spec"]["vocab_size"] == len(set(TEXT))
    sample_line = printed.split("sample:\n", 1)[1]
    assert sample_line.startswith("h") and len(sample_line.split("\nwrote")[0]) == 31
    assert main(["sample", str(out), "--prime", "hello", "--length", "25", "--seed", "3"]) == 0
    first = capsys.readouterr().out
    assert main(["sample", str(out / "best.safetensors"), "--prime", "hello", "--length", "25", "--seed", "3"]) == 0
    assert capsys.readouterr().out == first and first.startswith("hello") and len(first.rstrip("\n")) == 30
    assert "--prime: characters 'z'" in _exit2(["sample", str(out), "--prime", "zz"], capsys)
    assert "nnbasics sample" in _exit2(["evaluate", str(out)], capsys)
    assert "train-lm TEXTFILE --model char-gru" in _exit2(["train", "xor", "--model", "char-gru"], capsys)
    assert "invalid choice: 'lstm'" in _exit2(["train-lm", str(text), "--model", "lstm"], capsys)
    assert "none.txt" in _exit2(["train-lm", str(tmp_path / "none.txt")], capsys)
