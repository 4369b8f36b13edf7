"""Fixtures for the compat tests: write a PyTorch script into a temporary folder and run it with nnbasics run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnbasics.compat.runner import run_script

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def script(tmp_path):
    """``script(source, name="main.py")``: write a dedented script into ``tmp_path``; returns its path."""

    def write(source, name="main.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """``run(path, *args) -> (status, stdout, stderr)``: nnbasics run in this process, from ``tmp_path``."""

    def go(path, *args, xray=None):
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        status = run_script(str(path), list(args), xray=xray)
        out, err = capsys.readouterr()
        return status, out, err

    return go


@pytest.fixture
def cli(tmp_path):
    """``cli(*argv) -> CompletedProcess``: ``python -m nnbasics ARGV`` in a subprocess, from ``tmp_path``."""

    def go(*argv, timeout=120):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
                   MPLBACKEND="Agg")
        return subprocess.run([sys.executable, "-m", "nnbasics", *map(str, argv)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    return go


@pytest.fixture
def both(script, run, torch, tmp_path, monkeypatch):
    """``both(source) -> (nnbasics_result, torch_result)``: one script under nnbasics run and under real torch.

    The script saves what it computed with ``save(obj)`` (JSON; tensors as nested lists); the two
    dicts are returned for comparison.
    """
    import json
    import runpy

    prelude = textwrap.dedent("""
        import json as _json, os as _os
        def _plain(v):
            if hasattr(v, "tolist"):
                return v.tolist()
            if isinstance(v, dict):
                return {str(k): _plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [_plain(x) for x in v]
            return v
        def save(obj):
            with open(_os.environ["COMPAT_OUT"], "w") as f:
                _json.dump(_plain(obj), f)
    """)

    def go(source):
        path = script(prelude + textwrap.dedent(source))
        monkeypatch.setenv("COMPAT_OUT", str(tmp_path / "nnbasics.json"))
        status, _out, err = run(path)
        assert status == 0, err
        monkeypatch.setenv("COMPAT_OUT", str(tmp_path / "torch.json"))
        runpy.run_path(str(path), run_name="__main__")
        return (json.loads((tmp_path / "nnbasics.json").read_text()), json.loads((tmp_path / "torch.json").read_text()))

    return go
