"""PyTorch parity of in-place changes (issue 13 §1) and version counters (issue 15 item 3).

Every scenario runs the same code on nnbasics and on torch (``lib`` is either module) and checks
the same outcome: both raise, or both succeed with equal values and gradients. The version
scenarios include the three the issue names (``fill_`` on an input after forward; ``copy_`` or
item assignment on a parameter under ``no_grad`` before backward; editing the output of
``detach()``) and cases torch accepts (an in-place change of something no backward kept).
"""

import numpy as np
import pytest

import nnbasics as nb

V = [1.0, -2.0, 3.0]


def _run(lib, scenario):
    """('raised', message) or ('ok', [values...]) of ``scenario(lib)``."""
    try:
        out = scenario(lib)
    except RuntimeError as e:
        return "raised", str(e)
    return "ok", [np.asarray(o.detach().numpy() if hasattr(o, "detach") else o, dtype=np.float64) for o in out]


def _same(torch, scenario):
    ours, theirs = _run(nb, scenario), _run(torch, scenario)
    assert ours[0] == theirs[0], f"nnbasics {ours}, torch {theirs}"
    if ours[0] == "ok":
        for a, b in zip(ours[1], theirs[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    return ours


def _leaf(lib, v=V):
    return lib.tensor(v, requires_grad=True)


# ---------------------------------------------------------------- torch's rules on leaves
@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "fill_", "zero_", "clamp_", "copy_", "setitem",
                                "iadd", "normal_", "uniform_"])
def test_leaf_that_requires_grad_refuses_in_place_and_no_grad_allows_it(torch, op):
    def change(lib, w):
        if op == "setitem":
            w[0] = 5.0
        elif op == "iadd":
            w += 1.0
        elif op in ("zero_", "normal_", "uniform_"):
            getattr(w, op)()
        elif op == "clamp_":
            w.clamp_(-1.0, 1.0)
        elif op == "copy_":
            w.copy_(lib.tensor([0.5, 0.5, 0.5]))
        else:
            getattr(w, op)(2.0)

    def refused(lib):
        w = _leaf(lib)
        change(lib, w)
        return [w]

    kind, msg = _same(torch, refused)
    assert kind == "raised" and "leaf" in msg and "no_grad" in msg

    def allowed(lib):
        w = _leaf(lib)
        with lib.no_grad():
            change(lib, w)
        assert w.requires_grad and w.is_leaf and w._version == 1
        return [] if op in ("normal_", "uniform_") else [w]

    assert _same(torch, allowed)[0] == "ok"


def test_in_place_results_keep_shape_and_castable_dtype(torch):
    for scenario in (lambda lib: [lib.zeros(3).add_(lib.ones(2, 3))],  # would need to grow: refused
                     lambda lib: [lib.zeros(3, dtype=lib.int64).add_(1.5)],  # float into int: refused
                     lambda lib: [lib.zeros(2, 3).add_(lib.ones(3))],  # broadcast operand: fine
                     lambda lib: [lib.zeros(3, dtype=lib.float64).add_(lib.ones(3, dtype=lib.float32))]):
        _same(torch, scenario)


# ---------------------------------------------------------------- in-place on non-leaves: recorded
INPLACE_GRAPHS = {
    "add_": lambda lib, x, w: (x * 2).add_(w, alpha=0.5) * w,
    "sub_mul_div_": lambda lib, x, w: (x * 1.5).sub_(w).mul_(w).div_(w * w + 1.0),
    "pow_": lambda lib, x, w: (x * 1.0 + 3.0).pow_(2) * w,
    "clamp_": lambda lib, x, w: (x * w).clamp_(-1.0, 1.0),
    "exp_tanh_sigmoid_": lambda lib, x, w: (x * w).exp_() + (x * w).tanh_() + (x - w).sigmoid_(),
    "neg_abs_": lambda lib, x, w: (x - w).neg_().abs_() * w,
    "iadd_imul": lambda lib, x, w: _iops(x * w, w),
    "setitem": lambda lib, x, w: _setitem(x * 1.0, w),
    "masked_fill_": lambda lib, x, w: (x * w).masked_fill_(x > 0, 0.25),
    "fill_zero_copy": lambda lib, x, w: (x * w).fill_(2.0) + (x * 1.0).zero_() + (x * 1.0).copy_(w * 3),
    "leaf_without_grad": lambda lib, x, w: lib.zeros(3).add_(w) * x,
}


