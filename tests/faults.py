"""Fault injection at every filesystem call of an operation (SQLite's crash tests, for files we write).

An operation that writes files (a checkpoint save, a run folder, a report) must leave the
previous state loadable whatever call fails: the N-th ``open``, ``write``, ``fsync``,
``replace``... This module makes exactly that call fail, for every N, and lets the test check
the files afterwards.

Counted calls (while a plan is active): ``open``/``io.open``/``os.open`` (any mode), the
``write``/``writelines``/``flush``/``truncate``/``close`` of files opened that way or with
``os.fdopen``, ``os.write``, ``os.fsync``, ``os.fdatasync``, ``os.replace``, ``os.rename``,
``os.link``, ``os.symlink``, ``os.mkdir`` (``os.makedirs`` goes through it), ``os.chmod``,
``os.fchmod``, ``os.ftruncate``. Cleanup calls (``os.unlink``, ``os.remove``, ``os.rmdir``) are
counted only with ``cleanup=True``: an operation cannot be blamed for a temporary file left
when its removal fails too.

Two kinds of fault at call N:

* an ``OSError`` with an errno (``ENOSPC``, ``EIO``, ``EROFS``, ``EFBIG``...), raised instead of
  the call; a failing ``write`` first writes half of its data, as a full disk does;
* a kill (``SIGKILL``, no cleanup, no ``finally``) in a child process, just before the call
  (after half of a ``write``'s data).

Use, in a test (``tests/`` is on the import path)::

    from faults import check_every_fault, check_every_kill

    def save():                      # the operation
        save_checkpoint(path, new_model, opt, epoch=2)

    def check(raised):               # the state after it: previous if it raised, else new
        loaded = load_checkpoint(path, twin)
        assert loaded.epoch == (1 if raised else 2)
        assert not leftovers(tmp_path)

    n = check_every_fault(save, check, setup=restore_previous_file)   # N x (ENOSPC, EIO, EROFS)

    # the same with kill -9 at every call, the operation as code run in a child process
    check_every_kill(setup_code, operation_code, check_killed)

Lower level: ``count_calls(fn)`` returns the calls one run makes (``[("os.open", path), ...]``),
``inject(n, errno)`` is a context manager making call ``n`` (1-based) fail.
"""

from __future__ import annotations

import builtins
import contextlib
import errno as errno_module
import io
import os
import signal
import subprocess
import sys
import textwrap

__all__ = ["ERRNOS", "Plan", "check_every_fault", "check_every_kill", "count_calls", "inject", "run_child"]

#: The errors a write can meet on a real machine: a full disk, a failing disk, a read-only filesystem.
ERRNOS = ("ENOSPC", "EIO", "EROFS")

_OS_CALLS = ("open", "write", "fsync", "fdatasync", "replace", "rename", "link", "symlink", "mkdir", "chmod",
             "fchmod", "ftruncate")
_CLEANUP = ("unlink", "remove", "rmdir")
_ORIGINAL = {name: getattr(os, name) for name in _OS_CALLS + _CLEANUP + ("fdopen",) if hasattr(os, name)}
_OPEN = builtins.open


class Plan:
    """What to do at which call: count only (``at=None``), raise ``OSError(errno)``, or ``kill`` the process."""

    def __init__(self, at=None, errno=None, kill=False, cleanup=False):
        self.at, self.kill, self.cleanup = at, kill, cleanup
        self.errno = getattr(errno_module, errno) if isinstance(errno, str) else errno
        self.calls = []  # (name, target) of every counted call
        self.fired = None

    def hit(self, name, target):
        """Count a call; True when this is the one that must fail (the caller then fails it)."""
        self.calls.append((name, target))
        if self.at is None or len(self.calls) != self.at:
            return False
        self.fired = (name, target)
        return True

    def fail(self, target):
        if self.kill:
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(self.errno, os.strerror(self.errno), str(target))


_active: list = []  # the plan in force (at most one)


def _plan():
    return _active[-1] if _active else None


