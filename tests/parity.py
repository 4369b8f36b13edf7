"""PyTorch parity: run one computation in nnbasics and in torch, compare values and gradients.

The one helper, :func:`assert_parity`, is meant to be reused by every parity test (ops,
layers, losses). It builds the inputs of both libraries from the *same* NumPy arrays,
runs both functions, compares every output (shape, dtype, values), then backpropagates
the *same* random upstream gradient through both and compares the gradient of every
floating-point input.

Example::

    from parity import assert_parity

    def test_matmul(torch, rng):
        a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 5))
        assert_parity(lambda a, b: a @ b, lambda a, b: a @ b, a, b, torch=torch)

    # integer / bool arrays become index or mask tensors without gradient:
    assert_parity(lambda x, i: x[i], lambda x, i: x[i], x, np.array([0, 2, 0]), torch=torch)

    # layers: copy the weights in the functions, e.g.
    #   nb_fn = lambda x: nb_layer(x)      torch_fn = lambda x: torch_layer(x)
    # and compare parameter gradients afterwards (nb_layer.weight.grad vs torch_layer.weight.grad).

Use the ``torch`` fixture from ``tests/conftest.py`` and pass it as ``torch=``: this module
never imports torch itself, so it can be imported where torch is absent.
"""

from __future__ import annotations

import numpy as np

import nnbasics as nb

__all__ = ["assert_parity", "to_numpy"]


def to_numpy(t) -> np.ndarray:
    """The values of an nnbasics or torch tensor (or anything array-like) as an ndarray."""
    if isinstance(t, nb.Tensor):
        return t._array
    if hasattr(t, "detach"):  # a torch tensor
        return t.detach().cpu().numpy()
    return np.asarray(t)


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_parity(nb_fn, torch_fn, *arrays, torch, atol=1e-5, rtol=1e-4, dtype=np.float32,
                  requires_grad=None, seed=0, check_dtype=True):
    """Assert that ``nb_fn`` and ``torch_fn`` agree in value and gradient on ``arrays``.

    Args:
        nb_fn: called with one nnbasics Tensor per array; returns a Tensor or a tuple/list of them.
        torch_fn: the same computation written with torch, called with torch tensors.
        *arrays: NumPy arrays (or array-likes). Floating arrays are cast to ``dtype`` and
            require grad (unless ``requires_grad`` says otherwise); integer and bool arrays
            are passed unchanged (int64 stays int64) as tensors without gradient.
        torch: the torch module (the ``torch`` fixture).
        atol, rtol: tolerances of ``np.testing.assert_allclose`` for outputs and gradients.
        dtype: the floating dtype of the inputs (float32 for parity; float64 to isolate
            an algorithmic difference from rounding).
        requires_grad: optional sequence of bools, one per array, to override which
            floating inputs require grad (e.g. a regression target).
        seed: seed of the random upstream gradients (one standard-normal array per
            differentiable output, identical for both libraries).
        check_dtype: also require equal output dtypes.

    Raises:
        AssertionError: naming the output or input that differs, with the numbers.

    Returns:
        (nb_outputs, torch_outputs, nb_inputs, torch_inputs): lists, for further checks.
    """
    arrays = [np.asarray(a) for a in arrays]
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    if len(requires_grad) != len(arrays):
        raise ValueError(f"requires_grad has {len(requires_grad)} entries for {len(arrays)} arrays.")
    nb_in, t_in = [], []
    for a, rg in zip(arrays, requires_grad):
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        elif rg:
            raise ValueError(f"only floating arrays can require grad; got {a.dtype}.")
        nb_in.append(nb.tensor(a, requires_grad=bool(rg)))
        t_in.append(torch.tensor(a, requires_grad=bool(rg)))

    nb_outs, t_outs = _as_list(nb_fn(*nb_in)), _as_list(torch_fn(*t_in))
    assert len(nb_outs) == len(t_outs), f"nnbasics returned {len(nb_outs)} outputs, torch {len(t_outs)}"
    for k, (o, t) in enumerate(zip(nb_outs, t_outs)):
        expected = to_numpy(t)
        got = to_numpy(o)
        assert got.shape == expected.shape, f"output {k}: shape {got.shape}, torch {expected.shape}"
        if check_dtype:
            assert got.dtype == expected.dtype, f"output {k}: dtype {got.dtype}, torch {expected.dtype}"
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=f"output {k}")

    # the same random upstream gradient through both graphs
    rng = np.random.default_rng(seed)
    t_roots, t_grads = [], []
    nb_roots = []
    for k, (o, t) in enumerate(zip(nb_outs, t_outs)):
        if not getattr(t, "requires_grad", False):
            assert not getattr(o, "requires_grad", False), f"output {k} requires grad, torch's does not"
            continue
        assert o.requires_grad, f"output {k} does not require grad, torch's does"
        g = np.asarray(rng.standard_normal(tuple(t.shape))).astype(to_numpy(t).dtype)
        t_roots.append(t)
        t_grads.append(torch.from_numpy(g.copy()))
        nb_roots.append((o, g))
    if t_roots:
        torch.autograd.backward(t_roots, t_grads)
        for o, g in nb_roots:
            o.backward(g, retain_graph=True)

    for k, (x, tx) in enumerate(zip(nb_in, t_in)):
        if not tx.requires_grad:
            assert x.grad is None, f"input {k} (no grad) received a gradient"
            continue
        expected = np.zeros(tx.shape, dtype=to_numpy(tx).dtype) if tx.grad is None else to_numpy(tx.grad)
        got = np.zeros(x.shape, dtype=x.dtype) if x.grad is None else x.grad._array
        assert got.shape == expected.shape, f"grad of input {k}: shape {got.shape}, torch {expected.shape}"
        assert got.dtype == expected.dtype, f"grad of input {k}: dtype {got.dtype}, torch {expected.dtype}"
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=f"grad of input {k}")
    return nb_outs, t_outs, nb_in, t_in
