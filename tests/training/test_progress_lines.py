"""Progress never writes a bar's cursor codes into a file or a pipe: one line per unit there (issue 14
item 10), and train-lm's progress says "train -" before the first step, not "train nan" (item 11)."""

import io
import os
import re
import subprocess
import sys

import numpy as np

from nnbasics import nn
from nnbasics.optim import SGD
from nnbasics.training import Progress, ProgressBar, fit, progress_iter

CURSOR = re.compile(r"[\r\x1b]")


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _model():
    return nn.Sequential(nn.Linear(2, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))


def test_progress_into_a_file_is_one_plain_line_per_update():
    out = io.StringIO()
    with Progress(total=5, desc="train", unit="step", file=out, mode="bar", every=2) as p:
        for i in range(5):
            p.update(1, {"loss": 1.0 / (i + 1)})
    text = out.getvalue()
    assert not CURSOR.search(text)
    assert text.splitlines() == ["train 2/5 steps - loss 0.5000", "train 4/5 steps - loss 0.2500",
                                 "train 5/5 steps - loss 0.2000"]
    assert list(progress_iter(range(3), desc="jobs", unit="job", file=out)) == [0, 1, 2]
    assert out.getvalue().splitlines()[-1] == "jobs 3/3 jobs"


def test_fit_progress_bar_into_a_pipe_prints_one_line_per_epoch(monkeypatch, capsys):
    X, y = _data()
    model = _model()
    fake = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", fake)
    fit(model, (X, y), epochs=3, optimizer=SGD(model.parameters(), lr=0.1), batch_size=10, progress="bar")
    text = fake.getvalue() + capsys.readouterr().out
    assert not CURSOR.search(text)
    assert [ln.split(" - ")[0] for ln in text.splitlines()] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    log = io.StringIO()
    fit(model, (X, y), epochs=2, optimizer=SGD(model.parameters(), lr=0.1), batch_size=10,
        progress=ProgressBar(file=log))
    assert not CURSOR.search(log.getvalue()) and len(log.getvalue().splitlines()) == 2


def test_the_cli_piped_has_no_cursor_codes(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train", "blobs", "--epochs", "2", "--n-train", "40",
                           "--n-test", "20", "--hidden", "4", "--progress", "bar", "--output", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not CURSOR.search(proc.stdout + proc.stderr)
    assert len(re.findall(r"^Epoch [12]/2 - loss", proc.stdout + proc.stderr, re.MULTILINE)) == 2


def test_train_lm_progress_lines_and_no_nan(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello world. " * 60)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train-lm", str(text), "--steps", "20", "--eval-every",
                           "10", "--hidden-size", "8", "--embedding-dim", "4", "--seq-len", "8", "--batch-size", "4",
                           "--sample", "0", "--output", str(tmp_path / "lm")],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    first = next(ln for ln in proc.stdout.splitlines() if ln.startswith("step"))
    assert "train -" in first and "nan" not in proc.stdout
    steps = re.findall(r"^train (\d+)/20 steps - loss \d", proc.stderr, re.MULTILINE)
    assert steps == [str(i) for i in range(1, 21)]  # eval_every 10 -> a line per step between validations
    assert not CURSOR.search(proc.stdout + proc.stderr)


def test_train_lm_reads_another_encoding_and_its_hint_names_the_flag(tmp_path, capsys):
    import pytest

    from nnbasics.cli import main

    path = tmp_path / "latin.txt"
    path.write_bytes("café au lait. ".encode("latin-1") * 40)
    with pytest.raises(SystemExit):
        main(["train-lm", str(path), "--steps", "2"])
    err = capsys.readouterr().err
    assert "--encoding latin-1" in err and "encoding=" not in err
    assert main(["train-lm", str(path), "--encoding", "latin-1", "--steps", "2", "--hidden-size", "4",
                 "--embedding-dim", "2", "--seq-len", "4", "--batch-size", "2", "--sample", "0", "--quiet",
                 "--output", str(tmp_path / "lm")]) == 0
