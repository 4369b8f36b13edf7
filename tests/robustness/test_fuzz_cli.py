"""Fuzzing the command line (nnbasics.cli.main) with random argv, damaged run directories and input files.

Property: ``main(argv)`` returns a status, or exits with argparse's status 2 after printing
"error:" (the library's own message), or status 0 (``--help``); never a traceback. Training and
the demo are replaced by a sentinel (reaching them means the arguments were accepted), file
datasets act as offline, generated ones are capped at 64 samples: the fuzz is about arguments.

Fuzzing results. CI: the counts below, derandomized. Long run, once, locally:
``NNBASICS_FUZZ_EXAMPLES=3000 pytest -p no:randomly tests/robustness -k fuzz`` (3,000 examples per
fuzz test, 71 tests passed in 9 min on a shared 2-core machine; nothing new found beyond the CI profile):

=========================  =============  ===========================================================
parser                     CI / long run  found and fixed
=========================  =============  ===========================================================
IDX raw + gzip             300 / 6,000    nothing (sizes already checked against the file); plus
                                          every truncation and every header bit flip
CIFAR batch pickles        259 / 3,009    numpy.ndarray callable and _reconstruct with 10^12 bytes
                                          (lazy allocation); BUILD mutated the allowlisted wrappers;
                                          BUILD set a dtype's has-object flag (bytes read as pointers)
CIFAR .tar.gz              60 / 3,000     nothing
safetensors                265 / 3,015    OverflowError (huge shape ints), TypeError (list dtype),
                                          RecursionError (deep JSON), bools taken as sizes
checkpoint file + JSON     270 / 6,000    AttributeError/TypeError/KeyError from wrong-typed
metadata                                  metadata; a spec in the header could allocate 10^12 weights
fit(resume=...), header    200 / 3,000    TypeError/KeyError/OverflowError/ZeroDivisionError, often in
fields mutated                            optimizer.step (tests/robustness/test_fuzz_resume.py)
train_char_lm(resume=...)  60 / 1,000     ValueError/TypeError from the carried state and resume point
model spec TOML/JSON/dict  505 / 6,000    RecursionError (deep TOML/JSON), UnicodeDecodeError, no
                                          size limit, a factory's TypeError without 'spec:'
text (load_text, vocab)    300 / 6,000    ValueError -> DatasetError; unknown encoding (LookupError)
CLI argv                   319 / 3,019    nothing (the parsers above were the failures it reaches)
=========================  =============  ===========================================================
"""

import json
import os

import numpy as np
import pytest
from fuzz_support import fuzz_settings, no_hang
from hypothesis import assume, given
from hypothesis import strategies as st

import nnbasics.data
import nnbasics.demo.xor
import nnbasics.training
import nnbasics.training.ensemble
import nnbasics.training.tbptt
from nnbasics import cli
from nnbasics.data import DatasetNotFoundError
from nnbasics.models import build_model
from nnbasics.training import save_checkpoint


class _Reached(Exception):
    """Raised by the stubbed training functions: the arguments were accepted."""


def _reached(*args, **kwargs):
    raise _Reached


_real_load = nnbasics.data.load_dataset


