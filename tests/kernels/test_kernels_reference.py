"""Every kernel against its reference: the same values and gradients, both ways, for each registered kernel.

Each case runs once on the kernels and once in reference mode, from the same inputs and the
same random upstream gradient, and checks that each path really ran (the op in the graph).
Tolerances, per op (float32 unless stated):

* exact (``assert_array_equal``): elementwise kernels (ReLU, Mul) and the backward walk — one
  IEEE operation per element either way, or the same operations in the same order;
* ``rtol`` / ``atol`` as given in the case: kernels that reorder sums (blocked GEMMs, partial
  sums per thread); float64 cases are held to 1e-12.

Every case runs on one thread and on three (with the size thresholds of the workspace pool
and of the thread split set to zero, so that small test arrays take the big-array paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import autograd, dispatch, threads
from nnbasics.ops import elementwise as ew
from nnbasics.ops import parallel, workspace


@dataclass
class Case:
    """One kernel's inputs: ``run(*tensors)`` must take the kernel registered for ``op``."""

    name: str
    op: type
    shapes: list  # one shape per input (float32 arrays of standard normals)
    run: object
    rtol: float = 0.0  # 0: exact
    atol: float = 0.0
    dtype: object = np.float32
    grads: list = field(default_factory=list)  # input positions that require grad (default: all)


CASES = [
    Case("relu 4-d", ew.ReLU, [(2, 3, 5, 7)], nb.relu),
    Case("relu channels-last", ew.ReLU, [(2, 5, 7, 3)], lambda x: nb.relu(x.permute(0, 3, 1, 2))),
    Case("relu 0-d", ew.ReLU, [()], nb.relu),
    Case("relu float64", ew.ReLU, [(3, 5)], nb.relu, dtype=np.float64),
    Case("mul same shape", ew.Mul, [(6, 5, 4), (6, 5, 4)], nb.mul),
    Case("mul one input needs grad", ew.Mul, [(6, 5), (6, 5)], nb.mul, grads=[1]),
    Case("mul channels-last by C order", ew.Mul, [(2, 5, 7, 3), (2, 3, 5, 7)],
         lambda a, b: nb.mul(a.permute(0, 3, 1, 2), b)),
]


@pytest.fixture(params=[1, 3], ids=["1 thread", "3 threads"])
def n_threads(request, monkeypatch):
    """Small arrays take the big-array paths (pool, thread split); the thread count is restored."""
    monkeypatch.setattr(workspace, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    old = threads._threads
    threads.set_num_threads(request.param)
    yield request.param
    threads._threads = old


def _ops_in_graph(out):
    seen, stack, found = set(), [out], []
    while stack:
        t = stack.pop()
        fn = t._ctx
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        found.append(type(fn))
        stack.extend(fn.inputs)
    return found


def _run(case, arrays, upstream, reference):
    with nb.reference_mode(reference):
        needs = case.grads or range(len(arrays))
        ts = [nb.tensor(a.copy(), requires_grad=i in needs) for i, a in enumerate(arrays)]
        out = case.run(*ts)
        path = _ops_in_graph(out)
        expected = [case.op] if reference else dispatch.kernels_of(case.op)
        assert any(p in expected for p in path), f"{case.name}: {expected} did not run; the graph holds {path}"
        out.backward(nb.tensor(upstream.astype(out.dtype)))
        return [out._array.copy()] + [ts[i].grad._array.copy() for i in needs]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kernel_equals_reference(case, n_threads):
    rng = np.random.default_rng(7)
    arrays = [np.asarray(rng.standard_normal(s), dtype=case.dtype) for s in case.shapes]
    if case.op is ew.ReLU and arrays[0].ndim:
        arrays[0][..., :1] = 0.0  # the kink
    with nb.no_grad():
        shape = case.run(*[nb.tensor(a) for a in arrays]).shape
    upstream = np.asarray(rng.standard_normal(shape))
    fast = _run(case, arrays, upstream, reference=False)
    ref = _run(case, arrays, upstream, reference=True)
    for what, f, r in zip(["output"] + [f"grad {i}" for i in range(len(fast) - 1)], fast, ref):
        assert f.dtype == r.dtype and f.shape == r.shape, what
        if case.rtol == 0 and case.atol == 0:
            np.testing.assert_array_equal(f, r, err_msg=f"{case.name}: {what}")
        else:
            np.testing.assert_allclose(f, r, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name}: {what}")


def test_every_kernel_has_a_case():
    covered = {c.op for c in CASES} | {autograd.propagate}  # the walk: tests below
    missing = [ref for ref in dispatch._registered if ref not in covered]
    assert not missing, f"kernels without a both-ways case: {missing}"


# ------------------------------------------------------------------ the backward walk
def _graphs():
    """Graphs whose gradients reach leaves shared, passed through, twice, through hooks and views."""

    def add_two_leaves(a, b, c):
        return (a + b) * c  # Add passes one array to both a and b

    def reused(a, b, c):
        return a * a + (a @ b.T).sum() * c.sum()  # a along three paths; W.grad from a transpose

    def clone_and_cast(a, b, c):
        return a.clone() + b.double().float() + c.reshape(-1).reshape(c.shape)

    def retained(a, b, c):
        h = a * 2.0
        h.retain_grad()
        h.register_hook(lambda g: g * 3.0)
        return h + b + c

    return [add_two_leaves, reused, clone_and_cast, retained]


@pytest.mark.parametrize("graph", _graphs(), ids=lambda f: f.__name__)
def test_the_walk_gives_the_reference_gradients_each_owned_by_its_leaf(graph):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    results = {}
    for reference in (False, True):
        with nb.reference_mode(reference):
            assert (autograd.propagate.kernels == ()) == reference
            ts = [nb.tensor(a, requires_grad=True) for a in arrays]
            out = graph(*ts)
            upstream = nb.tensor(np.ones(out.shape, np.float32))
            out.backward(upstream)
            grads = [t.grad._array for t in ts]
            for i, g in enumerate(grads):  # no .grad shares memory with another, the inputs or the caller's grad
                others = grads[:i] + grads[i + 1:] + arrays + [upstream._array]
                assert not any(np.shares_memory(g, o) for o in others), (graph.__name__, i, reference)
            results[reference] = [g.copy() for g in grads]
    for f, r in zip(results[False], results[True]):
        np.testing.assert_array_equal(f, r)


def test_a_second_backward_accumulates_on_both_paths():
    for reference in (False, True):
        with nb.reference_mode(reference):
            w = nb.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
            x = nb.ones(4, 3)
            for _ in range(2):
                (x @ w.T).sum().backward()
            np.testing.assert_array_equal(w.grad._array, np.full((2, 3), 8.0, np.float32))
