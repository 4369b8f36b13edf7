"""Nothing a user did is lost: the run folder is saved after every epoch as one unit, Ctrl-C keeps it,
--resume continues it bit for bit, outputs are checked before training, a full disk is one message
(issue 14 items 2, 4, 8, 9; issue 15 items 7 and 9, the CLI side)."""

import errno
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.io.safetensors import load_file
from nnbasics.training.runfolder import RunFolder

SMALL = ["--n-train", "90", "--n-test", "30", "--hidden", "8", "8", "--batch-size", "16", "--progress", "none"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _exit2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 2, err
    return err


def _weights(path):
    arrays, _ = load_file(path)
    return arrays


def _history(run):
    h = json.loads((run / "history.json").read_text())["history"]
    return {k: v for k, v in h.items() if k != "time"}


def test_resume_continues_bit_for_bit(tmp_path, capsys):
    """Item 2: 5 epochs == 2 epochs + --resume to 5, exactly (dropout and shuffling included)."""
    flags = [*SMALL, "--dropout", "0.3", "--seed", "4"]
    assert main(["train", "spiral", *flags, "--epochs", "5", "--output", str(tmp_path / "a")]) == 0
    assert main(["train", "spiral", *flags, "--epochs", "2", "--output", str(tmp_path / "b")]) == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "--epochs", "5"]) == 0
    assert "resuming mlp on spiral at epoch 3" in capsys.readouterr().out
    a, b = _weights(tmp_path / "a" / "last.safetensors"), _weights(tmp_path / "b" / "last.safetensors")
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)  # weights and Adam moments
    assert _history(tmp_path / "a") == _history(tmp_path / "b")
    assert RunFolder(tmp_path / "b").verify()["info"]["epoch"] == 5
    err = _exit2(["train", "--resume", str(tmp_path / "b")], capsys)
    assert "already trained 5 epochs" in err and "larger --epochs" in err
    err = _exit2(["train", "--resume", str(tmp_path / "b"), "--epochs", "6", "--lr", "0.5"], capsys)
    assert "--lr (the run's: 0.01)" in err


