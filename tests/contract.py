"""The module contract: one helper that every ``nn.Module`` test runs.

Usage (``tests/`` is on ``sys.path`` through ``tests/conftest.py``)::

    from contract import check_module

    def test_linear_contract():
        x = nb.randn(5, 3, rng=0)
        check_module(lambda rng: nn.Linear(3, 2, rng=rng), x,
                     expected_shape=(5, 2), param_names=["weight", "bias"],
                     bad_inputs=[nb.randn(5, 4, rng=1)])

A bad input may also be given as ``(input, pattern)``: the ValueError message must
then match the regular expression ``pattern`` as well (e.g. ``r"\\(\\*, 3\\)"``).

What is checked, in order (each failure says which check and prints the numbers):

1. the output shape (``expected_shape``: a shape, or a nested tuple of shapes for
   tuple outputs such as ``(out, (h, c))``);
2. parameter names and order (``param_names``), every parameter a trainable
   ``Parameter``, ``parameters()`` consistent with ``named_parameters()``;
3. state_dict round trip: a second instance made with another seed, after
   ``load_state_dict(m.state_dict())``, gives the identical output in eval mode and
   an identical state_dict (keys, shapes, dtypes, values); loading copies in place
   (the parameter objects are kept, no memory is shared with the source);
4. ``train()``/``eval()`` return the module and reach every submodule;
5. when ``trains`` and the module has parameters (in eval mode, so dropout is off):
   every parameter gets a gradient of its shape, and one plain gradient step (``p -= lr * p.grad`` under ``no_grad``) on
   ``sum((out - target)**2)`` lowers the loss by at least a tenth of the first-order
   prediction ``lr * |grad|^2`` (Armijo condition; ``lr`` backtracks from 1e-2);
6. every input in ``bad_inputs`` raises ValueError naming the module class and what
   it expected.
"""

from __future__ import annotations

import numbers
import re

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.backend import is_float_dtype
from nnbasics.nn import Module, Parameter

__all__ = ["check_module"]


