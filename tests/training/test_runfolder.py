"""RunFolder: a run folder is one transaction (issue 15 items 7 and 9).

Fault injection with the shared harness (tests/faults.py), SQLite-style: for every filesystem
call N of a commit (open, write, fsync, replace...), the N-th call fails with ENOSPC, EIO, EROFS
or EFBIG, or the process is killed there (SIGKILL in a child: no cleanup runs). After each: the
folder reads exactly as the previous generation or the new one, never a mixture; a failed
commit leaves no temporary file; after a kill, the next writer's recover() leaves none either
and the run goes on.
"""

import json
import os

import pytest
from faults import check_every_fault, check_every_kill

from nnbasics.training.runfolder import MANIFEST, RunFolder, RunFolderError

OLD = {"last.safetensors": b"old weights" * 50, "history.json": b'{"loss": [1.0]}', "config.json": b'{"a": 1}',
       "history.png": b"old plot"}
NEW = {"last.safetensors": b"new weights" * 60, "history.json": b'{"loss": [1.0, 0.5]}',
       "best.safetensors": b"best" * 10}
NEW_STATE = {**{k: v for k, v in OLD.items() if k != "history.png"}, **NEW}


def _state(path):
    folder = RunFolder(path)
    m = folder.verify()
    return {name: folder.read_bytes(name, m) for name in m["parts"]}


def _temporaries(path):
    return sorted(n for n in os.listdir(path) if n.endswith((".pending", ".tmp")))


def _restore(path):
    """The previous state: a folder holding generation 1 (OLD) and nothing else."""
    def setup():
        if path.exists():
            for n in os.listdir(path):
                os.unlink(path / n)
        RunFolder(path).commit(OLD, info={"epoch": 1})

    return setup


def test_a_commit_replaces_every_part_at_once_and_readers_check_hashes(tmp_path):
    path = tmp_path / "run"
    _restore(path)()
    RunFolder(path).commit(NEW, info={"epoch": 2}, remove=["history.png"])
    folder = RunFolder(path)
    assert _state(path) == NEW_STATE and not (path / "history.png").exists()
    assert folder.manifest()["generation"] == 2 and folder.manifest()["info"] == {"epoch": 2}
    (path / "config.json").write_bytes(b'{"a": 2}')  # edited by hand
    with pytest.raises(RunFolderError, match="config.json does not match the run's manifest.json"):
        folder.verify()


def test_a_failing_call_anywhere_leaves_the_old_or_the_new_run_and_no_temporary(tmp_path):
    path = tmp_path / "run"
    outcomes = set()

    def commit():
        RunFolder(path).commit(NEW, info={"epoch": 2}, remove=["history.png"])

    def check(raised):
        outcomes.add(raised)
        if raised:  # before the commit point: exactly as before, nothing left behind
            assert _state(path) == OLD and _temporaries(path) == []
        else:  # after it: the new run (a rename that failed is finished by the next writer)
            assert _state(path) == NEW_STATE
            RunFolder(path).recover()
            assert _temporaries(path) == [] and _state(path) == NEW_STATE

    n = check_every_fault(commit, check, setup=_restore(path), errnos=("ENOSPC", "EIO", "EROFS"),
                          expect=(OSError, RunFolderError))
    assert n >= 20 and outcomes == {True, False}  # the faults reached both sides of the commit point


def test_a_kill_anywhere_leaves_a_loadable_run_that_the_next_writer_finishes(tmp_path):
    path = tmp_path / "run"
    seen = []

    def check():
        state = _state(path)  # a reader right after the kill, temporaries still there
        assert state in (OLD, NEW_STATE)
        seen.append(state == NEW_STATE)
        RunFolder(path).recover()
        assert _temporaries(path) == [] and _state(path) == state
        RunFolder(path).commit({"config.json": b'{"a": 3}'}, info={"epoch": 3})  # and the run goes on
        assert _state(path)["config.json"] == b'{"a": 3}'

    setup = f"from nnbasics.training.runfolder import RunFolder\nfolder = RunFolder({str(path)!r})"
    code = f"folder.commit({NEW!r}, info={{'epoch': 2}}, remove=['history.png'])"
    n = check_every_kill(setup, code, check, before=_restore(path))
    assert n >= 20 and any(seen) and not all(seen)
    assert sum(seen) >= 3  # killed between the commit point and the last rename: readers took the pending copies


def test_hostile_manifests_are_refused_with_a_message(tmp_path):
    _restore(tmp_path / "hostile")()
    folder = RunFolder(tmp_path / "hostile")
    path = folder.path / MANIFEST
    good = json.loads(path.read_text())
    cases = {
        "not json": b"{nope",
        "not utf-8": b"\xff\xfe{}",
        "a list": b"[1, 2]",
        "deeply nested": b"[" * 100000 + b"]" * 100000,
        "huge": b" " * (2 << 20),
        "a path as a part": json.dumps({**good, "parts": {"../x": good["parts"]["config.json"]}}).encode(),
        "a bad size": json.dumps({**good, "parts": {"config.json": {"sha256": "0" * 64, "size": -1}}}).encode(),
        "a bool generation": json.dumps({**good, "generation": True}).encode(),
        "another version": json.dumps({**good, "version": 99}).encode(),
    }
    for what, data in cases.items():
        path.write_bytes(data)
        with pytest.raises(RunFolderError) as info:
            folder.verify()
        assert str(folder.path) in str(info.value), what


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        RunFolder(tmp_path / "r").commit({"a.txt": b"x"})
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "r" / "a.txt").st_mode & 0o777) == oct(0o640)
    assert oct(os.stat(tmp_path / "r" / MANIFEST).st_mode & 0o777) == oct(0o640)


def test_two_writers_cannot_hold_the_folder(tmp_path):
    folder = RunFolder(tmp_path / "r")
    with folder.lock(), pytest.raises(RunFolderError, match="being written by another nnbasics process"), \
            RunFolder(tmp_path / "r").lock():
        pass
