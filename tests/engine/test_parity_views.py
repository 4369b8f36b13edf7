"""PyTorch parity of views and in-place changes of their base (issue 15 item 3, held-out cases).

A view shares memory with its base. When the base is changed in place while autograd records,
the view's later uses must send their gradient through the change (PyTorch regenerates the
view's ``grad_fn``); an in-place change made *through* a view is a change of the base (a
``zeros`` buffer filled row by row starts to require grad). Before this file, nnbasics gave
each of these silently wrong gradients (or refused a view made by ``reshape``/``T``).
Every scenario runs on nnbasics and torch in float64 and must agree: gradient, or error.
"""

import numpy as np
import pytest

import nnbasics as nb

SCENARIOS = {
    "reshape": "v = x.reshape(3, 2)\nx.mul_(2)\nout = (v * R.reshape(3, 2)).sum()",
    "row": "v = x[0]\nx.mul_(2)\nout = (v * R[0]).sum()",
    "transpose": "v = x.T\nx.exp_()\nout = (v * R.T).sum()",
    "transpose_then_setitem": "v = x.T\nx[0, 1] = 5.0\nout = (v * R.T).sum()",
    "view_of_a_view": "v = x.T[1:]\nx.mul_(3)\nout = (v * R.T[1:]).sum()",
    "used_before_and_after": ("v = x.reshape(3, 2)\nw = (v * R.reshape(3, 2)).sum()\nx.mul_(2)\n"
                              "out = w + (v * R.reshape(3, 2)).sum()"),
    "sibling_rows": "v = x[0]\nu = x[1]\nv.mul_(2)\nout = (u * R[0]).sum() + (v * R[1]).sum() + (x * R).sum()",
    "column": "v = x[:, 0]\nx.add_(1)\nout = (v * R[:, 0]).sum()",
    "unsqueeze": "v = x.unsqueeze(0)\nx.sigmoid_()\nout = (v[0] * R).sum()",
    "flat_view_then_setitem": "v = x.view(6)\nx[0] = 0.0\nout = (v * R.reshape(6)).sum()",
    "buffer_row_add_": "h = lib.zeros(2, 3)\nh[0].add_(a[0])\nout = (h * R).sum()",
    "buffer_row_copy_": "h = lib.zeros(2, 3)\nh[1].copy_(a[0] * 2)\nout = (h * R).sum() + (a * R).sum()",
    "buffer_transpose_copy_": "h = lib.zeros(3, 2)\nh.T.copy_(a)\nout = (h * R.T).sum()",
    "buffer_row_then_base": "h = lib.zeros(2, 3)\nrow = h[0]\nh.add_(a)\nout = (row * R[0]).sum() + (h * R).sum()",
    "base_changed_under_no_grad": "v = x[0]\nwith lib.no_grad():\n    x.mul_(2)\nout = (v * R[0]).sum()",
    "two_changes": ("v = x.reshape(6)\nx.mul_(2)\nw = (v * R.reshape(6)).sum()\nx.add_(a)\n"
                    "out = w + (v * R.reshape(6)).sum()"),
    "expanded_row": "v = x[0].expand(4, 3)\nx.mul_(2)\nout = (v * R[0]).sum()",
    "view_of_a_changed_view": "v = x[0]\nw = v[1:]\nv.mul_(2)\nout = (w * R[0, 1:]).sum()",
    "squeeze_transpose": "v = x.unsqueeze(2).transpose(0, 2)\nx.tanh_()\nout = (v.squeeze(0).T * R).sum()",
    "reshape_view_add_": "v = x.reshape(3, 2)\nv.add_(a.reshape(3, 2))\nout = (x * R).sum() + (v * R.reshape(3, 2)).sum()",
    "transpose_view_mul_": "x.T.mul_(a.T)\nout = (x * R).sum()",
    "view_of_view_setitem": "x[1:][0][1] = a[0, 0] * 4\nout = (x * R).sum()",
    "leaf_view_refused": "a.T.add_(1)\nout = (a * R).sum()",
    # the tensor is both the changed one and the operand: one graph edge for its old history
    "plus_equals_itself": "y = x * 2\ny += y\nout = (y * R).sum()",
    "view_plus_equals_itself": "y = x[:, 1:]\ny += y\nout = (y * R[:, 1:]).sum() + (x * R).sum()",
    "transposed_view_add_itself": "y = x.T\ny.add_(y)\nout = (y * R.T).sum()",
    # used, then changed through itself: the op that used it and the in-place op both reach its old history
    "view_used_then_changed_through_itself": ("v = x.t().contiguous().view(2, 3)\nw = v[v > 0].sum() + v\nv.exp_()\n"
                                              "out = (w * R).sum() + (v * R).sum()"),
    "kept_input_changed_through_view": "y = x.sigmoid()\nz = x * y\nx.T.mul_(2)\nout = (z * R).sum()",
}


def _run(lib, body):
    r = np.random.default_rng(0)
    a = lib.tensor(r.standard_normal((2, 3)), requires_grad=True)
    R = lib.tensor(r.standard_normal((2, 3)))
    env = {"a": a, "R": R, "x": a * 1.0, "lib": lib}
    try:
        exec(body, env)  # noqa: S102 - the scenarios above, run on both libraries
        env["out"].backward()
    except RuntimeError:
        return "raised"
    return a.grad.numpy().copy()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_views_follow_in_place_changes_of_their_base_as_in_torch(torch, name):
    ours, theirs = _run(nb, SCENARIOS[name]), _run(torch, SCENARIOS[name])
    if isinstance(theirs, str) or isinstance(ours, str):
        assert ours == theirs, f"nnbasics {ours!r}, torch {theirs!r}"
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_a_view_whose_base_changed_requires_grad_as_in_torch(torch):
    for lib in (nb, torch):
        h = lib.zeros(2, 3)
        row = h[0]
        h.add_(lib.ones(2, 3, requires_grad=True))
        assert row.requires_grad and not row.is_leaf, lib.__name__


def test_views_are_tracked_weakly():
    import gc
    import weakref

    x = nb.ones(2, 3, requires_grad=True) * 1.0
    ref = weakref.ref(x.reshape(6))
    gc.collect()
    assert ref() is None
    from nnbasics.views import _live

    assert _live(x) == [] and x._views == {}