# ------------------------------------------------------------------ helpers
def _as_inputs(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _tensors(out):
    """Every Tensor in a (nested tuple/list/dict) output, in order."""
    if isinstance(out, nb.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _shapes(out):
    if isinstance(out, nb.Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return tuple(_shapes(o) for o in out)
    return None


def _norm_shape(s):
    if s is None:
        return None
    s = tuple(s)
    if all(isinstance(d, numbers.Integral) for d in s):
        return tuple(int(d) for d in s)
    return tuple(_norm_shape(e) for e in s)


def _array(v):
    return np.asarray(v._array if isinstance(v, nb.Tensor) else v)


def _second_rng(rng):
    """A different seed for the second instance (a Generator simply advances)."""
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return int(rng) + 1
    return rng


def _eval_outputs(m, inputs):
    with nb.no_grad():
        return [_array(t).copy() for t in _tensors(m(*inputs))]


def _toy_loss(m, inputs, targets):
    """sum over float outputs of sum((out - target)^2), as a graph, and its float64 value."""
    outs = [t for t in _tensors(m(*inputs)) if is_float_dtype(t.dtype)]
    loss = None
    for o, tgt in zip(outs, targets):
        term = ((o - nb.as_tensor(tgt.astype(o.dtype))) ** 2).sum()
        loss = term if loss is None else loss + term
    value = sum(float(((_array(o).astype(np.float64) - tgt) ** 2).sum()) for o, tgt in zip(outs, targets))
    return loss, value


# ------------------------------------------------------------------- checks
def _check_shape(m, inputs, expected_shape):
    out = m(*inputs)
    got = _shapes(out)
    if expected_shape is not None:
        assert got == _norm_shape(expected_shape), (
            f"{type(m).__name__}: output shape {got}, expected {_norm_shape(expected_shape)}"
        )
    assert _tensors(out), f"{type(m).__name__}: forward returned no Tensor (got {type(out).__name__})"
    return out


def _check_parameters(m, param_names):
    named = list(m.named_parameters())
    names = [n for n, _ in named]
    assert len(set(names)) == len(names), f"duplicate parameter names: {names}"
    if param_names is not None:
        assert names == list(param_names), f"named_parameters(): {names}, expected {list(param_names)}"
    params = list(m.parameters())
    assert len(params) == len(named), f"parameters() gave {len(params)} items, named_parameters() {len(named)}"
    assert all(p is q for p, (_, q) in zip(params, named)), "parameters() and named_parameters() differ in order"
    for n, p in named:
        assert isinstance(p, Parameter), f"{n} is a {type(p).__name__}, not a Parameter"
        assert p.requires_grad, f"parameter {n} does not require grad"
    return named


def _check_state_dict(make, rng, m, inputs):
    sd = m.state_dict()
    for n, _ in m.named_parameters():
        assert n in sd, f"state_dict() lacks parameter {n!r}; keys: {list(sd)}"
    m2 = make(_second_rng(rng))
    assert type(m2) is type(m), f"make returned {type(m2).__name__} then {type(m).__name__}"
    params_before = [id(p) for p in m2.parameters()]
    result = m2.load_state_dict(sd)
    if result is not None:  # PyTorch returns (missing_keys, unexpected_keys)
        missing, unexpected = result
        assert not missing and not unexpected, f"load_state_dict: missing {missing}, unexpected {unexpected}"
    assert [id(p) for p in m2.parameters()] == params_before, "load_state_dict replaced parameter objects"
    sd2 = m2.state_dict()
    assert list(sd2) == list(sd), f"state_dict keys after loading: {list(sd2)}, expected {list(sd)}"
    for k in sd:
        a, b = _array(sd[k]), _array(sd2[k])
        assert a.shape == b.shape, f"state_dict[{k!r}]: shape {b.shape}, expected {a.shape}"
        assert a.dtype == b.dtype, f"state_dict[{k!r}]: dtype {b.dtype}, expected {a.dtype}"
        np.testing.assert_array_equal(b, a, err_msg=f"state_dict[{k!r}] differs after load_state_dict")
        if a.size:
            assert not np.shares_memory(a, b), f"state_dict[{k!r}]: loading aliased the source instead of copying"
    m.eval()
    m2.eval()
    for i, (a, b) in enumerate(zip(_eval_outputs(m, inputs), _eval_outputs(m2, inputs))):
        np.testing.assert_array_equal(b, a, err_msg=f"output {i} differs after the state_dict round trip (eval)")


def _check_modes(m):
    subs = list(m.modules())
    assert subs and subs[0] is m, "modules() must start with the module itself"
    assert m.train() is m, "train() must return the module"
    bad = [type(s).__name__ for s in subs if s.training is not True]
    assert not bad, f"train() did not reach {bad}"
    assert m.eval() is m, "eval() must return the module"
    bad = [type(s).__name__ for s in subs if s.training is not False]
    assert not bad, f"eval() did not reach {bad}"
    m.train(False)
    assert not any(s.training for s in subs)
    m.train()
    assert all(s.training for s in subs)


def _check_step(m, inputs, named):
    m.eval()  # deterministic (dropout off); gradients still flow
    m.zero_grad()
    with nb.no_grad():
        outs = [t for t in _tensors(m(*inputs)) if is_float_dtype(t.dtype)]
    assert outs, f"{type(m).__name__}: no floating-point output to train on"
    gen = np.random.default_rng(20240607)  # the fixed target
    targets = [gen.standard_normal(o.shape) for o in outs]
    loss, before = _toy_loss(m, inputs, targets)
    loss.backward()
    grads = {}
    for n, p in named:
        assert p.grad is not None, f"parameter {n} got no gradient from a loss on every output"
        assert tuple(p.grad.shape) == tuple(p.shape), f"{n}.grad has shape {p.grad.shape}, expected {p.shape}"
        assert np.all(np.isfinite(_array(p.grad))), f"{n}.grad is not finite"
        grads[n] = _array(p.grad).astype(np.float64)
    gnorm2 = sum(float((g**2).sum()) for g in grads.values())
    assert gnorm2 > 0, f"{type(m).__name__}: every parameter gradient is zero"
    saved = {n: _array(p).copy() for n, p in named}
    lr, tried = 1e-2, []
    try:
        while lr >= 1e-7:
            with nb.no_grad():
                for n, p in named:
                    p.copy_((saved[n] - lr * grads[n]).astype(p.dtype))
                _, after = _toy_loss(m, inputs, targets)
            tried.append((lr, after))
            if before - after >= 0.1 * lr * gnorm2:
                return
            lr /= 4
    finally:
        with nb.no_grad():
            for n, p in named:
                p.copy_(saved[n])
        m.zero_grad()
    raise AssertionError(
        f"{type(m).__name__}: no gradient step lowered the toy loss {before:.6g} as predicted "
        f"(|grad|^2 = {gnorm2:.3g}); (lr, loss) tried: {tried}"
    )


def _check_bad_inputs(m, bad_inputs):
    cls = type(m).__name__
    for item in bad_inputs:
        pattern = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            item, pattern = item
        bad = _as_inputs(item)
        shapes = [tuple(t.shape) for t in bad if isinstance(t, nb.Tensor)]
        with pytest.raises(ValueError) as info:
            m(*bad)
        msg = str(info.value)
        assert cls in msg, f"the error for input shapes {shapes} does not name {cls}: {msg!r}"
        assert re.search(r"expect", msg, re.IGNORECASE), (
            f"the error for input shapes {shapes} does not say what {cls} expected: {msg!r}"
        )
        if pattern is not None:
            assert re.search(pattern, msg), f"the error {msg!r} does not match {pattern!r}"


# -------------------------------------------------------------------- entry
def check_module(make, x, *, expected_shape=None, param_names=None, bad_inputs=(), trains=True, rng=0):
    """Run the module contract on ``make(rng)`` with input ``x``.

    Args:
        make: callable(rng) -> Module, seeded by ``rng`` (called twice: with ``rng``
            and with another seed, ``rng + 1`` for an int, the advanced Generator otherwise).
        x: a Tensor, or a tuple of Tensors passed as positional arguments.
        expected_shape: the output shape, or a nested tuple of shapes for tuple outputs.
        param_names: the expected ``[n for n, _ in m.named_parameters()]``.
        bad_inputs: inputs (Tensor, tuple of Tensors, or ``(input, regex)`` pairs) that
            must raise ValueError naming the module class and what it expected.
        trains: check gradients and that one gradient step lowers a toy loss
            (set False for modules without useful gradients, e.g. step functions).
        rng: seed or Generator for ``make``.

    Returns:
        The module made with ``rng`` (in training mode, parameters unchanged).
    """
    m = make(rng)
    assert isinstance(m, Module), f"make returned {type(m).__name__}, not a Module"
    inputs = _as_inputs(x)
    m.train()
    _check_shape(m, inputs, expected_shape)
    named = _check_parameters(m, param_names)
    assert repr(m).startswith(type(m).__name__), f"repr should start with the class name: {repr(m)!r}"
    _check_state_dict(make, rng, m, inputs)
    _check_modes(m)
    if trains and named:
        _check_step(m, inputs, named)
    _check_bad_inputs(m, bad_inputs)
    m.train()
    return m
