"""Report folders are replaced atomically (issue 15 item 8): one rename of a symlink, writers
serialized by a lock file; readers never see a missing or half-written report, whatever fails or is
killed. Fault injection: the N-th os call of a report write fails; writers killed with SIGKILL."""

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnbasics.lab import Report
from nnbasics.lab import publish as publish_module
from nnbasics.lab.publish import OutputError, check_writable, is_published, publish, write_file

# A writer process: publishes reports with a token into TARGET forever (or COUNT times).
WRITER = textwrap.dedent("""
    import sys, uuid
    from nnbasics.lab import Report
    target, count = sys.argv[1], int(sys.argv[2])
    i = 0
    while count <= 0 or i < count:
        token = uuid.uuid4().hex
        r = Report("demo", "Demo " + token, "A claim.")
        r.text("x" * 200000)  # a few hundred kB per file: a write takes a while
        r.metric("token", token)
        r.conclude(True, "token " + token)
        r.write(target)
        i += 1
""")


def _complete(folder):
    """The token of a complete report at ``folder`` (read through one resolved path), or raise."""
    real = Path(os.path.realpath(folder))
    token = json.loads((real / "metrics.json").read_text())["metrics"]["token"]
    page = (real / "report.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>") and f"Demo {token}" in page, "report.html is not the same report"
    md = (real / "report.md").read_text(encoding="utf-8")
    assert f"token {token}" in md
    return token


def _report(token="t0"):
    r = Report("demo", f"Demo {token}", "A claim.")
    r.metric("token", token)
    r.conclude(True, f"token {token}")
    return r


def _leftovers(parent, name="out"):
    store = parent / f".{name}.versions"
    stray = [p.name for p in store.iterdir() if p.name.startswith(("tmp-", "old-"))] if store.exists() else []
    return stray + [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.link-")]


def _versions(parent, name="out"):
    return sorted(p.name for p in (parent / f".{name}.versions").iterdir() if p.name.startswith("v-"))


def test_publish_is_a_symlink_swap_that_keeps_replaced_versions_for_a_grace_period(tmp_path, monkeypatch):
    target = tmp_path / "out"
    for token in ("a", "b", "c"):
        _report(token).write(target)
        assert target.is_symlink() and is_published(target) and _complete(target) == token
    assert len(_versions(tmp_path)) == 3  # replaced seconds ago: readers may still be in them
    monkeypatch.setattr(publish_module, "GRACE_S", 0.0)
    _report("d").write(target)
    assert _versions(tmp_path) == [os.path.basename(os.readlink(target))]  # grace over: only the current one
    assert not os.path.isabs(os.readlink(target))  # relative: the parent folder can be moved
    assert _leftovers(tmp_path) == []


def test_files_and_folders_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        _report().write(tmp_path / "out")
    finally:
        os.umask(old)
    real = os.path.realpath(tmp_path / "out")
    assert oct(os.stat(real).st_mode & 0o777) == oct(0o755)
    assert oct(os.stat(os.path.join(real, "figures")).st_mode & 0o777) == oct(0o755)
    assert oct(os.stat(os.path.join(real, "report.html")).st_mode & 0o777) == oct(0o644)


def test_a_real_folder_holding_an_old_report_is_migrated_and_others_refused(tmp_path):
    legacy = tmp_path / "out"
    legacy.mkdir()
    (legacy / "report.html").write_text("old layout")
    _report("new").write(legacy)
    assert legacy.is_symlink() and _complete(legacy) == "new" and _leftovers(tmp_path) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="holds no earlier report"):
        _report().write(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        _report().write(tmp_path / "file")


@pytest.mark.parametrize("where", ["/etc/passwd/x", "file/below"])
def test_check_writable_refuses_before_any_work(tmp_path, where):
    (tmp_path / "file").write_text("x")
    path = where if where.startswith("/") else tmp_path / where
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_check_writable_refuses_a_read_only_parent(tmp_path, monkeypatch):
    # A read-only filesystem (EROFS) as the write probe meets it; and a parent the user may not write.
    real_mkdir = os.mkdir

    def read_only(path, *a, **k):
        if ".nnbasics-probe-" in str(path):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(path, *a, **k)

    with monkeypatch.context() as m:
        m.setattr(os, "mkdir", read_only)
        with pytest.raises(OutputError, match="Read-only file system"):
            check_writable(tmp_path / "deeper" / "out")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(OutputError, match="not writable"):
        check_writable(tmp_path / "deeper" / "out")
    assert list(tmp_path.iterdir()) == []


PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def _with_figure(token):
    r = _report(token)
    r.figure(PNG, "f", "a figure")
    return r


def test_every_failing_filesystem_call_of_a_report_write_leaves_a_complete_report(tmp_path):
    # tests/faults.py (SQLite-style): the N-th open/write/fsync/mkdir/symlink/replace fails with ENOSPC, EIO, EROFS
    from faults import check_every_fault

    target, attempt = tmp_path / "out", {"n": 0}

    def setup():
        _with_figure("old").write(target)

    def operation():
        attempt["n"] += 1
        _with_figure(f"new{attempt['n']}").write(target)

    def check(raised):
        token = _complete(target)  # old or new, complete, whatever failed
        assert token == ("old" if raised else f"new{attempt['n']}")
        assert _leftovers(tmp_path) == []  # no temporary version or link left behind

    n = check_every_fault(operation, check, setup=setup, expect=(OSError, OutputError))
    assert n >= 25  # every file write, fsync, mkdir, symlink and rename of a write is one of them


def test_a_writer_killed_at_every_filesystem_call_leaves_a_complete_report(tmp_path):
    from faults import check_every_kill

    target = tmp_path / "out"
    setup_code = f"""
from nnbasics.lab import Report
r = Report("demo", "Demo new", "A claim.")
r.figure({PNG!r}, "f", "a figure")
r.metric("token", "new")
r.conclude(True, "token new")
"""

    def before():
        _with_figure("old").write(target)

    def check():
        assert _complete(target) in ("old", "new")  # never missing, never half of one

    n = check_every_kill(setup_code, f"r.write({str(target)!r})", check, before=before)
    assert n >= 25
    _report("last").write(target)  # the next writer removes what the killed ones left
    assert _complete(target) == "last" and _leftovers(tmp_path) == []


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(os.path.dirname(__file__), "..", "..", "src"),
                                         env.get("PYTHONPATH", "")])
    return env


def test_concurrent_writers_are_serialized_and_readers_always_see_a_report(tmp_path):
    target = tmp_path / "out"
    _report("first").write(target)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(target), "15"], env=_env(),
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    reads, seen = 0, set()
    while any(w.poll() is None for w in writers):
        seen.add(_complete(target))  # raises if a reader ever finds no report or half of one
        reads += 1
    errors = [w.stderr.read() for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    assert reads > 10 and len(seen) > 2
    _complete(target)
    assert _leftovers(tmp_path) == []
    assert 2 <= len(_versions(tmp_path)) <= 46  # replaced ones kept for readers for GRACE_S


def test_publish_cleans_a_failed_fill_and_write_file_refuses_to_overwrite(tmp_path):
    def fill(folder):
        write_file(folder / "a.txt", b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        publish(tmp_path / "out", fill)
    assert not os.path.lexists(tmp_path / "out") and _leftovers(tmp_path) == []
    write_file(tmp_path / "f", b"1")
    with pytest.raises(FileExistsError):
        write_file(tmp_path / "f", b"2")