def _iops(y, w):
    y += w
    y *= w
    y -= 1.0
    y /= 2.0
    return y


def _setitem(y, w):
    y[1] = w[0] * 4.0
    y[0] = 7.0
    return y * w


@pytest.mark.parametrize("name", list(INPLACE_GRAPHS))
def test_recorded_in_place_on_non_leaves_matches_torch_values_and_gradients(torch, name):
    def scenario(lib):
        x = lib.tensor([0.5, -1.5, 2.0], requires_grad=True)
        w = lib.tensor([1.2, 0.7, -0.4], requires_grad=True)
        y = INPLACE_GRAPHS[name](lib, x, w)
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return [y, x.grad if x.grad is not None else lib.zeros(3), w.grad]

    assert _same(torch, scenario)[0] == "ok"


def test_an_op_recorded_before_an_in_place_change_keeps_the_old_history(torch):
    # z used y before y.mul_(5): z's gradient flows to the old y, not through the mul_
    def scenario(lib):
        x = _leaf(lib)
        y = x * 2
        z = y + 3  # keeps nothing of y
        y.mul_(5)
        (z * 10 + y).sum().backward()
        return [y, z, x.grad]

    assert _same(torch, scenario)[0] == "ok"


def test_in_place_through_an_indexed_view_is_recorded_on_the_base(torch):
    def scenario(lib):
        x = lib.tensor([0.5, -1.5, 2.0, 1.0], requires_grad=True)
        y = x * 2
        y[1:3] += x[:2] * 3  # view, __iadd__, then __setitem__ on y
        v = y[0:2]
        v.mul_(x[2:])  # an in-place change of a view changes y
        (y * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return [y, v, x.grad]

    assert _same(torch, scenario)[0] == "ok"


def test_in_place_on_other_views_of_a_tensor_that_requires_grad_is_recorded_on_the_base(torch):
    # these were refused with advice until views were tracked (nnbasics.views); now as torch
    def scenario(lib):
        x = _leaf(lib)
        y = x * 2
        y.reshape(3, 1).add_(x.reshape(3, 1) ** 2)
        y[1:][0:1].mul_(3.0)
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return [y, x.grad]

    assert _same(torch, scenario)[0] == "ok"


def test_kept_outputs_changed_by_recorded_in_place_ops_are_not_an_error_where_the_gradient_is_right():
    # PyTorch raises here (tanh_ keeps its output, sigmoid_ then overwrites it); nnbasics records each in-place
    # op on a copy of the old values, so nothing kept is overwritten and the gradient is exact (docs/interop.md)
    x = nb.tensor(V, requires_grad=True)
    (x * 1.0).exp_().tanh_().sigmoid_().sum().backward()
    ref = nb.tensor(V, requires_grad=True)
    ref.exp().tanh().sigmoid().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=1e-6)


def test_iadd_is_in_place_and_keeps_identity(torch):
    def scenario(lib):
        a = lib.tensor([1.0, 2.0])
        alias = a
        b = a.detach()
        a += 1.0
        assert a is alias
        return [a, b]  # b sees the change: same memory

    assert _same(torch, scenario)[0] == "ok"


# ---------------------------------------------------------------- version counters (issue 15 item 3)
def _fill_input_after_forward(lib):
    w, x = _leaf(lib), lib.tensor([1.0, 1.0, 1.0])
    y = (w * x).sum()
    x.fill_(0.0)
    y.backward()
    return [w.grad]


def _copy_into_parameter_under_no_grad(lib):
    w = _leaf(lib)
    y = (w * w).sum()
    with lib.no_grad():
        w.copy_(lib.tensor([0.0, 0.0, 0.0]))
    y.backward()
    return [w.grad]


def _item_assignment_on_parameter_under_no_grad(lib):
    w = _leaf(lib)
    y = (w * w).sum()
    with lib.no_grad():
        w[0] = 5.0
    y.backward()
    return [w.grad]