class _File:
    """A file object whose writing methods are counted; everything else is the real file's."""

    def __init__(self, f, target):
        self._f, self._target = f, target

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __iter__(self):
        return iter(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _counted(self, name):
        plan = _plan()
        return plan is not None and plan.hit(f"file.{name}", self._target)

    def write(self, data):
        if self._counted("write"):
            self._f.write(data[: len(data) // 2])  # a full disk takes part of the data first
            self._f.flush()
            _plan().fail(self._target)
        return self._f.write(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._counted("flush"):
            _plan().fail(self._target)
        return self._f.flush()

    def truncate(self, *a):
        if self._counted("truncate"):
            _plan().fail(self._target)
        return self._f.truncate(*a)

    def close(self):
        if not self._f.closed and self._counted("close"):
            try:
                _plan().fail(self._target)
            finally:  # the descriptor is released even when close reports an error, as on Linux
                with contextlib.suppress(OSError):
                    self._f.close()
        return self._f.close()


def _wrap_open(real, name):
    def opened(file, *args, **kwargs):
        plan = _plan()
        if plan is not None and plan.hit(name, file):
            plan.fail(file)
        f = real(file, *args, **kwargs)
        return _File(f, file) if plan is not None and not isinstance(f, int) else f

    return opened


def _wrap_os(name):
    real = _ORIGINAL[name]

    def call(*args, **kwargs):
        plan = _plan()
        if plan is not None and (name not in _CLEANUP or plan.cleanup) and plan.hit(f"os.{name}", args[0] if args
                                                                                     else None):
            if name == "write" and len(args) >= 2:  # half the bytes first, as a full disk does
                real(args[0], bytes(args[1])[: len(args[1]) // 2])
            plan.fail(args[0] if args else None)
        return real(*args, **kwargs)

    return call


def _fdopen(fd, *args, **kwargs):
    f = _ORIGINAL["fdopen"](fd, *args, **kwargs)
    return _File(f, f"fd {fd}") if _plan() is not None else f


@contextlib.contextmanager
def _installed(plan: Plan):
    saved = {name: getattr(os, name) for name in _ORIGINAL}
    saved_open, saved_io_open = builtins.open, io.open
    try:
        for name in _OS_CALLS + _CLEANUP:
            if name in _ORIGINAL:
                setattr(os, name, _wrap_os(name))
        os.fdopen = _fdopen
        builtins.open = io.open = _wrap_open(_OPEN, "open")
        _active.append(plan)
        yield plan
    finally:
        _active.remove(plan)
        for name, fn in saved.items():
            setattr(os, name, fn)
        builtins.open, io.open = saved_open, saved_io_open


def count_calls(fn, cleanup=False) -> list:
    """Run ``fn()`` and return its counted calls, ``[(name, target), ...]`` in order."""
    with _installed(Plan(cleanup=cleanup)) as plan:
        fn()
    return list(plan.calls)


@contextlib.contextmanager
def inject(n: int, errno="ENOSPC", cleanup=False):
    """Within the block, the ``n``-th counted call (1-based) raises ``OSError(errno)``; yields the Plan."""
    with _installed(Plan(at=n, errno=errno, cleanup=cleanup)) as plan:
        yield plan


def check_every_fault(operation, check, *, errnos=ERRNOS, setup=None, expect=(OSError,)) -> int:
    """For every counted call of ``operation`` and every errno: fail that call, then ``check(raised)``.

    Args:
        operation: a callable doing the writes under test.
        check: ``check(raised: bool)`` asserts the state after the attempt: ``raised`` is True when
            the operation raised (then the previous state must be intact), False when it
            completed despite the fault (a failure it may ignore, such as a directory fsync).
        errnos: the errors to inject (names or numbers).
        setup: called before every attempt to restore the previous state.
        expect: the exception types the operation may raise; anything else fails the test.

    Returns:
        int: the number of counted calls of one clean run (so a test can assert it is not 0).
    """
    if setup is not None:
        setup()
    calls = count_calls(operation)
    assert calls, "the operation made no filesystem call to fail"
    for n in range(1, len(calls) + 1):
        for err in errnos:
            if setup is not None:
                setup()
            raised = False
            with inject(n, err) as plan:
                try:
                    operation()
                except expect as e:
                    raised = True
                    assert plan.fired is not None, f"call {n} raised {e!r} before the fault fired"
            assert plan.fired is not None, f"call {n} of {len(calls)} ({calls[n - 1]}) was not reached"
            try:
                check(raised)
            except AssertionError as e:
                raise AssertionError(f"after {err} at call {n}/{len(calls)} {plan.fired}: {e}") from e
    return len(calls)


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
import faults
{setup}
with faults._installed(faults.Plan(at={at}, kill=True, cleanup={cleanup})) as _plan:
{code}
print("FAULT_CALLS", len(_plan.calls))
"""


def run_child(setup_code: str, code: str, at=None, cleanup=False, timeout=120):
    """Run ``setup_code`` then ``code`` in a child, killed (SIGKILL) at counted call ``at`` of ``code``.

    Returns the CompletedProcess; ``at=None`` only counts (the child prints ``FAULT_CALLS n``).
    """
    body = textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")
    script = _CHILD.format(tests=os.path.dirname(os.path.abspath(__file__)), setup=textwrap.dedent(setup_code),
                           at=at, cleanup=cleanup, code=body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True,
                          timeout=timeout, env=env)


def check_every_kill(setup_code: str, code: str, check, *, before=None) -> int:
    """Kill a child running ``code`` at each of its counted calls in turn; ``check()`` after each kill.

    ``before()`` restores the previous state before each child; ``setup_code`` runs in the child
    before counting starts (imports, building the objects). Returns the number of calls.
    """
    if before is not None:
        before()
    proc = run_child(setup_code, code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    n = int(proc.stdout.split("FAULT_CALLS")[-1])
    assert n > 0, "the operation made no filesystem call to kill at"
    for at in range(1, n + 1):
        if before is not None:
            before()
        proc = run_child(setup_code, code, at=at)
        assert proc.returncode == -signal.SIGKILL, f"call {at}: exit {proc.returncode}: {proc.stderr[-2000:]}"
        try:
            check()
        except AssertionError as e:
            raise AssertionError(f"after a kill at call {at}/{n}: {e}") from e
    return n
