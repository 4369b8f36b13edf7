"""The op recorder (autograd.recording) and the tracer built on it (nnbasics.onnx.trace)."""

import threading

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import autograd, nn
from nnbasics.onnx.trace import trace


class _Collect:
    def __init__(self, into):
        self.into = into

    def __call__(self, *args):
        self.into.append(args)


def _names(records):
    return [op if isinstance(op, str) else op.__name__ for op, *_ in records]


def test_recording_sees_every_op_with_or_without_grad():
    x = nb.randn(2, 3, rng=0, requires_grad=True)
    for grad in (True, False):
        seen = []
        with autograd.set_grad_enabled(grad), autograd.recording(_Collect(seen)):
            y = (x * 2.0).sum(1)
            _ = (y > 0).long()
        assert _names(seen) == ["Mul", "Sum", "compare", "cast"]
        _, inputs, params, out = seen[1]
        assert inputs[0] is seen[0][3] and params == {"axes": (1,), "keep": False} and out is y
    assert autograd._RECORDING == 0


def test_recording_is_context_local_and_ends_on_errors():
    seen, other = [], []
    started, done = threading.Event(), threading.Event()

    def worker():
        started.wait()
        with autograd.recording(lambda *a: other.append(a)):
            nb.ones(2) - 1.0  # recorded by its own recorder only
        nb.ones(2) / 2.0  # recorded by nobody
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with pytest.raises(ZeroDivisionError), autograd.recording(lambda *a: seen.append(a)):
        nb.ones(2) * 3.0
        started.set()
        done.wait(10)
        raise ZeroDivisionError
    t.join()
    assert _names(seen) == ["Mul"] and _names(other) == ["Sub"]
    assert autograd._RECORDING == 0
    nb.ones(2) + 1.0  # no recorder: nothing is called


def test_innermost_recorder_receives_the_ops():
    outer, inner = [], []
    with autograd.recording(lambda *a: outer.append(a)):
        nb.ones(2) + 1.0
        with autograd.recording(lambda *a: inner.append(a)):
            nb.ones(2) * 1.0
        nb.ones(2) - 1.0
    assert _names(outer) == ["Add", "Sub"] and _names(inner) == ["Mul"]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3, rng=0)

    def forward(self, x):
        h = self.fc(x)
        return h * 0.5  # block line


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x.relu()  # net line


def test_trace_records_scopes_lines_references_and_removes_its_hooks():
    net = Net().eval()
    x = nb.tensor(np.ones((2, 3), np.float32))
    tr = trace(net, [x], [x])
    ops = [(r.op_name, r.scope) for r in tr.records]
    assert ops == [("Linear", "blocks.0.fc"), ("Mul", "blocks.0"), ("Linear", "blocks.1.fc"), ("Mul", "blocks.1"),
                   ("ReLU", "")]
    assert "test_onnx_trace.py" in tr.records[1].where and "# block line" in tr.records[1].where
    assert "# net line" in tr.records[4].where
    assert tr.records[0].inputs == [("input", 0), ("param", "blocks.0.fc.weight"), ("param", "blocks.0.fc.bias")]
    assert tr.records[1].inputs == [("out", 0, 0), ("const", 0)] and tr.outputs == ("out", 4, 0)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_export_leaves_gradients_and_grad_mode_alone(tmp_path):
    import nnbasics.onnx as nx

    net = nn.Sequential(nn.Linear(3, 2, rng=0))
    nx.export(net, nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    assert all(p.grad is None and p.requires_grad for p in net.parameters())
    assert autograd.is_grad_enabled() and autograd._RECORDING == 0


def test_dict_and_nested_outputs_are_flattened_in_order(tmp_path):
    import onnx

    import nnbasics.onnx as nx

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2, rng=0)

        def forward(self, x):
            return {"logits": self.fc(x), "extra": (x.sum(1), None, x * 2.0)}

    proto = nx.export(Heads(), nb.randn(2, 3, rng=0), tmp_path / "m.onnx")
    assert [o.name for o in proto.graph.output] == ["output", "output_1", "output_2"]
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)
