"""Gradients at kinks and degenerate points match PyTorch (held-out cases of issue 13 §1).

Values are put exactly on the kinks (0 for relu/abs/clamp's bounds, equal values for std,
0 ** 0 for pow) where a composite formula can give ``inf * 0 = nan`` while PyTorch defines
the derivative. Before this file, ``std`` of equal values and ``x ** y`` at 0 ** 0 gave nan.
"""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as NF

# NumPy warns where the exact values are inf or nan (sqrt at 0, softmax of inf); PyTorch is silent
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

X = [-1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 2.0, 2.0]
CASES = {
    "abs": "x.abs()", "relu": "x.relu()", "relu6": "F.relu6(x)", "leaky_relu": "F.leaky_relu(x, 0.1)",
    "elu": "F.elu(x)", "hardtanh": "F.hardtanh(x, -0.5, 1.0)", "clamp": "x.clamp(-0.5, 1.0)",
    "clamp_min": "x.clamp(min=0.0)", "clamp_max": "x.clamp(max=1.0)", "sqrt_at_0": "x.abs().sqrt()",
    "amax_ties": "x.amax()", "max_ties": "x.max()", "min": "x.min()", "max_dim": "x.reshape(2, 4).max(1)[0]",
    "std_of_equal_values": "(x * 0).std()", "std_rows_some_equal": "x.reshape(4, 2).std(1)",
    "std_unbiased_false": "x.reshape(4, 2).std(1, False)", "var_of_equal_values": "(x * 0 + 1).var()",
    "pow_scalar_at_0": "(x * 0) ** 2.5", "pow_zero_exponent": "x ** 0", "pow_0_pow_0": "x.abs() ** x",
    "pow_0_pow_tensor": "(x * 0) ** (x * 0 + 2)", "sign": "x.sign()", "round": "x.round()",
    "hardsigmoid": "F.hardsigmoid(x * 3)", "softplus_threshold": "F.softplus(x, beta=2, threshold=1)",
    "gelu": "F.gelu(x)", "silu": "F.silu(x)", "selu": "F.selu(x)", "celu": "F.celu(x)", "softsign": "F.softsign(x)",
    "logsigmoid": "F.logsigmoid(x)", "prelu": "F.prelu(x, lib.tensor([0.25], dtype=x.dtype))",
    "l1_loss": "F.l1_loss(x, x * 0)", "smooth_l1": "F.smooth_l1_loss(x, x * 0, beta=0.5)",
    "huber": "F.huber_loss(x, x * 0, delta=1.0)", "logsumexp": "x.logsumexp(0)",
    "normalize_zero_rows": "F.normalize((x * 0).reshape(2, 4), dim=1)", "where": "lib.where(x > 0, x, x * 0.1)",
    "softmax_with_inf": "F.softmax(lib.where(x > 1.5, x * float('inf'), x), 0)",
}


def _run(lib, F, expr):
    x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
    w = lib.tensor(np.linspace(0.3, 1.7, 8), dtype=lib.float64)
    y = eval(expr, {"x": x, "lib": lib, "F": F})
    (y * (w[: y.numel()].reshape(y.shape) if y.dim() else w[0])).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_at_kinks_match_torch(torch, name):
    import torch.nn.functional as TF

    ours, theirs = _run(nb, NF, CASES[name]), _run(torch, TF, CASES[name])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
