"""docs/pytorch.md runs as written, and what its prose claims comes out."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guides import DOCS, run_guide


def test_guide_runs_and_its_claims_hold(capsys):
    pytest.importorskip("matplotlib")
    ns = run_guide("pytorch.md", min_blocks=2)
    out = capsys.readouterr().out
    assert ns["done"].returncode == 0, ns["done"].stderr
    first = out.splitlines()[0]
    assert first.startswith("0 loss ") and float(first.split()[-1]) >= 0.9  # the XOR script trains
    assert os.path.isfile(os.path.join(ns["folder"], "model.pt"))
    assert ns["xray"]["verdict"] == "not supported" and "vanishing" in ns["xray"]["findings"][0]


def test_guide_names_only_modules_that_exist():
    import importlib

    text = (DOCS / "pytorch.md").read_text()
    for name in ("nnbasics.compat", "nnbasics.onnx", "nnbasics.data", "nnbasics.training"):
        assert f"`{name}" in text or name in text
        importlib.import_module(name)
    assert (DOCS / "interop.md").is_file() and (DOCS.parent / "bench" / "pytorch_corpus.py").is_file()