def _linear_weight_changed_before_backward(lib):
    x = lib.tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], requires_grad=True)
    w = _leaf(lib, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    out = lib.nn.functional.linear(x, w).sum()
    with lib.no_grad():
        w.mul_(2.0)
    out.backward()
    return [x.grad]


def _edit_output_of_detach(lib):
    w = _leaf(lib)
    y = w.exp()
    y.detach().zero_()
    y.sum().backward()
    return [w.grad]


def _edit_sigmoid_output_under_no_grad(lib):
    w = _leaf(lib)
    y = w.sigmoid()
    with lib.no_grad():
        y.mul_(2.0)
    y.sum().backward()
    return [w.grad]


def _recorded_edit_of_a_kept_output(lib):
    w = _leaf(lib)
    y = w.tanh()
    y.add_(1.0)
    y.sum().backward()
    return [w.grad]


def _edit_of_a_tensor_kept_by_a_later_mul(lib):
    w = _leaf(lib)
    y = w * 1.0
    z = y * y
    y.add_(1.0)
    z.sum().backward()
    return [w.grad]


def _retain_graph_then_change_then_backward_again(lib):
    w, x = _leaf(lib), lib.tensor([2.0, 2.0, 2.0])
    y = (w * x).sum()
    y.backward(retain_graph=True)
    x.add_(1.0)
    y.backward()
    return [w.grad]


MODIFIED = [_fill_input_after_forward, _copy_into_parameter_under_no_grad, _item_assignment_on_parameter_under_no_grad,
            _linear_weight_changed_before_backward, _edit_output_of_detach, _edit_sigmoid_output_under_no_grad,
            _recorded_edit_of_a_kept_output, _edit_of_a_tensor_kept_by_a_later_mul,
            _retain_graph_then_change_then_backward_again]


@pytest.mark.parametrize("scenario", MODIFIED, ids=lambda f: f.__name__.strip("_"))
def test_changing_what_backward_needs_raises_as_torch(torch, scenario):
    kind, msg = _same(torch, scenario)
    assert kind == "raised"
    assert "modified by an inplace operation" in msg and "is at version" in msg and "expected version" in msg


def test_the_error_names_the_op_and_the_versions():
    w, x = nb.tensor(V, requires_grad=True), nb.tensor([1.0, 1.0, 1.0])
    y = (w * x).sum()
    x.fill_(0.0)
    x.add_(1.0)
    with pytest.raises(nb.InplaceError, match=r"input 1 of Mul, is at version 2; expected version 0"):
        y.backward()
    assert w.grad is None  # raised before any gradient was accumulated


def _add_keeps_nothing(lib):
    w, x = _leaf(lib), lib.tensor([1.0, 1.0, 1.0])
    y = (w + x).sum()
    x.fill_(0.0)
    y.backward()
    return [w.grad]


def _scale_by_number_keeps_nothing_of_w(lib):
    w = _leaf(lib)
    y = (w * 2.0).sum()
    with lib.no_grad():
        w.add_(1.0)
    y.backward()
    return [w.grad, w]


def _linear_without_input_grad_keeps_no_weight(lib):
    x = lib.tensor([[0.5, -1.0, 2.0]])
    w = _leaf(lib, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    out = lib.nn.functional.linear(x, w).sum()
    with lib.no_grad():
        w.zero_()
    out.backward()
    return [w.grad]


def _edit_through_data_is_not_tracked(lib):
    w = _leaf(lib)
    y = (w * w).sum()
    w.data.mul_(2.0)
    y.backward()
    return [w.grad]


def _detached_output_of_mul_by_number(lib):
    w = _leaf(lib)
    y = w * 2.0
    y.detach().zero_()
    y.sum().backward()
    return [w.grad]


def _change_after_backward(lib):
    w, x = _leaf(lib), lib.tensor([2.0, 2.0, 2.0])
    (w * x).sum().backward()
    x.fill_(5.0)
    (w * x).sum().backward()
    return [w.grad]


ACCEPTED = [_add_keeps_nothing, _scale_by_number_keeps_nothing_of_w, _linear_without_input_grad_keeps_no_weight,
            _edit_through_data_is_not_tracked, _detached_output_of_mul_by_number, _change_after_backward]


@pytest.mark.parametrize("scenario", ACCEPTED, ids=lambda f: f.__name__.strip("_"))
def test_changing_what_no_backward_kept_works_as_in_torch(torch, scenario):
    assert _same(torch, scenario)[0] == "ok"


def test_version_counter_is_shared_by_detach_and_views_not_by_data(torch):
    for lib in (nb, torch):
        x = lib.zeros(2, 3)
        d, v, raw = x.detach(), x[0], x.data
        d.add_(1.0)
        v.mul_(2.0)
        raw.sub_(1.0)
        assert (x._version, d._version, v._version, raw._version) == (2, 2, 2, 1), lib.__name__
