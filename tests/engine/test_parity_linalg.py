"""PyTorch parity of matmul in every case of NumPy's/torch's rules: 1-D, 2-D, batched and
broadcast batch dims, values and gradients in float32."""

import numpy as np
import pytest
from parity import assert_parity

import nnbasics as nb

CASES = {
    "vec_vec": ((5,), (5,)),
    "vec_mat": ((5,), (5, 3)),
    "mat_vec": ((3, 5), (5,)),
    "mat_mat": ((2, 5), (5, 3)),
    "vec_batch": ((5,), (2, 5, 3)),
    "batch_vec": ((2, 3, 5), (5,)),
    "batch_mat": ((2, 3, 5), (5, 7)),
    "mat_batch": ((3, 5), (2, 5, 7)),
    "batch_batch": ((2, 3, 5), (2, 5, 7)),
    "broadcast_batch": ((2, 1, 3, 5), (7, 5, 4)),
    "broadcast_size1": ((1, 3, 5), (2, 5, 7)),
    "broadcast_both": ((7, 1, 3, 5), (1, 2, 5, 4)),
    "vec_4d": ((5,), (2, 3, 5, 7)),
    "4d_vec": ((2, 3, 7, 5), (5,)),
    "inner_1": ((3, 1), (1, 5)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matmul(torch, rng, name):
    sa, sb = CASES[name]
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert_parity(lambda a, b: a @ b, lambda a, b: a @ b, a, b, torch=torch)
    assert_parity(lambda a, b: nb.matmul(a, b), lambda a, b: torch.matmul(a, b), a, b, torch=torch)


def test_matmul_method_and_reflected(torch, rng):
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    assert_parity(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), a, b, torch=torch)
    # ndarray @ Tensor goes through Tensor.__rmatmul__; the constant gets no gradient
    const = rng.standard_normal((7, 3)).astype(np.float32)
    assert_parity(lambda a: const @ a, lambda a: torch.from_numpy(const) @ a, a, torch=torch)


def test_matmul_only_one_side_requires_grad(torch, rng):
    a, b = rng.standard_normal((2, 3, 5)), rng.standard_normal((5, 7))
    assert_parity(lambda a, b: a @ b, lambda a, b: a @ b, a, b, requires_grad=[False, True], torch=torch)
    assert_parity(lambda a, b: a @ b, lambda a, b: a @ b, a, b, requires_grad=[True, False], torch=torch)


def test_matmul_same_operand_twice(torch, rng):
    a = rng.standard_normal((3, 5))
    assert_parity(lambda a: a @ a.T, lambda a: a @ a.T, a, torch=torch)
    assert_parity(lambda a: a.T @ a, lambda a: a.T @ a, a, torch=torch)


def test_matmul_large_float32(torch, rng):
    # NOTE: inner dims of 256 and batch-folded weight gradients (sums of 8*64 = 512 products of
    # size ~20) accumulate in different orders (NumPy's BLAS vs torch's); float32 rounding then
    # differs by ~1.5e-5 at entries near zero, so atol is loosened to 1e-4 (rtol stays 1e-4).
    a, b = rng.standard_normal((8, 64, 256)), rng.standard_normal((256, 33))
    assert_parity(lambda a, b: a @ b, lambda a, b: a @ b, a, b, torch=torch, atol=1e-4)


def test_matmul_chain_in_a_small_network(torch, rng):
    x, w1, w2 = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal((3, 2))
    assert_parity(lambda x, w1, w2: ((x @ w1).tanh() @ w2).sum(0),
                  lambda x, w1, w2: ((x @ w1).tanh() @ w2).sum(0), x, w1, w2, torch=torch)
