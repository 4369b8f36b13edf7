"""Hostile invocations of the command line: every one exits 2 with one paragraph and no traceback
(issue 15 item 10, the CLI side; the principle: every user-facing error is one message, exit 2).

The table names a situation, the files it needs (built by ``_files``) and the argv; ``@name`` is a
path in the test's folder. Each row runs in-process (an uncaught exception fails the test with
its traceback) and checks the exit status, the shape of the message and a phrase of it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.models import build_model
from nnbasics.training import save_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    run = d / "run"
    assert main(["train", "blobs", "--n-train", "60", "--n-test", "30", "--hidden", "4", "--epochs", "1",
                 "--progress", "none", "--output", str(run)]) == 0
    for name, text in {"nonutf8": b"\xff\xfe\x00{", "list": b'["dataset", "blobs"]',
                       "nested": b"[" * 200000 + b"]" * 200000, "n_test": b'{"dataset": "blobs", "n_test": 1e12}',
                       "n_float": b'{"dataset": "blobs", "n_test": 2.5}', "wrongtype": b'{"dataset": 7}'}.items():
        legacy = d / f"cfg-{name}"
        legacy.mkdir()
        model = build_model("mlp", in_features=2, out_features=3, hidden=[4], rng=0)
        save_checkpoint(legacy / "model.safetensors", model, epoch=1)  # stores no settings: config.json is read
        (legacy / "config.json").write_bytes(text)
    (d / "bad-manifest").mkdir()
    (d / "bad-manifest" / "manifest.json").write_bytes(b"[]")
    (d / "empty").mkdir()
    (d / "a-file").write_text("x")
    np.save(d / "x.npy", np.ones((3, 2), np.float32))
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 2), }"
    (d / "huge.npy").write_bytes(header + b" " * (128 - len(header) - 1) + b"\n" + b"\x00" * 64)
    np.save(d / "short.npy", np.ones((4, 2), np.float32))
    (d / "short.npy").write_bytes((d / "short.npy").read_bytes()[:-8])
    np.save(d / "no-rows.npy", np.zeros((0, 2), np.float32))
    np.save(d / "nan.npy", np.array([[0, 0], [np.nan, 1], [1, 1], [np.inf, 0]], np.float32))
    (d / "nan.csv").write_text("0,0\n1,nan\n")
    (d / "deep.json").write_bytes(b'{"layers": ' + b"[" * 100000 + b"]" * 100000 + b"}")
    (d / "spec-list.json").write_text("[1, 2, 3]")
    (d / "spec-neg.json").write_text(json.dumps({"model": "mlp", "hidden": [-3]}))
    (d / "spec-huge.json").write_text(json.dumps({"model": "mlp", "hidden": [10**6, 10**6, 10**6]}))
    (d / "spec-type.json").write_text(json.dumps({"layers": [{"type": "linear", "in_features": "two",
                                                              "out_features": 3}]}))
    (d / "spec-unknown.json").write_text(json.dumps({"layers": [{"type": "lineer", "in_features": 2}]}))
    (d / "spec-bin.toml").write_bytes(b"\xff\xfe\x00")
    (d / "conf-bin.toml").write_bytes(b"\xff\xfe\x00")
    (d / "conf-list.toml").write_text('epochs = [1, 2]\n')
    (d / "conf-float.toml").write_text('dataset = "blobs"\nepochs = 2.5\n')
    text = d / "t.txt"
    text.write_text("abcabc " * 30)
    assert main(["train-lm", str(text), "--steps", "2", "--hidden-size", "4", "--embedding-dim", "2", "--seq-len",
                 "4", "--batch-size", "2", "--sample", "0", "--quiet", "--output", str(d / "lm")]) == 0
    lm = build_model("char-lstm", vocab_size=3, hidden_size=4, embedding_dim=2, rng=0)
    (d / "vocab").mkdir()
    save_checkpoint(d / "vocab" / "best.safetensors", lm, extra={"kind": "char-lm", "vocab": {"chars": 123}})
    (d / "vocab2").mkdir()
    save_checkpoint(d / "vocab2" / "best.safetensors", lm, extra={"kind": "char-lm", "vocab": {"chars": "abcdef"}})
    return d


HOSTILE = [
    ("config.json not UTF-8", ["evaluate", "@cfg-nonutf8"], "not valid UTF-8 JSON"),
    ("config.json a JSON list", ["evaluate", "@cfg-list"], "found a JSON list"),
    ("config.json nested 200,000 deep", ["evaluate", "@cfg-nested"], "not valid UTF-8 JSON"),
    ("config.json n_test 1e12", ["evaluate", "@cfg-n_test"], "too many samples|at most"),
    ("config.json n_test 2.5", ["evaluate", "@cfg-n_float"], "n_test: expected a positive integer"),
    ("config.json dataset 7", ["evaluate", "@cfg-wrongtype"], "dataset must be a string"),
    ("manifest.json a list", ["evaluate", "@bad-manifest"], "not a run manifest"),
    ("an empty folder", ["evaluate", "@empty"], "no checkpoint in"),
    ("a run that is a file", ["evaluate", "@a-file"], "not a checkpoint|corrupt|not a safetensors"),
    ("--json into a missing folder", ["evaluate", "@run", "--json", "@nowhere/m.json"], "does not exist"),
    ("--json naming a folder", ["evaluate", "@run", "--json", "@empty"], "is a folder"),
    ("--json under a file", ["evaluate", "@run", "--json", "@a-file/m.json"], "is a file, not a folder"),
    ("predict --output into a missing folder", ["predict", "@run", "@x.npy", "-o", "@nowhere/p.csv"], "does not exist"),
    ("train --output naming a file", ["train", "blobs", "--output", "@a-file"], "is a file, not a folder"),
    ("a .npy declaring 10^11 rows", ["predict", "@run", "@huge.npy"], "declares shape"),
    ("a truncated .npy", ["predict", "@run", "@short.npy"], "declares shape"),
    ("a .npy with no rows", ["predict", "@run", "@no-rows.npy"], r"holds no samples \(shape \(0, 2\)\)"),
    ("NaN and inf rows in a .npy", ["predict", "@run", "@nan.npy"], r"2 rows \(2, 4; counting from 1\)"),
    ("NaN in a .csv", ["predict", "@run", "@nan.csv"], r"1 row \(2; counting from 1\)"),
    ("--spec nested 100,000 deep", ["train", "blobs", "--spec", "@deep.json"], "--spec"),
    ("--spec a JSON list", ["train", "blobs", "--spec", "@spec-list.json"], "--spec"),
    ("--spec a negative size", ["train", "blobs", "--spec", "@spec-neg.json"], "hidden"),
    ("--spec 10^12 weights", ["train", "blobs", "--spec", "@spec-huge.json"], "would hold .* numbers|weights|parameters"),
    ("--spec a size that is text", ["train", "blobs", "--spec", "@spec-type.json"], "in_features"),
    ("--spec an unknown layer", ["train", "blobs", "--spec", "@spec-unknown.json"], "lineer"),
    ("--spec not UTF-8", ["train", "blobs", "--spec", "@spec-bin.toml"], "--spec"),
    ("--config not UTF-8", ["train", "blobs", "--config", "@conf-bin.toml"], "--config"),
    ("--config a list for one value", ["train", "--config", "@conf-list.toml"], "takes one value"),
    ("--config epochs 2.5", ["train", "--config", "@conf-float.toml"], "epochs: expected a positive integer"),
    ("--config a folder", ["train", "blobs", "--config", "@empty"], "--config"),
    ("sample: vocabulary of the wrong type", ["sample", "@vocab"], r"extra\['vocab'\] must be|vocabulary is damaged"),
    ("sample: vocabulary of the wrong size", ["sample", "@vocab2"], "vocabulary has 6 characters"),
    ("sample a classifier run", ["sample", "@run"], "is a classifier run"),
    ("evaluate a text-model run", ["evaluate", "@lm"], "is a character-model run"),
    ("train-lm on a folder", ["train-lm", "@empty", "--steps", "1"], "is a directory"),
    ("train-lm --resume a classifier run", ["train-lm", "--resume", "@run"], "is a classifier run"),
    ("train --resume a missing folder", ["train", "--resume", "@nowhere"], "no run at"),
    ("train --resume with --config", ["train", "--resume", "@run", "--config", "@conf-list.toml"], "drop --config"),
    ("--epochs 1e400", ["train", "blobs", "--epochs", "1e400"], "expected a positive integer"),
    ("--lr inf", ["train", "blobs", "--lr", "inf"], "expected a positive number"),
    ("--n-train 10^12 of a generated dataset", ["train", "shapes", "--n-train", "1000000000000"], "too many samples"),
]


@pytest.mark.parametrize("what, argv, match", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_invocations_exit_2_with_one_paragraph(what, argv, match, files, capsys):
    import re

    argv = [str(files / a[1:]) if a.startswith("@") else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("See `nnbasics"), err  # one paragraph, then the --help hint
    assert "Traceback" not in err and re.search(match, lines[0]), err


def test_in_a_subprocess_too_no_traceback(files):
    """The same through the console entry point: nothing escapes main() as a traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for argv in (["evaluate", "@cfg-nested"], ["predict", "@run", "@huge.npy"], ["train", "blobs", "--spec",
                                                                                  "@deep.json"]):
        argv = [str(files / a[1:]) if a.startswith("@") else a for a in argv]
        proc = subprocess.run([sys.executable, "-m", "nnbasics", *argv], capture_output=True, text=True, env=env,
                              timeout=120, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
