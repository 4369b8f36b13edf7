"""Result dtypes of mixed-dtype tensors match PyTorch wherever PyTorch accepts the operation.

A sweep over bool, uint8, int8, int32, int64, float32 and float64 operands (held-out cases of
issue 13 §1). Before this file: ``cat``/``stack`` of float32 with an int tensor gave float64,
the sum of a uint8 tensor was uint64 (``x.sum() - 300`` wrapped around), ``uint8 + tensor(2)``
was int64, and ``uint8_tensor += int_tensor`` was refused.
"""

import itertools

import numpy as np
import pytest

import nnbasics as nb

pytestmark = pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # exp(200) is inf on both sides

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
VALUES = {"bool": [True, False], "uint8": [3, 200], "int8": [-3, 5], "int32": [7, -2], "int64": [9, 4],
          "float32": [1.5, -2.25], "float64": [0.5, 3.0]}
BINARY = {
    "cat": lambda lib, a, b: lib.cat([a, b]),
    "stack": lambda lib, a, b: lib.stack([a, b], 1),
    "add": lambda lib, a, b: a + b,
    "mul": lambda lib, a, b: a * b,
    "eq": lambda lib, a, b: a == b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "add_0d": lambda lib, a, b: a + b[0],
    "in_place_add": lambda lib, a, b: a.clone().add_(b),
}
UNARY = {
    "sum": lambda lib, a: a.sum(),
    "sum_dim": lambda lib, a: a.reshape(1, 2).sum(1),
    "add_int": lambda lib, a: a + 2,
    "add_float": lambda lib, a: a + 1.5,
    "neg_or_not": lambda lib, a: a.float() * -1,
    "exp": lambda lib, a: a.exp(),
    "argmax": lambda lib, a: a.float().argmax(),
}


def _outcome(lib, fn, *dts):
    args = [lib.tensor(VALUES[d], dtype=getattr(lib, d)) for d in dts]
    try:
        out = fn(lib, *args)
    except Exception:  # noqa: BLE001 - only whether torch accepts it matters here
        return None
    return str(out.dtype).split(".")[-1], np.asarray(out.numpy()).tolist()


def _check(torch, fn, *dts):
    theirs = _outcome(torch, fn, *dts)
    if theirs is None:
        return  # torch refuses; nnbasics may compute (documented in docs/interop.md)
    ours = _outcome(nb, fn, *dts)
    assert ours is not None, f"nnbasics refused what torch computes: {theirs}"
    assert ours[0] == theirs[0], f"dtype: nnbasics {ours[0]}, torch {theirs[0]}"
    np.testing.assert_allclose(np.asarray(ours[1], dtype=float), np.asarray(theirs[1], dtype=float), rtol=1e-6)


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_dtypes_match_torch(torch, op):
    for da, db in itertools.product(DTYPES, DTYPES):
        _check(torch, BINARY[op], da, db)


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_dtypes_match_torch(torch, op):
    for d in DTYPES:
        _check(torch, UNARY[op], d)


def test_cat_of_float32_and_int_keeps_gradients_and_float32():
    a = nb.tensor([1.0, 2.0], requires_grad=True)
    c = nb.cat([a, nb.tensor([3, 4])])
    (c * nb.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert c.dtype == nb.float32 and a.grad.tolist() == [1.0, 2.0]