def test_train_lm_resume_continues_bit_for_bit(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat. " * 40)
    flags = ["--hidden-size", "8", "--embedding-dim", "4", "--seq-len", "8", "--batch-size", "4", "--eval-every",
             "5", "--sample", "0", "--quiet", "--dropout", "0.0"]
    assert main(["train-lm", str(text), *flags, "--steps", "20", "--output", str(tmp_path / "a")]) == 0
    assert main(["train-lm", str(text), *flags, "--steps", "10", "--output", str(tmp_path / "b")]) == 0
    assert main(["train-lm", "--resume", str(tmp_path / "b"), "--steps", "20", "--quiet"]) == 0
    a, b = _weights(tmp_path / "a" / "last.safetensors"), _weights(tmp_path / "b" / "last.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    ha, hb = (json.loads((p / "history.json").read_text()) for p in (tmp_path / "a", tmp_path / "b"))
    assert ha["step"] == hb["step"] == [0, 5, 10, 15, 20] and ha["val_loss"] == hb["val_loss"]
    assert main(["sample", str(tmp_path / "b"), "--length", "5", "--prime", "the"]) == 0


def test_ctrl_c_keeps_the_finished_epochs_and_resume_finishes_the_run(tmp_path, ctrl_c_reaches_children):
    """Item 2: SIGINT -> exit 130, a message, the folder holding every finished epoch; --resume ends it."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "nnbasics", "train", "spiral", "--n-train", "3000", "--hidden", "64", "64",
            "--epochs", "400", "--progress", "epoch", "--output", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "manifest.json").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted:" in err and f"nnbasics train --resume {out}" in err and "Traceback" not in err
    info = RunFolder(out).verify()["info"]
    done = info["epoch"]
    assert 1 <= done < 400 and len(_history(out)["loss"]) == done
    assert (out / "history.png").exists()  # the plots of what finished
    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train", "--resume", str(out), "--epochs",
                           str(done + 2)], capture_output=True, text=True, env=ENV, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming mlp on spiral at epoch {done + 1}" in proc.stdout
    assert len(_history(out)["loss"]) == done + 2


def test_random_kills_leave_a_consistent_run_folder(tmp_path):
    """Issue 15 item 7: SIGKILL at random moments of a training that saves every few milliseconds."""
    rng = random.Random(0)
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "nnbasics", "train", "circles", "--n-train", "64", "--n-test", "32", "--hidden",
            "4", "--epochs", "100000", "--batch-size", "64", "--progress", "none", "--output", str(out)]
    outcomes = []

    def generation():
        try:
            return json.loads((out / "manifest.json").read_text())["generation"]
        except (OSError, ValueError):
            return 0  # none yet, or caught between two reads of a rename (the reader retries)

    for trial in range(6):
        flag = ["--resume", str(out), "--epochs", "100000"] if (out / "manifest.json").exists() else []
        before = generation()
        proc = subprocess.Popen(argv[:4] + flag if flag else argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=ENV)
        deadline = time.time() + 60
        while time.time() < deadline and generation() <= before:  # it is training and saving
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        folder = RunFolder(out)
        m = folder.verify()  # every part matches its hash: the old epoch or the new one
        weights_epoch = json.loads(load_file(folder.part_path("last.safetensors", m))[1]["nnbasics"])["epoch"]
        history = json.loads(folder.read_bytes("history.json", m))
        assert weights_epoch == m["info"]["epoch"] == len(history["epoch"]), trial
        outcomes.append(weights_epoch)
        proc = subprocess.run([sys.executable, "-m", "nnbasics", "evaluate", str(out)], capture_output=True,
                              text=True, env=ENV, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
    assert all(b > a for a, b in itertools.pairwise(outcomes)), outcomes  # each resume went on from the last


def test_a_new_model_beside_an_old_config_is_refused(tmp_path, capsys):
    """Issue 15 item 7: a crash that left a moons model beside a circles config.json scored 0.67 silently."""
    assert main(["train", "circles", *SMALL, "--epochs", "1", "--output", str(tmp_path / "circles")]) == 0
    assert main(["train", "moons", *SMALL, "--epochs", "1", "--output", str(tmp_path / "moons")]) == 0
    mixed = tmp_path / "mixed"  # the old layout (no manifest): model.safetensors + config.json
    mixed.mkdir()
    shutil.copy(tmp_path / "moons" / "last.safetensors", mixed / "model.safetensors")
    shutil.copy(tmp_path / "circles" / "config.json", mixed / "config.json")
    err = _exit2(["evaluate", str(mixed)], capsys)
    assert "config.json disagrees with model.safetensors on dataset" in err
    assert main(["evaluate", str(mixed / "model.safetensors")]) == 0  # the checkpoint alone: its own settings
    assert "on moons" in capsys.readouterr().out
    shutil.copy(tmp_path / "moons" / "last.safetensors", tmp_path / "circles" / "last.safetensors")
    err = _exit2(["evaluate", str(tmp_path / "circles")], capsys)
    assert "last.safetensors does not match the run's manifest.json" in err and "give the .safetensors file" in err


def test_outputs_are_checked_before_any_work(tmp_path, monkeypatch, capsys):
    """Items 4 and 8; issue 15 item 9: a file, a path under a file, a read-only place, an existing run."""
    import nnbasics.cli._data as data

    def no_data(*a, **k):
        raise AssertionError("data were loaded before the output was checked")

    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with monkeypatch.context() as m:
        m.setattr(data, "load_split", no_data)
        assert "is a file, not a folder" in _exit2(["train", "blobs", "--output", str(tmp_path / "file")], capsys)
        assert "is a file, not a folder" in _exit2(["train", "blobs", "-o", str(tmp_path / "file" / "x")], capsys)
        err = _exit2(["train", "blobs", "--output", str(tmp_path / "other"), "--overwrite"], capsys)
        assert "not empty and holds no run" in err
        real_open = os.open

        def read_only(path, flags, *args):
            if str(path).startswith(str(tmp_path / "ro")) and flags & os.O_CREAT:
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real_open(path, flags, *args)

        (tmp_path / "ro").mkdir()
        m.setattr(os, "open", read_only)
        err = _exit2(["train", "blobs", "--output", str(tmp_path / "ro" / "run")], capsys)
        assert "Read-only file system" in err and "choose a writable folder" in err
    assert (tmp_path / "notes.txt").exists() is False and (tmp_path / "other" / "notes.txt").read_text() == "mine"
    out = tmp_path / "run"
    assert main(["train", "blobs", *SMALL, "--epochs", "1", "--output", str(out)]) == 0
    err = _exit2(["train", "blobs", *SMALL, "--epochs", "1", "--output", str(out)], capsys)
    assert f"already holds a run. Continue it with `--resume {out}`, replace it with --overwrite" in err
    (out / "report.json").write_text("{}")  # a part of an older layout: replaced runs leave nothing behind
    assert main(["train", "moons", *SMALL, "--epochs", "2", "--output", str(out), "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text())["dataset"] == "moons" and not (out / "report.json").exists()


def test_the_default_output_is_numbered_not_replaced(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        assert main(["train", "blobs", *SMALL, "--epochs", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["blobs-mlp", "blobs-mlp-2", "blobs-mlp-3"]


def test_a_full_disk_while_saving_is_one_message_and_keeps_the_last_epoch(tmp_path, monkeypatch, capsys):
    """Issue 15 item 9: ENOSPC at the third epoch's save: exit 2, the folder holds epoch 2."""
    import nnbasics.training.runfolder as rf

    real = rf._write_new
    commits = []

    def write_new(path, data):
        if path.name.startswith(".last.safetensors"):
            commits.append(path)
            if len(commits) == 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(rf, "_write_new", write_new)
    out = tmp_path / "run"
    err = _exit2(["train", "blobs", *SMALL, "--epochs", "5", "--output", str(out)], capsys)
    assert "the disk is full" in err and f"still holds epoch 2 (continue with `nnbasics train --resume {out}`" in err
    assert RunFolder(out).verify()["info"]["epoch"] == 2 and not any(n.endswith(".pending") for n in os.listdir(out))


def test_a_file_size_limit_is_one_message(tmp_path):
    """Issue 15 item 9: `ulimit -f` below the checkpoint's size: EFBIG is one message, exit 2."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train", "blobs", "--hidden", "128", "128", "--epochs",
                           "2", "--n-train", "60", "--progress", "none", "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, env=ENV, timeout=120, preexec_fn=limit, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "file-size limit" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing was saved, and the folder it made is gone


def test_files_and_folders_follow_the_umask(tmp_path):
    """Item 9: checkpoints were written 0600 (tempfile.mkstemp); they follow the umask like any file."""
    proc = subprocess.run([sys.executable, "-m", "nnbasics", "train", "blobs", *SMALL, "--epochs", "1", "--output",
                           str(tmp_path / "run")], capture_output=True, text=True, env=ENV, timeout=120,
                          preexec_fn=lambda: os.umask(0o002), check=False)
    assert proc.returncode == 0, proc.stderr
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (tmp_path / "run").iterdir()}
    assert modes["last.safetensors"] == modes["config.json"] == modes["manifest.json"] == oct(0o664), modes
    assert oct((tmp_path / "run").stat().st_mode & 0o777) == oct(0o775)
