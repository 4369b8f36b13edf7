"""``nnbasics train --members K`` keeps every finished member: Ctrl-C, a failed save or a kill between
members leaves them in the run folder, and ``--resume`` trains only the missing seeds, giving the
ensemble an uninterrupted run gives."""

import json

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.io.safetensors import load_file
from nnbasics.training import ensemble as ensemble_module
from nnbasics.training.checkpoint import read_checkpoint_metadata

ARGS = ["train", "blobs", "--members", "3", "--executor", "serial", "--n-train", "90", "--n-test", "60",
        "--hidden", "8", "--epochs", "2", "--seed", "5", "--progress", "none"]


def _stop_at(monkeypatch, seed, error=KeyboardInterrupt):
    """Members train as before, except that the one with ``seed`` raises ``error`` (Ctrl-C by default)."""
    real = ensemble_module._train_member
    trained = []

    def member(job):
        if job["seed"] == seed:
            raise error()
        trained.append(job["seed"])
        return real(job)

    monkeypatch.setattr(ensemble_module, "_train_member", member)
    return trained


def _refused(argv) -> None:
    """``main(argv)`` stops with exit status 2 (a usage error: one message, no traceback)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def _weights(folder):
    return {k: v for k, v in load_file(folder / "last.safetensors")[0].items() if "/" not in k}


@pytest.fixture
def uninterrupted(tmp_path):
    out = tmp_path / "whole"
    assert main([*ARGS, "--output", str(out)]) == 0
    return out


def test_ctrl_c_keeps_finished_members_and_resume_trains_only_the_rest(tmp_path, monkeypatch, capsys,
                                                                       uninterrupted):
    out = tmp_path / "ens"
    _stop_at(monkeypatch, 7)
    assert main([*ARGS, "--output", str(out)]) == 130
    err = capsys.readouterr().err
    assert "holds 2 finished members of 3" in err and f"nnbasics train --resume {out}" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["parts"]) == ["config.json", "member-5.safetensors", "member-6.safetensors"]
    assert manifest["info"]["finished"] is False and manifest["info"]["members_done"] == [5, 6]
    assert read_checkpoint_metadata(out / "member-6.safetensors")["extra"]["member"]["seed"] == 6

    # evaluate says what to do instead of calling the folder damaged
    _refused(["evaluate", str(out)])
    assert "stopped after 2 of its 3 members" in capsys.readouterr().err

    monkeypatch.undo()
    trained = _stop_at(monkeypatch, None)
    assert main(["train", "--resume", str(out), "--progress", "none"]) == 0
    assert trained == [7]  # only the missing member trained again
    assert "resuming: 2 members already trained (seeds [5, 6]); training seeds [7]" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["parts"]) == ["config.json", "history.json", "last.safetensors", "report.json"]
    assert not list(out.glob("member-*"))
    whole = _weights(uninterrupted)
    resumed = _weights(out)
    assert sorted(whole) == sorted(resumed)
    for k in whole:
        np.testing.assert_array_equal(resumed[k], whole[k])
    assert (json.loads((out / "report.json").read_text())
            == json.loads((uninterrupted / "report.json").read_text()))


def test_resume_of_an_ensemble_refuses_changed_settings_and_a_finished_one(tmp_path, monkeypatch, capsys,
                                                                           uninterrupted):
    out = tmp_path / "ens"
    _stop_at(monkeypatch, 6)
    assert main([*ARGS, "--output", str(out)]) == 130
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    _refused(["train", "--resume", str(out), "--epochs", "3"])  # members must train alike
    assert "--epochs (the run's: 2)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # a refused resume changes nothing
    _refused(["train", "--resume", str(uninterrupted), "--epochs", "4"])
    assert "members all finished" in capsys.readouterr().err


def test_a_damaged_member_file_is_one_message(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ens"
    _stop_at(monkeypatch, 6)
    assert main([*ARGS, "--output", str(out)]) == 130
    path = out / "member-5.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    capsys.readouterr()
    _refused(["train", "--resume", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(out) in err


def test_a_member_that_fails_keeps_the_members_before_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ens"
    _stop_at(monkeypatch, 7, error=lambda: OSError(28, "No space left on device"))
    _refused([*ARGS, "--output", str(out)])
    err = capsys.readouterr().err
    assert "the member with seed 7 failed" in err and "keeps the 2 finished members" in err and "Traceback" not in err
    assert sorted(p.name for p in out.glob("member-*")) == ["member-5.safetensors", "member-6.safetensors"]


def test_members_are_handed_on_as_they_finish(monkeypatch):
    """The library's on_member sees each member before the next one starts (serial executor)."""
    events = []
    real = ensemble_module._train_member

    def member(job):
        events.append(("train", job["seed"]))
        return real(job)

    monkeypatch.setattr(ensemble_module, "_train_member", member)
    X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    spec = {"model": "mlp", "in_features": 2, "hidden": [4], "out_features": 2}
    done = {}
    ens = ensemble_module.train_ensemble(spec, (X, y), seeds=[0, 1, 2], epochs=1, executor="serial",
                                         on_member=lambda r: events.append(("saved", r["seed"])))
    assert events == [("train", 0), ("saved", 0), ("train", 1), ("saved", 1), ("train", 2), ("saved", 2)]
    done = {0: {"state": {k: v._array for k, v in ens.members[0].state_dict().items()}, "history": None}}
    events.clear()
    again = ensemble_module.train_ensemble(spec, (X, y), seeds=[0, 1, 2], epochs=1, executor="serial", finished=done)
    assert events == [("train", 1), ("train", 2)]
    for a, b in zip(ens.parameters(), again.parameters()):
        np.testing.assert_array_equal(a._array, b._array)
    with pytest.raises(ValueError, match="seed 9"):
        ensemble_module.train_ensemble(spec, (X, y), seeds=[0, 1], epochs=1, executor="serial", finished={9: done[0]})
