"""Mixed dtypes: each promotion rule, and each refusal with its message. CI runs this on NumPy 1.26
(value-based casting) and 2.x (NEP 50): the expected dtypes below are the same on both lines.

Rules (ops/util.py ``_promote``, ``float_operand``):
* Python numbers take the tensor's dtype (float32 stays float32); a Python float with an int
  or bool tensor gives float32; a Python int with a bool tensor gives int64;
* float with int/bool tensors: the float dtype (PyTorch's rule, not NumPy's float64);
* same kind, one 0-d and one dimensioned: the dimensioned tensor's dtype (PyTorch's rule);
* otherwise NumPy's dtype promotion (float32 with float64 tensors: float64);
* exp/log/sqrt/tanh/sigmoid/softmax/log_softmax/logsumexp/true division of int or bool: float32;
* refused: bool - bool, -bool, int ** negative int, mean/var of ints (TypeError/ValueError naming
  the op, the dtype and the fix).
"""

import numpy as np
import pytest

import nnbasics as nb


def f32(*shape):
    return nb.tensor(np.linspace(0.5, 2.0, int(np.prod(shape))).reshape(shape).astype(np.float32))


def f64(*shape):
    return nb.tensor(np.linspace(0.5, 2.0, int(np.prod(shape))).reshape(shape))


def i64(*shape):
    return nb.tensor(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) + 1)


def i32(*shape):
    return nb.tensor(np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) + 1)


def b(*shape):
    return nb.tensor(np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0)


# name: (thunk, expected dtype, NumPy reference computed in float64 or exactly)
RULES = {
    "f32 + f64": (lambda: f32(3) + f64(3), np.float64, lambda: f32(3)._array.astype(np.float64) + f64(3)._array),
    "f64 * f32": (lambda: f64(2, 3) * f32(3), np.float64, None),
    "f32 + i64": (lambda: f32(3) + i64(3), np.float32, lambda: f32(3)._array + i64(3)._array),
    "i64 - f32": (lambda: i64(3) - f32(3), np.float32, lambda: i64(3)._array - f32(3)._array),
    "f32 * b": (lambda: f32(3) * b(3), np.float32, lambda: f32(3)._array * b(3)._array),
    "f32 * 2.5": (lambda: f32(3) * 2.5, np.float32, None),
    "0.1 + f32": (lambda: 0.1 + f32(3), np.float32, None),
    "f32 / 3": (lambda: f32(3) / 3, np.float32, None),
    "f32 + np.float64 scalar": (lambda: f32(3) + np.float64(0.1), np.float32, None),
    "np.float64 scalar * f32": (lambda: np.float64(0.1) * f32(3), np.float32, None),
    "f32 - 0-d f64 tensor": (lambda: f32(3) - f64(3).mean(), np.float32, None),
    "0-d f64 ndarray + f32": (lambda: np.asarray(0.5) + f32(2, 3), np.float32, None),
    "f32 + f64 ndarray": (lambda: f32(3) + np.ones(3), np.float64, None),
    "i32 + 0-d i64": (lambda: i32(3) + nb.tensor(np.asarray(7)), np.int32, lambda: i32(3)._array + 7),
    "i32 + i64": (lambda: i32(3) + i64(3), np.int64, None),
    "i64 + 2.5": (lambda: i64(3) + 2.5, np.float32, None),
    "i64 * 2": (lambda: i64(3) * 2, np.int64, None),
    "b + 2": (lambda: b(3) + 2, np.int64, lambda: b(3)._array.astype(np.int64) + 2),
    "b + b": (lambda: b(3) + b(3), np.bool_, None),
    "b + i64": (lambda: b(3) + i64(3), np.int64, None),
    "b + 0.5": (lambda: b(3) + 0.5, np.float32, None),
    "i64 / i64": (lambda: i64(3) / i64(3), np.float32, None),
    "i64 ** 0.5": (lambda: i64(3) ** 0.5, np.float32, lambda: np.sqrt(np.arange(1, 4))),
    "i64.clip(0.5, 2.5)": (lambda: i64(3).clip(1.5, 2.5), np.float32, lambda: np.clip(np.arange(1.0, 4.0), 1.5, 2.5)),
    "exp(i64)": (lambda: i64(3).exp(), np.float32, lambda: np.exp(np.arange(1.0, 4.0))),
    "log(i64)": (lambda: i64(3).log(), np.float32, lambda: np.log(np.arange(1.0, 4.0))),
    "sqrt(b)": (lambda: b(3).sqrt(), np.float32, lambda: np.sqrt(b(3)._array.astype(float))),
    "tanh(i32)": (lambda: i32(3).tanh(), np.float32, lambda: np.tanh(np.arange(1.0, 4.0))),
    "sigmoid(i64)": (lambda: i64(3).sigmoid(), np.float32, lambda: 1 / (1 + np.exp(-np.arange(1.0, 4.0)))),
    "softmax(i64)": (lambda: i64(2, 3).softmax(-1), np.float32,
                     lambda: np.exp(np.arange(1.0, 7).reshape(2, 3)) / np.exp(np.arange(1.0, 7).reshape(2, 3)).sum(-1, keepdims=True)),
    "logsumexp(i64)": (lambda: i64(3).logsumexp(), np.float32, lambda: np.log(np.exp(np.arange(1.0, 4.0)).sum())),
    "sum(i64)": (lambda: i64(3).sum(), np.int64, lambda: np.asarray(6)),
    "sum(b)": (lambda: b(3).sum(), np.int64, lambda: np.asarray(2)),
    "maximum(f32, i64)": (lambda: nb.maximum(f32(3), i64(3)), np.float32, None),
    "where(b, f32, f64)": (lambda: nb.where(b(3), f32(3), f64(3)), np.float64, None),
    "f32 @ i64": (lambda: f32(2, 3) @ i64(3), np.float32, None),
    "f32 > 0.5": (lambda: f32(3) > 0.5, np.bool_, None),
    "f16 * 2.0": (lambda: nb.tensor(np.ones(3, np.float16)) * 2.0, np.float16, None),
}


