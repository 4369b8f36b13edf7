"""The probes (gradient_norms, init_report) leave a model as found, also when they fail midway."""

import numpy as np
import pytest

from nnbasics.diagnostics import gradient_norms
from nnbasics.diagnostics.layers import kept_as_found
from nnbasics.models.mlp import mlp


def test_a_failing_probe_restores_grads_modes_and_hooks():
    net = mlp(in_features=3, hidden=[5], out_features=2, dropout=0.5, rng=0)
    net.eval()
    marker = [np.full(p.shape, 7.0, dtype=np.float32) for p in net.parameters()]
    for p, g in zip(net.parameters(), marker, strict=True):
        p.grad = g

    def bad_loss(out, y):
        raise RuntimeError("loss blew up")

    with pytest.raises(RuntimeError, match="blew up"):
        gradient_norms(net, np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]), loss=bad_loss, train=True)
    assert not any(m.training for m in net.modules())
    assert all(p.grad is g for p, g in zip(net.parameters(), marker, strict=True))
    assert all(not m._forward_hooks for m in net.modules())


def test_kept_as_found_removes_the_handles_it_was_given():
    net = mlp(in_features=3, hidden=[5], out_features=2, rng=0)
    calls = []
    with kept_as_found(net) as handles:
        handles.append(net.register_forward_hook(lambda m, a, o: calls.append(1)))
        net.train(False)
        net(np.ones((1, 3), np.float32))
    net(np.ones((1, 3), np.float32))
    assert calls == [1] and net.training
