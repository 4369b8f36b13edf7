"""docs/reading-the-code.md: its code runs, its claims come out, and it names the real files and kernel."""

from __future__ import annotations

import pathlib
import re

import pytest
from guides import DOCS, code_blocks, run_guide

import nnbasics
from nnbasics import dispatch

SRC = pathlib.Path(nnbasics.__file__).resolve().parent
GUIDE = (DOCS / "reading-the-code.md").read_text(encoding="utf-8")


@pytest.mark.usefixtures("kernels_on")  # the guide shows the default mode (kernels on) next to reference mode
def test_the_guide_runs_and_prints_what_it_says(capsys, monkeypatch):
    monkeypatch.setattr(dispatch, "_registered", dict(dispatch._registered))  # the guide's own kernel goes after
    ns = run_guide("reading-the-code.md", min_blocks=10)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "None MatMul True"
    assert out[1].startswith("['Sum', 'ReLU', 'MatMul'] [[1.0, -2.0, 3.0], [1.0, -2.0, 3.0]]")
    assert ns["check"].max_rel_error[0] < 1e-8
    assert "[[-0.2144, 0.1753, 0.0391]]" in out[3]  # softmax - onehot
    assert out[5] == "True" and out[6] == "3"  # SGD lowered the loss; fit ran three epochs
    assert out[7] == "nnbasics.kernels.elementwise nnbasics.ops.elementwise True"
    assert out[8] == "True True True [3.0, 12.0, 27.0]"


def test_the_guide_quotes_the_real_relu_kernel():
    (excerpt,) = code_blocks(GUIDE, lang="py")
    assert excerpt in (SRC / "kernels" / "elementwise.py").read_text(encoding="utf-8")


def test_every_file_the_guide_names_exists_and_every_op_module_is_named():
    named = set(re.findall(r"\*\*`?([a-z_]+/[a-z_]+\.py)`?\*\*", GUIDE))
    assert named and not [f for f in named if not (SRC / f).is_file()]
    ops = {f"ops/{p.name}" for p in (SRC / "ops").glob("*.py") if p.name != "__init__.py"}
    assert not ops - named, f"op modules the guide does not describe: {sorted(ops - named)}"