def _offline_small(name, split="train", root=None, download=True, *, n=None, rng=None, **kwargs):
    from nnbasics.data.catalog import DATASETS

    if DATASETS[name].kind == "file":
        raise DatasetNotFoundError(f"{name}: not on this machine (the fuzz test is offline).")
    return _real_load(name, split, root, download, n=min(n or 64, 64), rng=rng, **kwargs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    run = d / "run"
    run.mkdir()
    model = build_model("mlp", in_features=2, out_features=2, hidden=[3], rng=0)
    save_checkpoint(run / "model.safetensors", model, epoch=1)
    (run / "config.json").write_text(json.dumps({"dataset": "xor"}))
    good = (run / "model.safetensors").read_bytes()
    bad = d / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(good[: len(good) // 2])
    (bad / "config.json").write_text("{not json")
    (d / "x.csv").write_text("0.5,1\n1,0\n")
    (d / "bad.csv").write_text("a,b\n1\n\x00\xff")
    np.save(d / "x.npy", np.ones((2, 2), np.float32))
    np.save(d / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "garbage.npy").write_bytes(b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'")
    (d / "text.txt").write_text("hello world\n" * 20)
    (d / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    (d / "empty.txt").write_text("")
    (d / "spec.toml").write_text('model = "mlp"\nhidden = [1000000, 1000000]\n')
    (d / "bad.toml").write_text("[[[")
    (d / "conf.toml").write_text('epochs = -3\nhidden = "x"\n')
    return d


_FILES = ["run", "bad", "x.csv", "bad.csv", "x.npy", "obj.npy", "garbage.npy", "text.txt", "bin.txt", "empty.txt",
          "spec.toml", "bad.toml", "conf.toml", "missing", "run/model.safetensors", "."]
_COMMANDS = ["train", "evaluate", "predict", "train-lm", "sample", "datasets", "models", "xor"]
_FLAGS = ["--model", "--spec", "--hidden", "--activation", "--init", "--dropout", "--optimizer", "--lr", "--momentum",
          "--weight-decay", "--epochs", "--batch-size", "--seed", "--n-train", "--n-test", "--data-root",
          "--download", "--no-download", "--members", "--combine", "--executor", "--output", "-o", "--progress",
          "--config", "--proba", "--json", "--prime", "--length", "--temperature", "--top-k", "--steps", "--every",
          "--hidden-size", "--time-budget", "--help", "-h", "--", "-"]
_VALUES = ["0", "1", "-1", "2", "1e400", "nan", "inf", "-inf", "0.5", "10000000000000", "xor", "spiral", "sine",
           "fashion-mnist", "mlp", "lenet5", "char-lstm", "relu", "he", "sgd", "thread", "none", "", " ", "é", "\x00"]


@st.composite
def _argv(draw):
    argv = [draw(st.sampled_from(_COMMANDS + ["", "nope", "--help"]))]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            argv.append(draw(st.sampled_from(_FLAGS)))
        elif kind == 1:
            argv.append(draw(st.sampled_from(_VALUES)))
        elif kind == 2:
            argv.append("@" + draw(st.sampled_from(_FILES)))
        else:
            argv.append(draw(st.text(max_size=6)))
    return argv


def _run(argv, workdir, monkeypatch, capsys):
    argv = [str(workdir / a[1:]) if a.startswith("@") else a for a in argv]
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(nnbasics.training, "fit", _reached)
    monkeypatch.setattr(nnbasics.training.ensemble, "train_ensemble", _reached)
    monkeypatch.setattr(nnbasics.training.tbptt, "train_char_lm", _reached)
    monkeypatch.setattr(nnbasics.demo.xor, "run", _reached)
    monkeypatch.setattr(nnbasics.data, "load_dataset", _offline_small)
    try:
        with no_hang(20):
            status = cli.main(argv)
    except _Reached:
        return "reached"
    except SystemExit as e:
        err = capsys.readouterr().err
        assert e.code in (0, 2), f"exit status {e.code!r} for {argv}"
        if e.code == 2:
            assert "error:" in err, err
        return e.code
    assert isinstance(status, int)
    return status


@fuzz_settings(300)
@given(argv=_argv())
def test_fuzz_cli_argv(argv, workdir, monkeypatch, capsys):
    assume(argv[0] != "lab")  # the lab command runs experiments; it has its own tests
    with monkeypatch.context() as m:
        _run(argv, workdir, m, capsys)


@pytest.mark.parametrize("argv", [
    ["evaluate", "@bad"], ["evaluate", "@missing"], ["evaluate", "@x.csv"], ["predict", "@run", "@bad.csv"],
    ["predict", "@run", "@obj.npy"], ["predict", "@run", "@garbage.npy"], ["predict", "@run", "@missing"],
    ["sample", "@run"], ["sample", "@bad"], ["train-lm", "@bin.txt"], ["train-lm", "@empty.txt"], ["train-lm", "@run"],
    ["train", "xor", "--spec", "@spec.toml"], ["train", "xor", "--spec", "@bad.toml"],
    ["train", "xor", "--config", "@conf.toml"], ["train", "xor", "--config", "@bad.toml"],
    ["train", "fashion-mnist", "--no-download"], ["train", "xor", "--lr", "nan"], ["train", "xor", "--epochs", "1e400"],
])
def test_damaged_files_and_values_exit_with_a_message(argv, workdir, monkeypatch, capsys):
    assert _run(argv, workdir, monkeypatch, capsys) == 2


def test_accepted_arguments_reach_training(workdir, monkeypatch, capsys):
    assert _run(["train", "xor", "--epochs", "1", "--hidden", "3"], workdir, monkeypatch, capsys) == "reached"
    assert _run(["predict", "@run", "@x.csv"], workdir, monkeypatch, capsys) == 0
    assert os.path.isdir(workdir / "run")
