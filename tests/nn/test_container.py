"""nn.Sequential, nn.ModuleList, nn.ModuleDict."""

import itertools
from collections import OrderedDict

import numpy as np
import pytest
from contract import check_module

import nnbasics as nb
from nnbasics import nn


def _layers(*sizes, rng=0):
    return [nn.Linear(a, b, rng=rng + i) for i, (a, b) in enumerate(itertools.pairwise(sizes))]


# ----------------------------------------------------------------- Sequential
def test_sequential_forward_is_composition():
    l0, l1, l2 = _layers(3, 5, 4, 2)
    seq = nn.Sequential(l0, l1, l2)
    x = nb.randn(7, 3, rng=0)
    np.testing.assert_array_equal(seq(x)._array, l2(l1(l0(x)))._array)
    assert [n for n, _ in seq.named_parameters()] == [f"{i}.{p}" for i in range(3) for p in ("weight", "bias")]


def test_sequential_indexing_slicing_len_iter():
    layers = _layers(3, 5, 4, 2)
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert list(sub._modules) == ["1", "2"]  # PyTorch keeps the keys of a slice
    x = nb.randn(2, 5, rng=0)
    np.testing.assert_array_equal(sub(x)._array, layers[2](layers[1](x))._array)
    assert list(seq[::2]) == [layers[0], layers[2]]
    with pytest.raises(IndexError, match="out of range for Sequential of length 3"):
        seq[3]
    with pytest.raises(TypeError, match="ints or slices"):
        seq["0"]


def test_sequential_append_set_delete_insert():
    l0, l1, l2 = _layers(3, 5, 4, 2)
    seq = nn.Sequential(l0)
    assert seq.append(l1) is seq
    seq.append(l2)
    assert list(seq) == [l0, l1, l2]
    ident = nn.Identity()
    seq[1] = ident
    assert seq[1] is ident and list(seq._modules) == ["0", "1", "2"]
    del seq[1]
    assert list(seq) == [l0, l2] and list(seq._modules) == ["0", "1"]
    seq.insert(1, l1)
    assert list(seq) == [l0, l1, l2] and [n for n, _ in seq.named_parameters()][2] == "1.weight"
    assert seq.index(l2) == 2
    with pytest.raises(ValueError, match="not in this Sequential"):
        seq.index(ident)
    with pytest.raises(TypeError, match="holds Modules only"):
        seq.append(lambda x: x)
    with pytest.raises(TypeError, match="holds Modules only"):
        nn.Sequential(nn.Identity(), np.tanh)


def test_sequential_named_and_nested():
    seq = nn.Sequential(OrderedDict([("fc1", nn.Linear(3, 4, rng=0)), ("fc2", nn.Linear(4, 2, rng=1))]))
    assert [n for n, _ in seq.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert seq.fc2 is seq[1]
    outer = nn.Sequential(nn.Identity(), seq)
    assert list(outer.state_dict()) == ["1.fc1.weight", "1.fc1.bias", "1.fc2.weight", "1.fc2.bias"]


def test_sequential_inner_error_names_the_layer():
    seq = nn.Sequential(*_layers(3, 5, 2))
    with pytest.raises(ValueError, match=r"Linear\(3, 5\) expected input of shape \(\*, 3\)"):
        seq(nb.randn(2, 4, rng=0))


def test_sequential_contract():
    check_module(lambda rng: nn.Sequential(nn.Flatten(), nn.Linear(15, 4, rng=rng), nn.Identity(),
                                           nn.Linear(4, 2, rng=rng)),
                 nb.randn(7, 3, 5, rng=0), expected_shape=(7, 2),
                 param_names=["1.weight", "1.bias", "3.weight", "3.bias"])


# ----------------------------------------------------------------- ModuleList
class Stack(nn.Module):
    def __init__(self, rng=0, as_list=False):
        super().__init__()
        layers = _layers(3, 4, 4, rng=rng)
        self.layers = layers if as_list else nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_modulelist_registers_parameters_a_plain_list_does_not():
    assert [n for n, _ in Stack().named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert list(Stack(as_list=True).parameters()) == []


def test_modulelist_list_operations():
    a, b, c, d = (nn.Identity() for _ in range(4))
    ml = nn.ModuleList([a, b])
    assert ml.append(c) is ml and len(ml) == 3
    ml.extend([d])
    assert list(ml) == [a, b, c, d]
    ml.insert(0, d)
    assert list(ml) == [d, a, b, c, d] and list(ml._modules) == ["0", "1", "2", "3", "4"]
    assert ml.index(b) == 2 and ml[-1] is d
    sub = ml[1:3]
    assert isinstance(sub, nn.ModuleList) and list(sub) == [a, b]
    del ml[0]
    assert list(ml) == [a, b, c, d]
    assert list(ml + nn.ModuleList([a])) == [a, b, c, d, a]
    with pytest.raises(NotImplementedError, match="iterate"):
        ml(nb.ones(1))


def test_modulelist_contract():
    check_module(lambda rng: Stack(rng=rng), nb.randn(5, 3, rng=0), expected_shape=(5, 4),
                 param_names=["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])


# ----------------------------------------------------------------- ModuleDict
def test_moduledict():
    cls, box = nn.Linear(4, 3, rng=0), nn.Linear(4, 2, rng=1)
    md = nn.ModuleDict({"cls": cls, "box": box})
    assert list(md.keys()) == ["cls", "box"] and list(md) == ["cls", "box"]
    assert md["box"] is box and "cls" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["cls.weight", "cls.bias", "box.weight", "box.bias"]
    md.update([("extra", nn.Identity())])
    assert list(md.values())[-1].__class__ is nn.Identity
    assert md.pop("extra").__class__ is nn.Identity and len(md) == 2
    assert dict(md.items()) == {"cls": cls, "box": box}
    with pytest.raises(KeyError, match="'nope' is not in this ModuleDict"):
        md["nope"]
    with pytest.raises(ValueError, match="without '.'"):
        md["a.b"] = nn.Identity()
    with pytest.raises(TypeError, match="holds Modules only"):
        md["x"] = 3
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []


def test_containers_repr():
    ml = nn.ModuleList([nn.Identity()])
    assert repr(ml) == "ModuleList(\n  (0): Identity()\n)"
    md = nn.ModuleDict({"a": nn.Identity()})
    assert repr(md) == "ModuleDict(\n  (a): Identity()\n)"
