"""nnbasics._validate: the one place for argument checks (issue 18 item 5): bools are never numbers, messages name
the argument, its owner, what is accepted and what was given."""

import numpy as np
import pytest

from nnbasics._validate import check_int, check_positive_int, check_real, float_dtype, int_tuple, is_int, is_real, pair


@pytest.mark.parametrize("value, expected", [(3, True), (np.int64(3), True), (-1, True), (True, False), (3.0, False),
                                             ("3", False), (None, False), (np.float32(1), False)])
def test_is_int_refuses_bools_and_floats(value, expected):
    assert is_int(value) is expected


@pytest.mark.parametrize("value, expected", [(0.5, True), (2, True), (np.float32(1), True), (float("nan"), True),
                                             (False, False), ("1", False), (1j, False), (None, False)])
def test_is_real_refuses_bools(value, expected):
    assert is_real(value) is expected


@pytest.mark.parametrize("kwargs, message", [
    ({"low": 1}, "n of f must be an int >= 1. Got 0."),
    ({"low": 1, "high": 9}, r"n of f must be an int in \[1, 9\]. Got 0."),
    ({"low": 0, "low_open": True}, "n of f must be an int > 0. Got 0."),
    ({"high": -1}, "n of f must be an int <= -1. Got 0."),
    ({"low": 1, "optional": True}, "n of f must be an int >= 1 or None. Got 0."),
])
def test_check_int_says_the_bounds_and_the_value(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_int(0, "n of f", **kwargs)


def test_check_int_converts_and_passes_none_only_when_optional():
    assert check_int(np.int32(4), "n", low=1) == 4 and type(check_int(np.int32(4), "n", low=1)) is int
    assert check_int(None, "n", optional=True) is None
    for bad in (None, True, 2.0, "2"):
        with pytest.raises(ValueError, match="n must be an int"):
            check_int(bad, "n")


def test_check_positive_int():
    assert check_positive_int(2, "steps of g") == 2
    assert check_positive_int(None, "steps of g", optional=True) is None
    with pytest.raises(ValueError, match=r"^train: steps must be a positive int or None. Got 0.$"):
        check_positive_int(0, "train: steps", optional=True)
    with pytest.raises(ValueError, match="a positive int. Got True"):
        check_positive_int(True, "steps")


@pytest.mark.parametrize("value, kwargs, message", [
    (float("nan"), {}, "x must be a real number. Got nan."),
    ("a", {}, "x must be a real number. Got 'a'."),
    (1.5, {"low": 0, "high": 1, "high_open": True}, r"x must be a number in \[0, 1\). Got 1.5."),
    (0.0, {"low": 0, "low_open": True}, "x must be a number > 0. Got 0.0."),
    (float("inf"), {"low": 0, "finite": True}, "x must be a finite number >= 0. Got inf."),
    (-1, {"low": 0, "optional": True}, "x must be a number >= 0 or None. Got -1."),
])
def test_check_real_messages(value, kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_real(value, "x", **kwargs)


def test_check_real_accepts_within_bounds():
    assert check_real(1, "x", low=0) == 1.0 and check_real(float("inf"), "x", low=0) == float("inf")
    assert check_real(None, "x", optional=True) is None


def test_pair_and_int_tuple():
    assert pair(3, "k") == (3, 3) and pair([2, 5], "k") == (2, 5) and pair((0, 1), "p", low=0) == (0, 1)
    assert int_tuple(2, 3, "k") == (2, 2, 2) and pair(np.array([2, 3]), "k") == (2, 3)
    for bad in ((2, 0), (1, 2, 3), True, 2.0, "ab", None):
        with pytest.raises(ValueError, match="k of Conv must be an int >= 1 or a pair of them"):
            pair(bad, "k of Conv")
    with pytest.raises(ValueError, match="or a tuple of 3 of them"):
        int_tuple((1, 2), 3, "k")


def test_float_dtype():
    assert float_dtype(None, "dtype of L") == np.float32 and float_dtype("float64", "dtype of L") == np.float64
    with pytest.raises(TypeError, match=r"dtype of L must be floating point \('float32' or 'float64'\). Got int64."):
        float_dtype("int64", "dtype of L")
