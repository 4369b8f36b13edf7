"""nn.Module: registries, traversal, modes, state dict, hooks, dtype, summary, repr; and the contract helper."""

import copy

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn
from nnbasics.nn.module import IncompatibleKeys, StateDictError


class Affine(nn.Module):
    """A tiny module with a parameter, an optional bias and buffers."""

    def __init__(self, n_in=3, n_out=2, bias=True, rng=0):
        super().__init__()
        g = nb.as_generator(rng)
        self.weight = nn.Parameter(g.standard_normal((n_out, n_in)).astype(np.float32))
        if bias:
            self.bias = nn.Parameter(g.standard_normal(n_out).astype(np.float32))
        else:
            self.register_parameter("bias", None)
        self.register_buffer("scale", nb.ones(n_out))
        self.register_buffer("calls", nb.zeros(1, dtype="int64"))
        self.register_buffer("cache", nb.zeros(n_out), persistent=False)

    def forward(self, x):
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return y * self.scale


class Net(nn.Module):
    def __init__(self, rng=0):
        super().__init__()
        self.enc = Affine(3, 5, rng=rng)
        self.gain = nn.Parameter(np.full(5, 2.0, dtype=np.float32))
        self.head = nn.Sequential(Affine(5, 4, rng=nb.as_generator(rng).integers(1 << 30)), Affine(4, 2, bias=False))

    def forward(self, x):
        return self.head(self.enc(x) * self.gain)


# ------------------------------------------------------------------ registry
def test_registration_order_and_missing_bias():
    m = Affine(bias=False)
    assert list(m._parameters) == ["weight", "bias"]
    assert m.bias is None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = nn.Parameter(np.zeros(2, dtype=np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]


def test_assignment_misuse_fails_loudly():
    m = Affine()
    with pytest.raises(TypeError, match="Parameter"):
        m.weight = np.zeros((2, 3))
    with pytest.raises(TypeError, match="buffer 'scale'"):
        m.scale = np.ones(2)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1, dtype=np.float32))

    with pytest.raises(AttributeError, match="super"):
        Early()


def test_named_parameters_dotted_and_shared_once():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["gain", "enc.weight", "enc.bias", "head.0.weight", "head.0.bias", "head.1.weight"]
    net.head[1].weight = net.enc.weight  # tied (shapes differ, only registration matters here)
    names = [n for n, _ in net.named_parameters()]
    assert names.count("head.1.weight") == 0 and "enc.weight" in names
    assert len(list(net.parameters())) == 5


def test_children_and_modules():
    net = Net()
    assert [type(c).__name__ for c in net.children()] == ["Affine", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "enc", "head", "head.0", "head.1"]
    assert next(iter(net.modules())) is net
    assert net.get_submodule("head.1") is net.head[1]
    with pytest.raises(AttributeError, match="'nope'"):
        net.get_submodule("head.nope")


def test_train_eval_propagate():
    net = Net()
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 5
    assert net.train() is net
    assert all(m.training for m in net.modules())


def test_apply_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Affine", "Affine", "Affine", "Sequential", "Net"]


def test_zero_grad_and_requires_grad():
    m = Affine()
    m(nb.ones(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert np.all(m.weight.grad._array == 0) and m.weight.grad.shape == (2, 3)
    m.zero_grad()
    assert m.weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


# ---------------------------------------------------------------- state dict
def test_state_dict_keys_order_buffers_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == [
        "gain", "enc.weight", "enc.bias", "enc.scale", "enc.calls",
        "head.0.weight", "head.0.bias", "head.0.scale", "head.0.calls",
        "head.1.weight", "head.1.scale", "head.1.calls",
    ]  # non-persistent "cache" is left out
    assert all(isinstance(v, nb.Tensor) and not isinstance(v, nn.Parameter) for v in sd.values())
    assert not sd["enc.weight"].requires_grad
    assert np.shares_memory(sd["enc.weight"]._array, net.enc.weight._array)
    assert sd["enc.calls"].dtype == np.int64
    kept = net.state_dict(keep_vars=True)
    assert kept["enc.weight"] is net.enc.weight
    assert list(net.state_dict(prefix="model.")) == ["model." + k for k in sd]


def test_load_state_dict_in_place_from_tensors_and_arrays():
    a, b = Net(rng=1), Net(rng=2)
    w_obj = b.enc.weight
    arrays = {k: v.numpy().astype(np.float64) if v.dtype == np.float32 else v.numpy()
              for k, v in a.state_dict().items()}
    result = b.load_state_dict(arrays)
    assert result == IncompatibleKeys([], [])
    assert b.enc.weight is w_obj and b.enc.weight.dtype == np.float32  # kept object, cast to its dtype
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].numpy(), v.numpy())
        assert not np.shares_memory(b.state_dict()[k].numpy(), v.numpy())
    x = nb.randn(4, 3, rng=0)
    np.testing.assert_array_equal(b(x)._array, a(x)._array)


