"""export without the onnx package: an ImportError that says how to install it, before any work."""

import sys

import numpy as np
import pytest

import nnbasics.onnx as nx
from nnbasics import nn


def test_export_without_onnx_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails as if it were not installed
    net = nn.Sequential(nn.Linear(2, 3, rng=0))
    with pytest.raises(ImportError, match=r"export: .*onnx.*pip install \"nnbasics\[onnx\]\""):
        nx.export(net, np.ones((1, 2), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
