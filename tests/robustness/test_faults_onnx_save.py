"""Saving an ONNX model is a transaction too (issue 15 item 9, a write path the issue does not list).

``nnbasics.onnx.export`` already wrote atomically; ``ONNXProgram.save(path)`` (what
``torch.onnx.export(..., dynamo=True)`` returns, used by scripts under ``nnbasics run``) opened
the destination and wrote into it, so a full disk or a kill mid-write left a truncated model
where the previous one was. Every counted filesystem call of the save is made to fail (ENOSPC,
EIO, EROFS): the previous file or the new one is there, whole, and no temporary. (A kill -9 at each
call was checked once with ``faults.check_every_kill``, 30 s; the write is the same atomic_write_bytes
as a checkpoint's, whose kill test runs in CI.)
"""

import os

from faults import check_every_fault

import nnbasics as nb
import nnbasics.onnx as nx
from nnbasics import nn


def _program(seed):
    return nx.torch_export(nn.Linear(3, 2, rng=seed).eval(), (nb.randn(2, 3, rng=0),), dynamo=True)


def test_every_fault_during_onnxprogram_save_keeps_the_previous_model(tmp_path):
    path = tmp_path / "m.onnx"
    old, new = _program(0), _program(1)
    old_bytes, new_bytes = old.model_proto.SerializeToString(), new.model_proto.SerializeToString()

    def restore():
        path.write_bytes(old_bytes)

    def check(raised):
        assert path.read_bytes() == (old_bytes if raised else new_bytes)
        assert sorted(os.listdir(tmp_path)) == ["m.onnx"], os.listdir(tmp_path)

    assert check_every_fault(lambda: new.save(path), check, setup=restore) >= 3