def test_load_state_dict_one_error_names_everything():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    sd = dict(net.state_dict())
    del sd["enc.bias"], sd["head.1.calls"]
    sd["enc.weight"] = np.zeros((3, 5), dtype=np.float32)  # transposed
    sd["head.2.weight"] = np.zeros((2, 2), dtype=np.float32)
    sd["gain"] = np.ones(5, dtype=np.float32) * 7  # valid, but nothing may change on error
    with pytest.raises(StateDictError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    for piece in ("Net", "missing keys: 'enc.bias', 'head.1.calls'", "unexpected keys: 'head.2.weight'",
                  "'enc.weight': checkpoint (3, 5), module (5, 3)"):
        assert piece in msg, msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict():
    net = Net()
    sd = dict(Net(rng=5).state_dict())
    del sd["enc.bias"]
    sd["extra"] = np.zeros(1)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["enc.bias"] and unexpected == ["extra"]
    np.testing.assert_array_equal(net.enc.weight._array, sd["enc.weight"].numpy())
    sd["gain"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(StateDictError, match="'gain': checkpoint \\(4,\\), module \\(5,\\)"):
        net.load_state_dict(sd, strict=False)  # wrong shapes are never ignored


def test_load_state_dict_rejects_non_mapping_and_non_numeric():
    m = Affine()
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("weight", np.zeros((2, 3)))])
    sd = dict(m.state_dict())
    sd["weight"] = "abc"
    with pytest.raises(TypeError, match="'weight'"):
        m.load_state_dict(sd)


class _FakeTorchTensor:
    """Quacks like a torch tensor: .detach().cpu().numpy()."""

    def __init__(self, arr):
        self.arr, self.calls = arr, []

    def detach(self):
        self.calls.append("detach")
        return self

    def cpu(self):
        self.calls.append("cpu")
        return self

    def numpy(self):
        self.calls.append("numpy")
        return self.arr


def test_load_state_dict_duck_typed_torch_values():
    m = Affine()
    vals = {k: _FakeTorchTensor(v.numpy() + 1) for k, v in m.state_dict().items()}
    m.load_state_dict(vals)
    assert vals["weight"].calls == ["detach", "cpu", "numpy"]
    np.testing.assert_array_equal(m.weight._array, vals["weight"].arr)


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]
    with nb.no_grad():
        twin.enc.weight.fill_(0.0)
    assert not np.all(net.enc.weight._array == 0)


# --------------------------------------------------------------------- hooks
def test_forward_hook_order_replacement_and_removal():
    log = []
    seq = nn.Sequential(Affine(3, 2), Affine(2, 2))
    handles = [
        seq.register_forward_pre_hook(lambda m, a: log.append("seq pre")),
        seq.register_forward_hook(lambda m, a, o: log.append("seq post")),
    ]
    for i, layer in enumerate(seq):
        handles.append(layer.register_forward_pre_hook(lambda m, a, i=i: log.append(f"{i} pre")))
        handles.append(layer.register_forward_hook(lambda m, a, o, i=i: log.append(f"{i} post {o.shape}")))
    handles.append(seq[0].register_forward_hook(lambda m, a, o: log.append("0 second")))
    seq(nb.ones(4, 3))
    assert log == ["seq pre", "0 pre", "0 post (4, 2)", "0 second", "1 pre", "1 post (4, 2)", "seq post"]
    for h in handles:
        h.remove()
    log.clear()
    seq(nb.ones(4, 3))
    assert log == []