@pytest.mark.parametrize("name", list(RULES))
def test_promotion_rule(name):
    thunk, dtype, ref = RULES[name]
    out = thunk()
    assert out.dtype == np.dtype(dtype), f"{name}: {out.dtype} (NumPy {np.__version__})"
    if ref is not None:
        tol = 1e-6 if out.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out._array, ref(), rtol=tol, atol=tol)


def test_int_tensor_functions_are_not_truncated_to_integers():
    # regression: on NumPy 1.26 Function.apply cast exp(int64)'s float64 result back to int64 ([1, 2, 7])
    x = nb.tensor([0, 1, 2])
    np.testing.assert_allclose(x.exp()._array, np.exp([0.0, 1.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(nb.functional.softmax(x, -1)._array.sum(), 1.0, rtol=1e-6)


def test_gradients_flow_back_in_each_input_dtype():
    a = nb.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    s = nb.tensor(np.asarray(2.0), requires_grad=True)  # a 0-d float64 parameter
    w = nb.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)  # float64
    out = (a * s).sum() + (a * w).sum()
    out.backward()
    assert (a * s).dtype == np.float32
    assert a.grad.dtype == np.float32 and s.grad.dtype == np.float64 and w.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad._array, 2.0 + w._array, rtol=1e-6)
    np.testing.assert_allclose(s.grad._array, 6.0, rtol=1e-6)
    np.testing.assert_allclose(w.grad._array, a._array, rtol=1e-12)


def test_float32_training_step_stays_float32_with_python_and_numpy_scalars():
    w = nb.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    x = nb.tensor(np.ones((4, 3), np.float32))
    loss = ((x @ w) * np.float64(0.5) + 1e-3 - np.asarray(0.25)).sigmoid().mean() * 2
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32


REFUSED = {
    "bool - bool": (lambda: b(3) - b(3), TypeError, r"sub: cannot subtract two bool tensors.*\.long\(\)"),
    "-bool": (lambda: -b(3), TypeError, r"neg: cannot negate a bool tensor.*\.float\(\)"),
    "int ** -1": (lambda: i64(3) ** -1, ValueError, r"pow: an integer tensor \(int64\).*negative.*x\.float\(\) \*\* -1"),
    "mean(int)": (lambda: i64(3).mean(), TypeError, r"mean: .*int64.*\.float\(\)"),
    "var(int)": (lambda: i64(3).var(), TypeError, r"int64.*\.float\(\)"),
    "int requires grad": (lambda: nb.tensor([1, 2], requires_grad=True), TypeError, r"int64.*\.float\(\)"),
    "where with int cond": (lambda: nb.where(i64(3), f32(3), f32(3)), TypeError, r"where: cond must be a bool.*int64"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals_name_the_op_the_dtype_and_the_fix(name):
    thunk, exc, pattern = REFUSED[name]
    with pytest.raises(exc, match=pattern):
        thunk()


def test_the_dtype_kind_checks_agree_with_numpy_for_every_dtype():
    """``is_float_dtype``/``is_int_dtype`` answer NumPy's own dtypes by their kind (fast); the answer is
    ``np.issubdtype``'s for those and for everything else (types, names, byte-swapped, structured)."""
    from nnbasics.backend import is_float_dtype, is_int_dtype

    specs = [np.dtype(c) for c in np.typecodes["All"] if c not in "Mm"] + [
        np.dtype("datetime64[s]"), np.dtype("timedelta64[ms]"), np.dtype(">f4"), np.dtype(">i8"),
        np.dtype([("a", np.float32)]), np.float32, np.int64, np.bool_, float, int, "float64", "uint8"]
    for spec in specs:
        assert is_float_dtype(spec) == np.issubdtype(spec, np.floating), spec
        assert is_int_dtype(spec) == np.issubdtype(spec, np.integer), spec
    assert is_float_dtype(np.dtype(np.float16)) and is_int_dtype(np.dtype(np.uint64))
    assert not is_float_dtype(np.dtype(np.complex64)) and not is_int_dtype(np.dtype(np.bool_))
