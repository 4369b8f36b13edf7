"""detect_anomaly(): the op, the layer and the phase where a NaN/Inf first appears."""

import threading

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn


class _Log(nn.Module):
    def forward(self, x):
        return nb.log(x)


def _three_layers():
    return nn.Sequential(nn.Linear(3, 5, rng=0), nn.Sequential(nn.Linear(5, 4, rng=1), _Log()), nn.Linear(4, 2, rng=2))


def test_log_of_negative_names_op_layer_and_phase():
    model, x = _three_layers(), nb.randn(7, 3, rng=0)
    with np.errstate(invalid="ignore"), nb.detect_anomaly(), pytest.raises(nb.AnomalyError) as info:
        model(x)
    e = info.value
    assert (e.op, e.phase) == ("Log", "forward")
    assert e.module == "'1.1' (_Log) in Sequential"
    msg = str(e)
    assert "Log produced NaN" in msg and "'1.1' (_Log)" in msg and "Its inputs were finite" in msg
    assert "input 0: shape (7, 4), dtype float32" in msg
    assert isinstance(e, RuntimeError) and isinstance(e, FloatingPointError)


def test_off_by_default_and_nan_passes_silently():
    assert not nb.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        out = _three_layers()(nb.randn(7, 3, rng=0))
    assert np.isnan(out._array).any()


def test_zero_times_inf_in_backward_names_op_and_forward_traceback():
    x = nb.tensor(np.array([0.0, 1.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"), nb.detect_anomaly():
        y = nb.where(x._array > 0, nb.sqrt(x), 0.0)  # forward finite; d sqrt/dx at 0 is inf, times g = 0
        with pytest.raises(nb.AnomalyError) as info:
            y.sum().backward()
    e = info.value
    assert (e.op, e.phase, e.module) == ("Sqrt", "backward", None)
    msg = str(e)
    assert "Sqrt.backward returned NaN" in msg and "gradient for input 0" in msg
    assert "Traceback of the forward call" in msg and "test_zero_times_inf_in_backward" in msg
    assert "nb.sqrt(x)" in msg  # the line of the forward call


def test_backward_inside_a_layer_names_the_layer():
    class SqrtLayer(nn.Module):
        def forward(self, x):
            return nb.sqrt(x)

    model = nn.Sequential(nn.ReLU(), SqrtLayer())
    x = nb.tensor(np.array([[-1.0, 0.0, 2.0]]), requires_grad=True)
    with np.errstate(divide="ignore"), nb.detect_anomaly(), pytest.raises(nb.AnomalyError) as info:
        model(x).sum().backward()
    assert (info.value.op, info.value.phase) == ("Sqrt", "backward")
    assert info.value.module == "'1' (SqrtLayer) in Sequential"
    assert "Inf" in str(info.value)


def test_nan_from_outside_the_graph_is_reported_as_such():
    x = nb.tensor(np.array([1.0, np.nan]))
    with nb.detect_anomaly(), pytest.raises(nb.AnomalyError, match="already held non-finite") as info:
        x * 2.0
    assert info.value.op == "Mul"


def test_finite_training_step_is_unchanged():
    model, x = _three_layers(), nb.rand(4, 3, rng=0) + 1.0
    model[1][1] = nn.Tanh()
    with nb.detect_anomaly():
        model(x).sum().backward()
    g_on = [p.grad._array.copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for a, p in zip(g_on, model.parameters()):
        np.testing.assert_array_equal(a, p.grad._array)


def test_nested_context_managers_restore_state_also_on_error():
    assert not nb.is_anomaly_enabled()
    with nb.detect_anomaly():
        assert nb.is_anomaly_enabled()
        with nb.detect_anomaly(False):
            assert not nb.is_anomaly_enabled()
            with nb.detect_anomaly():
                assert nb.is_anomaly_enabled()
            assert not nb.is_anomaly_enabled()
        assert nb.is_anomaly_enabled()
        with pytest.raises(KeyError), nb.detect_anomaly(False):
            raise KeyError("x")
        assert nb.is_anomaly_enabled()
    assert not nb.is_anomaly_enabled()


def test_set_detect_anomaly_and_decorator():
    try:
        nb.set_detect_anomaly(True)
        assert nb.is_anomaly_enabled()
    finally:
        nb.set_detect_anomaly(False)
    assert not nb.is_anomaly_enabled()

    @nb.detect_anomaly()
    def f():
        return nb.is_anomaly_enabled()

    assert f() and not nb.is_anomaly_enabled()
    with pytest.raises(TypeError, match="set_detect_anomaly: mode must be True or False"):
        nb.set_detect_anomaly("yes")


def test_mode_is_global_across_threads():
    seen = []
    with nb.detect_anomaly():
        t = threading.Thread(target=lambda: seen.append(nb.is_anomaly_enabled()))
        t.start()
        t.join()
    assert seen == [True]
