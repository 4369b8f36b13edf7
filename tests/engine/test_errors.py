"""Errors a person can act on: the op's name, the shapes involved, and what to do."""

import numpy as np
import pytest

import nnbasics as nb

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": nb.maximum,
    "minimum": nb.minimum,
}


@pytest.mark.parametrize("sa,sb", [((2, 3), (4,)), ((2, 3, 5), (3, 2, 5)), ((7,), (5,))],
                         ids=["2x3-4", "2x3x5-3x2x5", "7-5"])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_shape_mismatch_names_op_and_both_shapes(name, sa, sb):
    a, b = nb.ones(*sa, requires_grad=True), nb.ones(*sb)
    with pytest.raises(ValueError, match=name) as info:
        BINARY[name](a, b)
    msg = str(info.value)
    assert str(sa) in msg and str(sb) in msg, msg


def test_where_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        nb.where(nb.ones(2, 3) > 0, nb.ones(2, 3), nb.ones(4))


@pytest.mark.parametrize("sa,sb", [((2, 3), (5, 7)), ((5,), (3, 2)), ((2, 3, 5), (2, 3, 5)), ((3,), (5,))],
                         ids=["2x3@5x7", "5@3x2", "2x3x5@2x3x5", "3@5"])
def test_matmul_inner_mismatch_names_op_and_both_shapes(sa, sb):
    with pytest.raises(ValueError, match="matmul") as info:
        nb.ones(*sa) @ nb.ones(*sb)
    msg = str(info.value)
    assert str(sa) in msg and str(sb) in msg, msg


def test_matmul_batch_mismatch_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"matmul.*batch dims \(2,\) and \(4,\)") as info:
        nb.ones(2, 3, 5) @ nb.ones(4, 5, 7)
    msg = str(info.value)
    assert "(2, 3, 5)" in msg and "(4, 5, 7)" in msg, msg


def test_matmul_of_scalar_says_use_star():
    with pytest.raises(ValueError, match=r"\*"):
        nb.matmul(nb.tensor(2.0), nb.ones(3))


@pytest.mark.parametrize("index", [1.0, (0, 1.5), np.array([0.0, 1.0]), nb.tensor([0.5])],
                         ids=["float", "tuple_float", "float_array", "float_tensor"])
def test_float_index_raises_type_error(index):
    x = nb.ones(3, 5)
    with pytest.raises(TypeError, match=r"\.long\(\)"):
        x[index]


def test_float_index_in_setitem_raises_type_error():
    x = nb.ones(3)
    with pytest.raises(TypeError, match="index"):
        x[1.0] = 2.0


def test_out_of_range_index_names_shape():
    with pytest.raises(IndexError, match=r"\(3, 5\)"):
        nb.ones(3, 5)[[0, 3]]


@pytest.mark.parametrize("src,dst", [((2, 3), (4, 2)), ((2, 3, 5), (7, -1)), ((6,), (-1, -1))],
                         ids=["2x3-4x2", "2x3x5-7x-1", "6--1x-1"])
def test_reshape_impossible_names_both_shapes(src, dst):
    with pytest.raises(ValueError, match="reshape") as info:
        nb.ones(*src).reshape(*dst)
    msg = str(info.value)
    assert str(src) in msg and str(dst) in msg, msg


def test_expand_impossible_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 3\)"):
        nb.ones(2, 3).expand(4, 3)


def test_permute_with_bad_dims():
    with pytest.raises(ValueError, match="permutation"):
        nb.ones(2, 3, 5).permute(0, 0, 1)


@pytest.mark.parametrize("call", [
    lambda: nb.ones(2, 3).sum(dim=2),
    lambda: nb.ones(2, 3).softmax(dim=-3),
    lambda: nb.ones(2, 3).unsqueeze(4),
], ids=["sum", "softmax", "unsqueeze"])
def test_dim_out_of_range(call):
    with pytest.raises(IndexError, match="out of range"):
        call()


def test_reduce_with_both_dim_and_axis():
    with pytest.raises(TypeError, match="dim.*axis"):
        nb.ones(2, 3).sum(dim=0, axis=1)


def test_concatenate_and_stack_mismatch_name_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 5\)"):
        nb.stack([nb.ones(2, 3), nb.ones(2, 5)])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(5, 5\)"):
        nb.concatenate([nb.ones(2, 3), nb.ones(5, 5)], dim=1)
    with pytest.raises(ValueError, match="at least one"):
        nb.concatenate([])


def test_split_sections_must_sum_to_size():
    with pytest.raises(ValueError, match=r"sum to 4.*size 5"):
        nb.ones(5, 2).split([1, 3])
    with pytest.raises(ValueError, match="positive"):
        nb.ones(5).split(0)


def test_pad_needs_one_pair_per_dim():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        nb.ones(2, 3).pad(((1, 1),))


def test_where_needs_bool_condition():
    with pytest.raises(TypeError, match="bool"):
        nb.where(nb.ones(3), nb.ones(3), nb.zeros(3))


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="min and max"):
        nb.ones(3).clip()


def test_take_along_axis_needs_integer_indices():
    with pytest.raises(TypeError, match="integer"):
        nb.take_along_axis(nb.ones(2, 3), np.zeros((2, 1)), 1)


def test_mean_of_int_tensor_says_convert():
    with pytest.raises(TypeError, match=r"\.float\(\)"):
        nb.tensor([1, 2]).mean()


def test_cross_entropy_label_checks():
    from nnbasics.ops.loss import softmax_cross_entropy

    x = nb.ones(3, 5)
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        softmax_cross_entropy(x, np.array([0, 5, 1]))
    with pytest.raises(TypeError, match=r"\.long\(\)"):
        softmax_cross_entropy(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        softmax_cross_entropy(x, np.array([0, 1]))


def test_shape_constructor_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        nb.zeros(2, -1)
