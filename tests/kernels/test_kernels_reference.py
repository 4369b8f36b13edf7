"""Every kernel against its reference: the same values and gradients, both ways, for each registered kernel.

Each case runs once on the kernels and once in reference mode, from the same inputs and the
same random upstream gradient, and checks that each path really ran (the op in the graph).
Tolerances, per op (float32 unless stated), normwise: the largest ``|kernel - reference|`` over
each output or gradient array at most ``tol`` times the largest ``|reference|`` in it:

* exact (``tol = 0``, ``assert_array_equal``): elementwise kernels (ReLU, Mul), pooling (the same
  comparisons and the same sums in the same order), indexing, the dropout mask, the backward walk;
* 1e-6: kernels that take float32 sums in another order (blocked and batched GEMMs, per-thread
  partial sums, fused normalization passes, sorted embedding rows);
* 2e-6: recurrent layers (the reordered sums of every time step feed the next);
* 1e-12: the float64 cases of those.

Every case runs on one thread and on three (with the size thresholds of the workspace pool
and of the thread split set to zero, so that small test arrays take the big-array paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import autograd, dispatch, threads
from nnbasics.functional.dropout import scaled_mask, uniform
from nnbasics.kernels import parallel, workspace
from nnbasics.ops import conv, embedding, linalg, movement, norm, pool
from nnbasics.ops import elementwise as ew
from nnbasics.ops import recurrent as rc


@dataclass
class Case:
    """One kernel's inputs: ``run(*tensors)`` must take the kernel registered for ``op``."""

    name: str
    op: type
    shapes: list  # one shape per input (float32 arrays of standard normals)
    run: object
    tol: float = 0.0  # largest |kernel - reference| <= tol * largest |reference|, per array; 0: exact
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


# Convolutions: odd sizes, non-square kernels, stride, padding (uneven: 'same' with an even kernel),
# dilation, groups, depthwise, one input channel (with and without bias), a float64 one.
_CONV = [
    ((2, 3, 7, 5), (4, 3, 3, 2), {"padding": 1}),
    ((2, 3, 7, 5), (5, 3, 2, 3), {"stride": 2, "padding": (1, 2)}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": (2, 3), "padding": 1, "dilation": (1, 2)}),
    ((3, 2, 7, 5), (4, 2, 2, 2), {"padding": "same"}),
    ((2, 4, 5, 7), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 7, 5), (4, 1, 3, 2), {"groups": 4, "stride": 2, "padding": 1}),
    ((2, 1, 7, 5), (3, 1, 3, 3), {"padding": 1}),
    ((2, 3, 5, 6), (4, 3, 2, 3), {"padding": (2, 1)}),
]
CASES += [Case(f"conv2d {x} {w} {kw}", conv.Conv2d, [x, w, (w[0],)],
               lambda x, w, b, kw=kw: F.conv2d(x, w, b, **kw), tol=1e-6) for x, w, kw in _CONV]
CASES += [
    Case("conv2d one channel, no bias", conv.Conv2d, [(2, 1, 7, 5), (3, 1, 3, 3)],
         lambda x, w: F.conv2d(x, w, stride=2, padding=1), tol=1e-6),
    Case("conv2d input needs no grad", conv.Conv2d, [(2, 3, 6, 5), (4, 3, 3, 3), (4,)],
         lambda x, w, b: F.conv2d(x, w, b, padding=1), tol=1e-6, grads=[1, 2]),
    # 3x3 / stride 1: the Winograd kernel from 16 -> 32 channels (NumPy blocks; the compiled ones in
    # CI's compiled leg), and from 8 channels with the compiled kernels on (the im2col one without;
    # its own tests: test_kernels_conv_winograd.py)
    Case("conv2d 3x3 16 -> 32 channels", conv.Conv2d, [(2, 16, 7, 6), (32, 16, 3, 3), (32,)],
         lambda x, w, b: F.conv2d(x, w, b, padding=1), tol=3e-6),
    Case("conv2d 3x3 8 channels", conv.Conv2d, [(2, 8, 7, 6), (5, 8, 3, 3), (5,)],
         lambda x, w, b: F.conv2d(x, w, b, padding=1), tol=3e-6),
    Case("conv2d float64", conv.Conv2d, [(2, 3, 6, 5), (4, 3, 3, 3), (4,)],
         lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), tol=1e-12, dtype=np.float64),
]