def test_hooks_can_replace_inputs_and_outputs():
    m = Affine()
    x = nb.randn(4, 3, rng=0)
    ref, ref2 = m(x)._array, m(x * 2)._array
    with m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,)):
        np.testing.assert_array_equal(m(x)._array, ref2)
    with m.register_forward_hook(lambda mod, args, out: out + 1):
        np.testing.assert_allclose(m(x)._array, ref + 1, rtol=1e-6)
    np.testing.assert_array_equal(m(x)._array, ref)  # both removed on leaving the with blocks


def test_full_backward_hook_grads():
    m = Affine(3, 2, bias=True)
    x = nb.randn(4, 3, rng=0, requires_grad=True)
    w_up = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    seen = []
    h = m.register_full_backward_hook(lambda mod, gi, go: seen.append((mod, gi, go)))
    y = m(x)
    # the input is also used outside the module: grad_input must be this module's share only
    (y * nb.as_tensor(w_up)).sum().add((x * 3).sum()).backward()
    assert len(seen) == 1 and seen[0][0] is m
    _, (gx,), (gy,) = seen[0]
    np.testing.assert_allclose(gy._array, w_up, rtol=1e-6)
    np.testing.assert_allclose(gx._array, (w_up * m.scale._array) @ m.weight._array, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad._array, gx._array + 3, rtol=1e-5, atol=1e-6)
    h.remove()
    m(x).sum().backward()
    assert len(seen) == 1


def test_full_backward_hook_order_in_sequence_and_no_grad_input():
    seq = nn.Sequential(Affine(3, 5), nn.Identity(), Affine(5, 2))
    log = []
    for i, layer in enumerate(seq):
        layer.register_full_backward_hook(lambda m, gi, go, i=i: log.append((i, gi, go)))
    x = nb.randn(4, 3, rng=0)  # does not require grad
    y = seq(x)
    y.backward(nb.ones(4, 2))
    assert [i for i, _, _ in log] == [2, 1, 0]
    _, gi2, go2 = log[0]
    _, gi1, go1 = log[1]
    _, gi0, go0 = log[2]
    np.testing.assert_allclose(go2[0]._array, np.ones((4, 2)))
    np.testing.assert_allclose(go1[0]._array, gi2[0]._array)  # Identity: output grad == next layer's input grad
    np.testing.assert_allclose(gi1[0]._array, go1[0]._array)
    np.testing.assert_allclose(go0[0]._array, gi1[0]._array)
    assert gi0 == (None,)


def test_full_backward_hook_must_not_return():
    m = Affine()
    m.register_full_backward_hook(lambda mod, gi, go: gi)
    with pytest.raises(TypeError, match="must return None"):
        m(nb.randn(4, 3, rng=0, requires_grad=True)).sum().backward()


# --------------------------------------------------------------------- dtype
def test_double_and_float_in_place():
    net = Net()
    w = net.enc.weight
    net(nb.ones(2, 3)).sum().backward()
    assert net.double() is net
    assert net.enc.weight is w and w.dtype == np.float64 and w.grad.dtype == np.float64
    assert net.enc.scale.dtype == np.float64 and net.enc.calls.dtype == np.int64
    assert net(nb.ones(2, 3, dtype="float64")).dtype == np.float64
    net.float()
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    assert net.to("cpu") is net
    with pytest.raises(TypeError, match="floating"):
        net.to("int32")


def test_gradcheck_through_double_module():
    net = Net().double()
    x = nb.randn(2, 3, rng=0, dtype="float64", requires_grad=True)
    nb.gradcheck(lambda x, w, g: net(x), x, net.enc.weight, net.gain)


