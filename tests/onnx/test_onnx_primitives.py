"""Every primitive's ONNX mapping, one small model per op and setting (primitive_cases.py): exported at
batch 3, run in onnxruntime at batches 5 and 1, equal to nnbasics within 1e-5 abs / 1e-4 rel, at the
oldest and the newest opset."""

import warnings

import onnx
import pytest
from onnx_roundtrip import roundtrip_batches
from primitive_cases import CASES, Fn

import nnbasics.onnx as nx

NEWEST = onnx.defs.onnx_opset_version()


@pytest.mark.parametrize("opset", [nx.MIN_OPSET, NEWEST])
@pytest.mark.parametrize("case", sorted(CASES))
def test_primitive_exports_and_matches(case, opset, rng, tmp_path):
    forward, inputs, params = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every case keeps its batch dynamic: no fallback warning
        roundtrip_batches(Fn(forward, **params), inputs, tmp_path, rng, opset=opset)
