"""``nnbasics.gradcheck`` itself: it passes correct ops, catches wrong ones, and says where."""

import numpy as np
import pytest

import nnbasics as nb


def leaf(shape, seed=0):
    return nb.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class WrongSquare(nb.Function):
    """z = a^2 with a deliberately wrong derivative (a instead of 2a)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return (g * self.a,)


class SecondInputOff(nb.Function):
    """z = a * b with the gradient of the second input 1% too large."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a * 1.01  # 1% wrong on the second input only


class SumOnlyCorrect(nb.Function):
    """z = a * w for a fixed w; backward ignores the upstream gradient's values (right only for .sum())."""

    W = np.array([1.0, 2.0, 3.0])

    def forward(self, a):
        return a * self.W

    def backward(self, g):
        return (np.ones_like(g) * self.W,)


def test_passes_on_correct_ops():
    x, y = leaf((2, 3), 1), leaf((3, 5), 2)
    res = nb.gradcheck(lambda a, b: (a @ b).tanh() * a.sum(), x, y)
    assert isinstance(res, nb.GradcheckResult)
    assert res.input_index == [0, 1]
    assert len(res.max_abs_error) == len(res.max_rel_error) == 2
    assert res.worst < 1e-8


def test_fails_on_wrong_custom_function():
    with pytest.raises(nb.GradcheckError, match="input 0"):
        nb.gradcheck(lambda a: WrongSquare.apply(a), leaf((2, 3)))


def test_reports_which_input_is_wrong():
    x, y = leaf((2, 3), 1), leaf((2, 3), 2)
    res = nb.gradcheck(lambda a, b: SecondInputOff.apply(a, b), x, y, raise_exception=False)
    assert res.max_rel_error[0] < 1e-8  # the first input's gradient is right
    assert res.max_rel_error[1] > 1e-4  # the second's is off by 1%
    assert res.worst == res.max_rel_error[1]
    with pytest.raises(nb.GradcheckError) as info:
        nb.gradcheck(lambda a, b: SecondInputOff.apply(a, b), x, y)
    msg = str(info.value)
    assert "input 0" in msg and "input 1" in msg


def test_random_upstream_gradient_catches_backward_that_ignores_it():
    # with L = sum(out) this wrong backward would pass; the random upstream exposes it
    with pytest.raises(nb.GradcheckError):
        nb.gradcheck(lambda a: SumOnlyCorrect.apply(a), leaf((3,)))


def test_input_indices_count_non_tensor_and_constant_arguments():
    c = nb.tensor(np.ones((2, 3)))  # float64, does not require grad: not checked
    x = leaf((2, 3))
    res = nb.gradcheck(lambda k, a, s: a * k * s, c, x, 2.5)
    assert res.input_index == [1]
    with pytest.raises(nb.GradcheckError, match="input 1"):
        nb.gradcheck(lambda k, a: WrongSquare.apply(a) * k, c, x)


def test_rejects_float32_inputs():
    x = nb.randn(2, 3, rng=0, requires_grad=True)
    with pytest.raises(TypeError, match=r"float32.*\.double\(\)"):
        nb.gradcheck(lambda a: a * 2, x)


def test_rejects_calls_with_nothing_to_check():
    with pytest.raises(ValueError, match="requires_grad"):
        nb.gradcheck(lambda a: a * 2, nb.tensor(np.ones(3)))


def test_does_not_change_the_inputs():
    x = leaf((2, 3))
    before = x._array.copy()
    nb.gradcheck(lambda a: a.exp(), x)
    np.testing.assert_array_equal(x._array, before)


def test_tolerance_controls_the_verdict():
    class SlightlyOff(nb.Function):
        def forward(self, a):
            return a * 3

        def backward(self, g):
            return (g * (3 + 1e-5),)

    x = leaf((4,))
    with pytest.raises(nb.GradcheckError):
        nb.gradcheck(lambda a: SlightlyOff.apply(a), x, tol=1e-6)
    assert nb.gradcheck(lambda a: SlightlyOff.apply(a), x, tol=1e-3).worst < 1e-3


def test_upstream_rng_is_reproducible():
    x = leaf((3,))
    r1 = nb.gradcheck(lambda a: WrongSquare.apply(a), x, rng=3, raise_exception=False)
    r2 = nb.gradcheck(lambda a: WrongSquare.apply(a), x, rng=3, raise_exception=False)
    assert r1.max_abs_error == r2.max_abs_error