# ------------------------------------------------------------ summary / repr
def test_summary_content(capsys):
    net = Net()
    net.enc.requires_grad_(False)
    net.eval()
    text = net.summary((7, 3))
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    rows = {ln.split()[0]: ln.split() for ln in lines if ln.split() and ln.split()[0] in ("(root)", "enc", "head.0",
                                                                                        "head.1")}
    assert rows["enc"][1:] == ["(Affine)", "(7,", "5)", "20"]
    assert rows["head.0"][1:] == ["(Affine)", "(7,", "4)", "24"]
    assert rows["head.1"][1:] == ["(Affine)", "(7,", "2)", "8"]
    assert rows["(root)"][1:] == ["(Net)", "(7,", "2)", "5"]  # its own parameter: gain
    assert [r for r in rows] == ["enc", "head.0", "head.1", "(root)"]  # call order
    assert "Total params: 57" in text and "Trainable params: 37" in text and "Non-trainable params: 20" in text
    assert not any(m.training for m in net.modules())  # modes restored
    assert all(not m._forward_hooks for m in net.modules())  # hooks removed
    net.train()
    net.summary((1, 3), print_fn=None)
    assert all(m.training for m in net.modules())
    assert capsys.readouterr().out == ""


def test_repr_nested():
    seq = nn.Sequential(nn.Linear(3, 5, rng=0), nn.Sequential(nn.Identity(), nn.Linear(5, 2, bias=False, rng=0)))
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=5, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): Identity()\n"
        "    (1): Linear(in_features=5, out_features=2, bias=False)\n"
        "  )\n"
        ")"
    )


# ------------------------------------------------------------- the contract
def test_contract_on_custom_module():
    check_module(lambda rng: Net(rng=rng), nb.randn(4, 3, rng=0), expected_shape=(4, 2),
                 param_names=["gain", "enc.weight", "enc.bias", "head.0.weight", "head.0.bias", "head.1.weight"])


def test_contract_tuple_outputs():
    class Two(nn.Module):
        def __init__(self, rng):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2, rng=rng), nn.Linear(3, 5, rng=rng)

        def forward(self, x, z):
            return self.a(x), (self.b(x) * z, z)

    x, z = nb.randn(4, 3, rng=0), nb.randn(4, 5, rng=1)
    check_module(Two, (x, z), expected_shape=((4, 2), ((4, 5), (4, 5))),
                 param_names=["a.weight", "a.bias", "b.weight", "b.bias"])


class _Sabotaged(nn.Module):
    def __init__(self, rng, flaw):
        super().__init__()
        self.flaw = flaw
        self.lin = nn.Linear(3, 2, rng=rng)
        self.hidden = nb.as_generator(rng).standard_normal(2).astype(np.float32)  # not registered
        if flaw == "grad sign":
            self.lin.weight.register_hook(lambda g: -g)
            self.lin.bias.register_hook(lambda g: -g)

    def forward(self, x):
        if x.shape[-1] != 3:
            raise ValueError("bad shape" if self.flaw == "message" else f"_Sabotaged expected (*, 3), got {x.shape}")
        y = self.lin(x)
        return y + nb.as_tensor(self.hidden) if self.flaw == "unregistered" else y


@pytest.mark.parametrize("flaw, match", [
    ("grad sign", "no gradient step lowered"),
    ("unregistered", "differs after the state_dict round trip"),
    ("message", "does not name _Sabotaged"),
])
def test_contract_catches_broken_modules(flaw, match):
    with pytest.raises(AssertionError, match=match):
        check_module(lambda rng: _Sabotaged(rng, flaw), nb.randn(4, 3, rng=0), expected_shape=(4, 2),
                     bad_inputs=[nb.randn(4, 5, rng=0)])


def test_contract_catches_wrong_shape_and_names():
    with pytest.raises(AssertionError, match="output shape"):
        check_module(lambda rng: nn.Linear(3, 2, rng=rng), nb.randn(4, 3, rng=0), expected_shape=(4, 3))
    with pytest.raises(AssertionError, match="named_parameters"):
        check_module(lambda rng: nn.Linear(3, 2, rng=rng), nb.randn(4, 3, rng=0), param_names=["bias", "weight"])
