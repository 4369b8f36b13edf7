"""Module.to / cpu / cuda take PyTorch's arguments: devices, dtypes, tensors; parameters keep their identity."""

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.device import DeviceError


def _model():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.Linear(4, 2, rng=1))


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("cpu",), {}, "float32"),
    ((nb.device("cpu"),), {}, "float32"),
    ((nb.float64,), {}, "float64"),
    (("cpu", nb.float64), {}, "float64"),
    ((), {"device": "cpu", "dtype": nb.float64}, "float64"),
    ((nb.zeros(1, dtype=nb.float64),), {}, "float64"),
    ((nb.float64,), {"non_blocking": True}, "float64"),
])
def test_to_converts_floating_state_in_place_as_torch(torch, args, kwargs, dtype):
    m = _model()
    params = list(m.parameters())
    assert m.to(*args, **kwargs) is m
    assert [p is q for p, q in zip(params, m.parameters())] == [True] * len(params)
    ours = {k: v.dtype.name for k, v in m.state_dict().items()}
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    targs = [torch.float64 if a is nb.float64 else torch.device("cpu") if isinstance(a, nb.device)
             else torch.zeros(1, dtype=torch.float64) if isinstance(a, nb.Tensor) else a for a in args]
    tkw = {k: (torch.float64 if v is nb.float64 else v) for k, v in kwargs.items()}
    t.to(*targs, **tkw)
    theirs = {k: str(v.dtype).removeprefix("torch.") for k, v in t.state_dict().items()}
    assert ours == theirs
    assert ours["0.weight"] == dtype and ours["1.num_batches_tracked"] == "int64"
    x = np.ones((2, 3), dtype=dtype)
    assert m(nb.tensor(x)).dtype == np.dtype(dtype)


def test_cpu_is_identity_and_gpus_raise():
    m = _model()
    assert m.cpu() is m
    for call in (lambda: m.cuda(), lambda: m.cuda(0), lambda: m.to("cuda"), lambda: m.to(nb.device("mps"))):
        with pytest.raises(DeviceError, match="no GPU backend"):
            call()
    with pytest.raises(TypeError, match="floating point"):
        m.to(nb.int64)
    assert m[0].weight.dtype == np.float32  # nothing changed by the failed calls
