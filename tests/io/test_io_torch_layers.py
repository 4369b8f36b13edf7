"""PyTorch interop, layer by layer: nnbasics -> safetensors file -> torch, and torch -> file -> nnbasics.

Each case pairs an nnbasics layer with the torch layer built by hand (not by ``to_torch``), so
the file format, the keys and the layouts are checked against torch itself; ``to_torch`` is
then checked to build that same torch layer. Outputs agree within float32 parity tolerance
(atol 1e-5, rtol 1e-4) in eval mode; batch norm also in train mode (batch statistics and the
running-stat update).
"""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.io import load_safetensors, load_torch_state_dict, save_torch_safetensors, to_torch, to_torch_state_dict

TOL = {"atol": 1e-5, "rtol": 1e-4}


def _x(shape, integers=None):
    def make(rng):
        if integers is not None:
            return rng.integers(0, integers, shape)
        return rng.standard_normal(shape).astype(np.float32)
    return make


# name: (nnbasics layer, torch layer from torch.nn, input maker)
CASES = {
    "linear": (lambda: nn.Linear(5, 3, rng=0), lambda t: t.Linear(5, 3), _x((4, 5))),
    "linear-nobias": (lambda: nn.Linear(5, 3, bias=False, rng=0), lambda t: t.Linear(5, 3, bias=False), _x((2, 7, 5))),
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, rng=0), lambda t: t.Conv1d(3, 4, 3, stride=2, padding=1),
               _x((2, 3, 11))),
    "conv2d": (lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, rng=0),
               lambda t: t.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1), _x((2, 3, 9, 7))),
    "conv2d-groups-dilated": (lambda: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False, rng=0),
                              lambda t: t.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False), _x((2, 4, 9, 8))),
    "batchnorm1d": (lambda: nn.BatchNorm1d(5), lambda t: t.BatchNorm1d(5), _x((6, 5))),
    "batchnorm1d-seq": (lambda: nn.BatchNorm1d(5, momentum=None), lambda t: t.BatchNorm1d(5, momentum=None),
                        _x((6, 5, 7))),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), lambda t: t.BatchNorm2d(3), _x((4, 3, 5, 6))),
    "layernorm": (lambda: nn.LayerNorm((5, 7)), lambda t: t.LayerNorm((5, 7)), _x((3, 5, 7))),
    "embedding": (lambda: nn.Embedding(11, 4, padding_idx=0, rng=0), lambda t: t.Embedding(11, 4, padding_idx=0),
                  _x((3, 5), integers=11)),
    "rnn-relu-2layer-bidir": (lambda: nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True, rng=0),
                              lambda t: t.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True),
                              _x((7, 3, 4))),
    "lstm-2layer-bidir-batchfirst": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True, rng=0),
                                     lambda t: t.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True),
                                     _x((3, 7, 4))),
    "lstm-nobias": (lambda: nn.LSTM(4, 5, bias=False, rng=0), lambda t: t.LSTM(4, 5, bias=False), _x((6, 2, 4))),
    "gru-2layer-bidir-batchfirst": (lambda: nn.GRU(4, 5, num_layers=2, batch_first=True, bidirectional=True, rng=0),
                                    lambda t: t.GRU(4, 5, num_layers=2, batch_first=True, bidirectional=True),
                                    _x((3, 7, 4))),
    "sequential-mix": (
        lambda: nn.Sequential(nn.Conv1d(3, 4, 3, rng=0), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(),
                              nn.Linear(28, 6, rng=0), nn.LayerNorm(6), nn.Tanh(), nn.Dropout(0.3)),
        lambda t: t.Sequential(t.Conv1d(3, 4, 3), t.BatchNorm1d(4), t.ReLU(), t.Flatten(), t.Linear(28, 6),
                               t.LayerNorm(6), t.Tanh(), t.Dropout(0.3)),
        _x((5, 3, 9))),
}