# Pooling: the 2x2 tournament (even and odd sizes, channels-last input, ties after a ReLU),
# overlapping windows, padding, dilation, ceil_mode; average with each divisor rule.
_MAX = [((2, 3, 6, 8), {"kernel_size": 2}), ((2, 3, 7, 9), {"kernel_size": 2}),
        ((2, 3, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
        ((2, 2, 9, 7), {"kernel_size": (2, 3), "stride": 1, "dilation": 2}),
        ((2, 2, 7, 8), {"kernel_size": 3, "stride": 2, "ceil_mode": True})]
CASES += [Case(f"max_pool2d {x} {kw}", pool.MaxPool2d, [x], lambda x, kw=kw: F.max_pool2d(F.relu(x), **kw))
          for x, kw in _MAX]
CASES += [Case("max_pool2d channels-last 2x2", pool.MaxPool2d, [(2, 6, 8, 3)],
               lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 2))]
_AVG = [((2, 3, 6, 8), {"kernel_size": 2}),
        ((2, 3, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
        ((2, 3, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
        ((2, 2, 7, 8), {"kernel_size": 3, "stride": 2, "ceil_mode": True, "count_include_pad": False}),
        ((2, 2, 7, 8), {"kernel_size": (2, 3), "stride": 1, "divisor_override": 4})]
CASES += [Case(f"avg_pool2d {x} {kw}", pool.AvgPool2d, [x], lambda x, kw=kw: F.avg_pool2d(x, **kw),
               ) for x, kw in _AVG]

# Recurrent layers (T 5, N 3, I 4, H 6): forward and reverse, with and without biases.
_T, _N, _I, _H = 5, 3, 4, 6
for _rev in (False, True):
    CASES += [
        Case(f"lstm reverse={_rev}", rc.LSTMLayer, [(_T, _N, _I), (_N, _H), (_N, _H), (4 * _H, _I), (4 * _H, _H),
                                                       (4 * _H,), (4 * _H,)],
             lambda *a, r=_rev: rc.lstm_layer(*a, reverse=r), tol=2e-6),
        Case(f"gru reverse={_rev}", rc.GRULayer, [(_T, _N, _I), (_N, _H), (3 * _H, _I), (3 * _H, _H), (3 * _H,), (3 * _H,)],
             lambda *a, r=_rev: rc.gru_layer(*a, reverse=r), tol=2e-6),
        Case(f"rnn tanh reverse={_rev}", rc.RNNLayer, [(_T, _N, _I), (_N, _H), (_H, _I), (_H, _H), (_H,), (_H,)],
             lambda *a, r=_rev: rc.rnn_layer(*a, reverse=r), tol=2e-6),
    ]
CASES += [
    Case("lstm no bias", rc.LSTMLayer, [(_T, _N, _I), (_N, _H), (_N, _H), (4 * _H, _I), (4 * _H, _H)],
         rc.lstm_layer, tol=2e-6),
    Case("lstm weights only", rc.LSTMLayer, [(_T, _N, _I), (_N, _H), (_N, _H), (4 * _H, _I), (4 * _H, _H)],
         rc.lstm_layer, tol=2e-6, grads=[3, 4]),
    Case("gru no bias", rc.GRULayer, [(_T, _N, _I), (_N, _H), (3 * _H, _I), (3 * _H, _H)], rc.gru_layer,
         tol=2e-6),
    Case("rnn relu", rc.RNNLayer, [(_T, _N, _I), (_N, _H), (_H, _I), (_H, _H)],
         lambda *a: rc.rnn_layer(*a, nonlinearity="relu"), tol=2e-6),
    Case("lstm float64", rc.LSTMLayer, [(_T, _N, _I), (_N, _H), (_N, _H), (4 * _H, _I), (4 * _H, _H)],
         rc.lstm_layer, tol=1e-12, dtype=np.float64),
]

# Normalization: batch norm in training and eval mode, 4-d and 2-d, with and without the affine
# parameters; layer norm over 1 and 2 dims.
_RM, _RV = np.linspace(-1, 1, 3).astype(np.float32), np.linspace(0.5, 2, 3).astype(np.float32)
CASES += [
    Case("batch_norm training", norm.BatchNorm, [(4, 3, 5, 7), (3,), (3,)],
         lambda x, w, b: norm.batch_norm(x, w, b, training=True), tol=1e-6),
    Case("batch_norm 2-d, no affine", norm.BatchNorm, [(6, 3)], lambda x: norm.batch_norm(x, training=True),
         tol=1e-6),
    Case("batch_norm weight only", norm.BatchNorm, [(4, 3, 5), (3,)],
         lambda x, w: norm.batch_norm(x, w, training=True), tol=1e-6),
    Case("batch_norm eval", norm.BatchNorm, [(4, 3, 5, 7), (3,), (3,)],
         lambda x, w, b: norm.batch_norm(x, w, b, _RM.copy(), _RV.copy(), training=False), tol=1e-6),
    Case("batch_norm float64", norm.BatchNorm, [(4, 3, 5, 7), (3,), (3,)],
         lambda x, w, b: norm.batch_norm(x, w, b, training=True), tol=1e-12, dtype=np.float64),
    Case("layer_norm last dim", norm.LayerNorm, [(4, 5, 7), (7,), (7,)],
         lambda x, w, b: norm.layer_norm(x, 1, w, b), tol=1e-6),
    Case("layer_norm two dims, no affine", norm.LayerNorm, [(4, 5, 7)], lambda x: norm.layer_norm(x, 2),
         tol=1e-6),
    Case("layer_norm bias only", norm.LayerNorm, [(4, 5, 7), (5, 7)],
         lambda x, b: norm.layer_norm(x, 2, None, b), tol=1e-6),
]

# Matrix products: plain, x @ W.T (a transposed view), a batch against a matrix, 1-D operands,
# broadcast batch dims, a transposed left operand.
_MM = 1e-6
CASES += [
    Case("matmul 2-d", linalg.MatMul, [(5, 3), (3, 4)], nb.matmul, tol=_MM),
    Case("matmul x @ W.T", linalg.MatMul, [(5, 3), (4, 3)], lambda x, w: x @ w.T, tol=_MM),
    Case("matmul a.T @ b", linalg.MatMul, [(3, 5), (3, 4)], lambda a, b: a.T @ b, tol=_MM),
    Case("matmul batch @ matrix", linalg.MatMul, [(2, 5, 3), (3, 4)], nb.matmul, tol=_MM),
    Case("matmul broadcast batches", linalg.MatMul, [(2, 1, 5, 3), (3, 3, 4)], nb.matmul, tol=_MM),
    Case("matmul vector @ matrix", linalg.MatMul, [(3,), (3, 4)], nb.matmul, tol=_MM),
    Case("matmul matrix @ vector", linalg.MatMul, [(5, 3), (3,)], nb.matmul, tol=_MM),
    Case("matmul vector @ vector", linalg.MatMul, [(3,), (3,)], nb.matmul, tol=_MM),
]
# The fused linear op: 2-d and batched input, with and without bias, one gradient only, float64.
CASES += [
    Case("linear 2-d", linalg.Linear, [(5, 3), (4, 3), (4,)], F.linear, tol=_MM),
    Case("linear batched input", linalg.Linear, [(2, 5, 3), (4, 3), (4,)], F.linear, tol=_MM),
    Case("linear no bias", linalg.Linear, [(5, 3), (4, 3)], F.linear, tol=_MM),
    Case("linear weight grad only", linalg.Linear, [(5, 3), (4, 3), (4,)], F.linear, tol=_MM, grads=[1, 2]),
    Case("linear input grad only", linalg.Linear, [(2, 5, 3), (4, 3)], F.linear, tol=_MM, grads=[0]),
    Case("linear float64", linalg.Linear, [(5, 3), (4, 3), (4,)], F.linear, tol=1e-12, dtype=np.float64),
]
# Indexing (slices, repeated integer indices, a bool mask) and embedding lookups (repeats, padding).
_IDX = np.array([0, 3, 0, 2, 3, 3])
CASES += [
    Case("getitem slice", movement.GetItem, [(5, 4)], lambda x: x[1:4, ::2]),
    Case("getitem repeated indices", movement.GetItem, [(5, 4)], lambda x: x[_IDX]),
    Case("getitem bool mask", movement.GetItem, [(5, 4)], lambda x: x[nb.tensor(np.arange(20).reshape(5, 4) % 3 == 0)]),
    Case("embedding repeats", embedding.EmbeddingLookup, [(5, 3)],
         lambda w: F.embedding(nb.tensor(_IDX.reshape(2, 3)), w), tol=1e-6),
    Case("embedding padding_idx", embedding.EmbeddingLookup, [(5, 3)],
         lambda w: F.embedding(nb.tensor(_IDX.reshape(3, 2)), w, padding_idx=3), tol=1e-6),
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
        if case.tol == 0:
            np.testing.assert_array_equal(f, r, err_msg=f"{case.name}: {what}")
        else:
            err, scale = np.abs(f - r).max(initial=0), np.abs(r).max(initial=0)
            assert err <= case.tol * scale, f"{case.name}: {what}: |kernel - reference| {err:.3g} > {case.tol} x {scale:.3g}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kernel_backward_twice_with_retain_graph(case, n_threads):
    """PyTorch's ``retain_graph=True``: a second backward through every kernel gives the same
    gradients again (a kernel that frees what it saved as it goes must not, then)."""
    rng = np.random.default_rng(11)
    arrays = [np.asarray(rng.standard_normal(s), dtype=case.dtype) for s in case.shapes]
    with nb.reference_mode(False):
        needs = case.grads or range(len(arrays))
        ts = [nb.tensor(a, requires_grad=i in needs) for i, a in enumerate(arrays)]
        out = case.run(*ts)
        assert any(p in dispatch.kernels_of(case.op) for p in _ops_in_graph(out)), case.name
        up = nb.tensor(rng.standard_normal(out.shape).astype(out.dtype))
        out.backward(up, retain_graph=True)
        first = [ts[i].grad._array.copy() for i in needs]
        out.backward(up)
        for i, g in zip(needs, first):
            np.testing.assert_array_equal(ts[i].grad._array, g + g, err_msg=f"{case.name}: grad {i}")


def test_batch_norm_updates_the_running_statistics_alike():
    x = np.random.default_rng(5).standard_normal((8, 3, 4, 5)).astype(np.float32) * 3 + 1
    stats = {}
    for reference in (False, True):
        with nb.reference_mode(reference):
            rm, rv = _RM.copy(), _RV.copy()
            norm.batch_norm(nb.tensor(x, requires_grad=True), None, None, rm, rv, training=True, momentum=0.3)
            stats[reference] = rm, rv
    for f, r in zip(stats[False], stats[True]):
        assert np.abs(f - r).max() <= 1e-6 * np.abs(r).max()  # the batch statistics: float32 sums in another order
    assert not np.allclose(stats[True][0], _RM)  # they moved


def test_every_kernel_has_a_case():
    covered = {c.op for c in CASES} | {autograd.propagate, uniform, scaled_mask}  # below
    missing = [ref for ref in dispatch._registered if ref not in covered and ref.__module__.startswith("nnbasics.")]
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


# ------------------------------------------------------------------ dispatchable functions
@pytest.mark.parametrize("which", ["dropout", "dropout2d"])
def test_dropout_masks_are_drawn_alike_on_both_paths(which, n_threads, monkeypatch):
    calls = []
    for ref in (uniform, scaled_mask):  # a spy around each kernel (published on entering reference_mode)
        (when, kernel), = dispatch._registered[ref]
        monkeypatch.setitem(dispatch._registered, ref, [(when, lambda *a, k=kernel: calls.append(k) or k(*a))])
    x = np.random.default_rng(4).standard_normal((6, 5, 4, 3)).astype(np.float32)
    g = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    results = {}
    for reference in (False, True):
        with nb.reference_mode(reference):
            assert (uniform.kernels == ()) == reference
            t = nb.tensor(x, requires_grad=True)
            y = getattr(F, which)(t, 0.4, rng=np.random.default_rng(9))
            y.backward(nb.tensor(g))
            results[reference] = y._array.copy(), t.grad._array.copy()
    assert len(calls) == 2  # the kernels ran once each, on the fast path only
    for f, r in zip(results[False], results[True]):
        np.testing.assert_array_equal(f, r)
    assert 0 < (results[True][0] == 0).mean() < 1
    monkeypatch.undo()
    dispatch._set_reference(dispatch.is_reference_mode())  # publish the real kernels again
