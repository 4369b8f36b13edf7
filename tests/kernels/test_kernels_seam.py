"""nnbasics.dispatch: kernels registered for reference ops and functions, and reference mode."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import autograd, dispatch
from nnbasics.autograd import Function
from nnbasics.ops.elementwise import ReLU

pytestmark = pytest.mark.usefixtures("kernels_on")  # also where the suite runs in reference mode


class Twice(Function):
    """A toy reference op: z = 2a."""

    def forward(self, a):
        return a * 2

    def backward(self, g):
        return (g * 2,)


@pytest.fixture
def toy(monkeypatch):
    """Twice, with whatever a test registers for it forgotten afterwards."""
    monkeypatch.setattr(dispatch, "_registered", dict(dispatch._registered))
    yield Twice
    Twice.kernels = ()


def test_a_kernel_runs_where_its_condition_holds_else_the_reference(toy):
    @dispatch.register(toy, when=lambda a: a.size > 3)
    class Twice(toy):
        def forward(self, a):
            out = np.empty_like(a)
            np.add(a, a, out=out)
            return out

    small, big = nb.ones(3, requires_grad=True), nb.ones(5, requires_grad=True)
    assert type(toy.apply(small)._ctx) is toy
    y = toy.apply(big)
    assert type(y._ctx) is Twice and y.tolist() == [2.0] * 5
    y.sum().backward()  # the kernel inherits the reference's backward
    assert big.grad.tolist() == [2.0] * 5
    assert dispatch.kernels_of(toy) == [Twice]
    with nb.reference_mode():
        assert type(toy.apply(big)._ctx) is toy and toy.kernels == ()
    assert type(toy.apply(big)._ctx) is Twice


def test_kernels_are_tried_in_registration_order_and_not_inherited(toy):
    @dispatch.register(toy)
    class Twice(toy):
        pass

    second = dispatch.register(toy, when=lambda a: True)(type("Twice", (toy,), {}))

    assert [k for _, k in toy.kernels] == [Twice, second]
    assert toy.apply(nb.ones(2))._ctx is None  # nothing recorded: no op kept
    assert type(toy.apply(nb.ones(2, requires_grad=True))._ctx) is Twice
    assert Twice.kernels == () and ReLU.kernels != ()  # a kernel class has no kernels of its own


def test_register_refuses_what_cannot_be_a_kernel(toy):
    with pytest.raises(TypeError, match="neither a Function subclass nor a @dispatchable"):
        dispatch.register(len)
    with pytest.raises(TypeError, match="must be a subclass of it named 'Twice'"):
        dispatch.register(toy)(type("Other", (toy,), {}))
    with pytest.raises(TypeError, match="must be a subclass of it named 'Twice'"):
        dispatch.register(toy)(type("Twice", (Function,), {}))


def test_a_dispatchable_function_and_its_kernels():
    calls = []

    @dispatch.dispatchable
    def scale(a, k):
        """reference"""
        calls.append("reference")
        return a * k

    saved = dict(dispatch._registered)
    try:
        @dispatch.register(scale, when=lambda a, k: k == 2)
        def fast(a, k):
            calls.append("kernel")
            return a + a

        assert scale(3, 2) == 6 and scale(3, 3) == 9
        with nb.reference_mode():
            assert scale(3, 2) == 6
        assert calls == ["kernel", "reference", "reference"]
        assert scale.__doc__ == "reference" and scale.reference(1, 5) == 5
    finally:
        dispatch._registered.clear()
        dispatch._registered.update(saved)


def test_reference_mode_nests_restores_and_decorates():
    assert not nb.is_reference_mode()
    with nb.reference_mode():
        assert nb.is_reference_mode() and ReLU.kernels == () and autograd.propagate.kernels == ()
        with nb.reference_mode(False):
            assert not nb.is_reference_mode() and ReLU.kernels != ()
        assert nb.is_reference_mode()
    assert not nb.is_reference_mode() and ReLU.kernels != ()
    with pytest.raises(KeyError), nb.reference_mode():
        raise KeyError("boom")
    assert not nb.is_reference_mode()

    @nb.reference_mode()
    def path():
        return type(nb.relu(nb.ones(2, requires_grad=True))._ctx)

    assert path() is ReLU and not nb.is_reference_mode()


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("0", False), ("", False)])
def test_the_environment_variable_is_read_at_import(value, on):
    code = ("import nnbasics as nb\nfrom nnbasics.ops.elementwise import ReLU\n"
            "a = nb.ones(2, requires_grad=True)\n"
            "print(nb.is_reference_mode(), type(nb.relu(a)._ctx) is ReLU)\n"
            "with nb.reference_mode(False):\n    print(type(nb.relu(a)._ctx) is ReLU)\n")
    env = dict(os.environ, NNBASICS_REFERENCE=value, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(on), str(on), "False"]