def _arrays(out):
    """Every array in a (nested) output of Tensors / torch tensors."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _arrays(o)]
    return [out._array if isinstance(out, nb.Tensor) else out.detach().numpy()]


def _has_bn(m):
    return any(isinstance(s, (nn.BatchNorm1d, nn.BatchNorm2d)) for s in m.modules())


def _nb_run(m, x):
    return _arrays(m(nb.tensor(x)))


def _torch_run(torch, tm, x):
    with torch.no_grad():
        return _arrays(tm(torch.from_numpy(np.asarray(x))))


def _assert_outputs(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, **TOL)


def _warm_bn_nb(m, make_x, rng):
    """Train-mode passes so running stats and num_batches_tracked are not their initial values."""
    m.train()
    for _ in range(3):
        m(nb.tensor(make_x(rng) * 2 + 0.5))
    m.eval()


@pytest.mark.parametrize("case", list(CASES))
def test_nnbasics_to_torch_through_safetensors(case, torch, tmp_path, rng):
    from safetensors.torch import load_file

    make_nb, make_torch, make_x = CASES[case]
    m = make_nb()
    if _has_bn(m):
        _warm_bn_nb(m, make_x, rng)
    m.eval()
    path = save_torch_safetensors(m, tmp_path / "w.safetensors")
    tm = make_torch(torch.nn)
    sd = load_file(path)
    assert sorted(sd) == sorted(tm.state_dict())  # the same keys, nothing nested or extra (the file sorts them)
    tm.load_state_dict(sd, strict=True)
    tm.eval()
    for k, v in tm.state_dict().items():
        want = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
        assert v.dtype == want, k
    x = make_x(rng)
    _assert_outputs(_nb_run(m, x), _torch_run(torch, tm, x))


@pytest.mark.parametrize("case", list(CASES))
def test_torch_to_nnbasics_through_safetensors(case, torch, tmp_path, rng):
    from safetensors.torch import save_file

    make_nb, make_torch, make_x = CASES[case]
    tm = make_torch(torch.nn)
    if any(isinstance(s, torch.nn.modules.batchnorm._BatchNorm) for s in tm.modules()):
        tm.train()
        with torch.no_grad():
            for _ in range(3):
                tm(torch.from_numpy(make_x(rng) * 3 - 1))
    with torch.no_grad():  # norm layers' affine weights away from their constant 1/0 init
        for p in tm.parameters():
            if bool((p == p.flatten()[0]).all()):
                p.add_(torch.rand_like(p) - 0.5)
    tm.eval()
    path = str(tmp_path / "t.safetensors")
    save_file(tm.state_dict(), path)
    m = make_nb()
    before = {k: v._array.copy() for k, v in m.state_dict().items()}
    result = load_safetensors(m, path)
    assert result.missing_keys == [] and result.unexpected_keys == []
    m.eval()
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k]._array, v.numpy())
    assert any(not np.array_equal(before[k], v.numpy()) for k, v in tm.state_dict().items())
    x = make_x(rng)
    _assert_outputs(_nb_run(m, x), _torch_run(torch, tm, x))


@pytest.mark.parametrize("case", list(CASES))
def test_torch_state_dict_of_tensors_loads_directly(case, torch, rng):
    make_nb, make_torch, make_x = CASES[case]
    tm = make_torch(torch.nn).eval()
    m = make_nb().eval()
    load_torch_state_dict(m, tm.state_dict())
    x = make_x(rng)
    _assert_outputs(_nb_run(m, x), _torch_run(torch, tm, x))


@pytest.mark.parametrize("case", list(CASES))
def test_to_torch_builds_the_same_torch_layer(case, torch, rng):
    make_nb, make_torch, make_x = CASES[case]
    m = make_nb()
    if _has_bn(m):
        _warm_bn_nb(m, make_x, rng)
    m.eval()
    tm = to_torch(m)
    assert repr(tm) == repr(make_torch(torch.nn))
    assert not tm.training
    for k, v in to_torch_state_dict(m).items():
        np.testing.assert_array_equal(tm.state_dict()[k].numpy(), v)
    x = make_x(rng)
    _assert_outputs(_nb_run(m, x), _torch_run(torch, tm, x))


@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_train_mode_batch_stats_and_running_update_match_torch(cls, torch, rng):
    shape = (6, 3) if cls == "BatchNorm1d" else (4, 3, 5, 2)
    m = getattr(nn, cls)(3, momentum=0.3)
    with nb.no_grad():
        m.weight._array[...] = rng.uniform(0.5, 1.5, 3)
        m.bias._array[...] = rng.uniform(-1, 1, 3)
    tm = to_torch(m)
    assert tm.training and m.training
    for _ in range(3):
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        out = m(nb.tensor(x))._array
        t_out = tm(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(out, t_out, **TOL)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k]._array, v.numpy(), **TOL)
    assert int(m.num_batches_tracked._array) == 3


def test_float64_model_exports_float64_and_twin_is_double(torch, rng):
    m = nn.Sequential(nn.Linear(3, 2, rng=0), nn.BatchNorm1d(2)).double().eval()
    sd = to_torch_state_dict(m)
    assert sd["0.weight"].dtype == np.float64 and sd["1.num_batches_tracked"].dtype == np.int64
    tm = to_torch(m)
    assert tm[0].weight.dtype == torch.float64
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(m(nb.tensor(x))._array, tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
