"""PyTorch interop: what happens when the weights do not fit, the file is hostile, or torch is absent."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.io import (
    SafetensorsError,
    TorchInteropError,
    load_safetensors,
    load_torch_file,
    load_torch_state_dict,
    save_torch_safetensors,
    to_torch,
    to_torch_state_dict,
)


def _net():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2, rng=0))


def _snapshot(m):
    return {k: v._array.copy() for k, v in m.state_dict().items()}


def test_missing_and_unexpected_keys_are_listed_and_nothing_changes():
    m = _net()
    before = _snapshot(m)
    sd = to_torch_state_dict(_net())
    del sd["3.bias"]
    sd["4.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(TorchInteropError, match=r"missing keys \(1\): '3.bias'") as e:
        load_torch_state_dict(m, sd)
    assert "unexpected keys (1): '4.weight'" in str(e.value) and "strict=False" in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, RuntimeError)
    for k, v in before.items():
        np.testing.assert_array_equal(m.state_dict()[k]._array, v)


def test_non_strict_reports_the_keys_and_loads_the_rest():
    m = _net()
    src = _net()
    with_ = {k: v * 2 for k, v in to_torch_state_dict(src).items() if k != "0.bias"}
    with_["head.weight"] = np.ones(3, np.float32)
    res = load_torch_state_dict(m, with_, strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(m[0].weight._array, src[0].weight._array * 2)


def test_shape_mismatch_names_the_key_and_both_shapes():
    m = _net()
    sd = to_torch_state_dict(nn.Sequential(nn.Linear(3, 5, rng=0), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2)))
    with pytest.raises(TorchInteropError) as e:
        load_torch_state_dict(m, sd)
    msg = str(e.value)
    assert "'0.weight': the state dict has shape (5, 3), the model (4, 3)" in msg
    assert "'3.weight': the state dict has shape (2, 5), the model (2, 4)" in msg
    assert "same layers and sizes" in msg
    with pytest.raises(TorchInteropError, match="shape"):
        load_torch_state_dict(m, sd, strict=False)  # strict=False never skips shapes


def test_wrapper_prefix_gets_a_hint():
    sd = {"module." + k: v for k, v in to_torch_state_dict(_net()).items()}
    with pytest.raises(TorchInteropError, match=r"removeprefix\('module.'\)"):
        load_torch_state_dict(_net(), sd)


def test_nested_checkpoint_dict_gets_a_hint():
    with pytest.raises(TypeError, match=r"nests the state dict"):
        load_torch_state_dict(nn.Linear(3, 2), {"weight": {"a": 1}, "bias": np.zeros(2, np.float32)})


def test_bad_values_and_arguments():
    with pytest.raises(TypeError, match="expected a mapping"):
        load_torch_state_dict(nn.Linear(3, 2), [("weight", np.zeros((2, 3)))])
    with pytest.raises(TypeError, match="nnbasics Module"):
        load_torch_state_dict(object(), {})
    with pytest.raises(TypeError, match="'bias' is a str"):
        load_torch_state_dict(nn.Linear(3, 2), {"weight": np.zeros((2, 3)), "bias": "0"})
    with pytest.raises(TorchInteropError, match="'weight': a bool array"):
        load_torch_state_dict(nn.Linear(3, 2), {"weight": np.zeros((2, 3), bool), "bias": np.zeros(2)})
    bn = to_torch_state_dict(nn.BatchNorm1d(2))
    bn["num_batches_tracked"] = np.asarray(2.5)
    with pytest.raises(TorchInteropError, match="num_batches_tracked.*not whole numbers"):
        load_torch_state_dict(nn.BatchNorm1d(2), bn)


def test_values_are_cast_to_the_model_dtypes():
    m = nn.BatchNorm1d(2)
    sd = {"weight": np.array([2.0, 3.0]), "bias": np.array([1, 2]), "running_mean": np.zeros(2),
          "running_var": np.ones(2), "num_batches_tracked": np.float64(7)}
    load_torch_state_dict(m, sd)
    assert m.weight.dtype == np.float32 and m.bias._array.tolist() == [1.0, 2.0]
    assert m.num_batches_tracked.dtype == np.int64 and int(m.num_batches_tracked._array) == 7


def test_numpy_loading_never_imports_torch(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from nnbasics import nn\n"
        "from nnbasics.io import load_torch_state_dict, save_torch_safetensors, load_safetensors\n"
        "m = nn.Linear(3, 2, rng=0)\n"
        "load_torch_state_dict(m, {'weight': np.ones((2, 3)), 'bias': np.zeros(2)})\n"
        f"p = save_torch_safetensors(m, {str(tmp_path / 'w.safetensors')!r})\n"
        "load_safetensors(nn.Linear(3, 2), p)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_damaged_safetensors_names_the_file(tmp_path):
    p = save_torch_safetensors(_net(), tmp_path / "w.safetensors")
    data = Path(p).read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: len(data) - 7])
    with pytest.raises(SafetensorsError, match="cut.safetensors"):
        load_safetensors(_net(), bad)


def test_shape_errors_from_a_file_name_the_file(tmp_path):
    p = save_torch_safetensors(nn.Linear(3, 5, rng=0), tmp_path / "lin.safetensors")
    with pytest.raises(TorchInteropError, match=r"(?s)lin.safetensors: .*'weight': the state dict has shape \(5, 3\)"):
        load_safetensors(nn.Linear(3, 2), p)


def test_training_checkpoint_loads_its_weights(tmp_path):
    from nnbasics.optim import Adam
    from nnbasics.training import save_checkpoint

    src = _net()
    opt = Adam(src.parameters(), lr=0.1)
    opt.zero_grad()
    out = src(np.ones((5, 3), np.float32)).sum()
    out.backward()
    opt.step()
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, src, opt, epoch=1)
    m = _net()
    load_safetensors(m, path)  # the optimizer/state/... arrays are skipped
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k]._array, v._array)


def test_saved_file_is_plain_torch_keys_with_pt_metadata(tmp_path):
    from safetensors import safe_open

    p = save_torch_safetensors(_net(), tmp_path / "w.safetensors", metadata={"note": "x"})
    with safe_open(p, framework="numpy") as f:
        assert sorted(f.keys()) == sorted(_net().state_dict())
        assert f.metadata() == {"format": "pt", "note": "x"}
        assert f.get_tensor("1.num_batches_tracked").dtype == np.int64
        assert f.get_tensor("1.num_batches_tracked").shape == ()


# ---------------------------------------------------------------- with torch
def test_bfloat16_and_grad_tensors_load(torch):
    tm = torch.nn.Linear(3, 2)
    sd = {"weight": tm.weight.to(torch.bfloat16), "bias": tm.bias}  # bias requires grad
    m = nn.Linear(3, 2)
    load_torch_state_dict(m, sd)
    np.testing.assert_allclose(m.weight._array, tm.weight.detach().numpy(), rtol=1e-2)  # bfloat16: 8 bits of mantissa
    np.testing.assert_array_equal(m.bias._array, tm.bias.detach().numpy())


def test_load_torch_file_reads_a_state_dict_and_a_checkpoint_dict(torch, tmp_path, rng):
    tm = to_torch(_net()).eval()
    for mod in tm.modules():
        if hasattr(mod, "reset_parameters") and mod is not tm:
            mod.reset_parameters()
    p1, p2 = tmp_path / "sd.pt", tmp_path / "ckpt.pth"
    torch.save(tm.state_dict(), p1)
    torch.save({"epoch": 3, "model_state_dict": tm.state_dict()}, p2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for p in (p1, p2):
        m = _net().eval()
        load_torch_file(m, p)
        np.testing.assert_allclose(m(x)._array, tm(torch.from_numpy(x)).detach().numpy(), atol=1e-5, rtol=1e-4)


class _Payload:
    """Pickles to a call that would create a file when unpickled (the classic .pt attack)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_load_torch_file_refuses_code_in_the_pickle(torch, tmp_path):
    target = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    with open(p, "wb") as f:
        pickle.dump({"weight": _Payload(str(target))}, f, protocol=2)
    with pytest.raises(TorchInteropError, match=r"evil.pt: torch.load\(weights_only=True\) refused"):
        load_torch_file(nn.Linear(3, 2), p)
    assert not os.path.exists(target)


def test_load_torch_file_not_a_state_dict(torch, tmp_path):
    p = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], p)
    with pytest.raises(TorchInteropError, match="holds a list, not a state dict"):
        load_torch_file(nn.Linear(3, 2), p)


def test_to_torch_names_an_unsupported_layer(torch):
    with pytest.raises(TorchInteropError, match=r"Maxout at '1' has no torch twin"):
        to_torch(nn.Sequential(nn.Linear(4, 6), nn.Maxout(2)))
    with pytest.raises(TorchInteropError, match="Dropout at '0' has no torch twin"):
        to_torch(nn.Sequential(nn.Dropout(0.5, scaling="classic")))


def test_meta_device_tensors_are_refused_with_the_librarys_error(torch, tmp_path):
    """A meta-device .pt (shapes, no values) raised torch's raw NotImplementedError (issue 15 item 10)."""
    with torch.device("meta"):
        twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                   torch.nn.Linear(4, 2))
    path = tmp_path / "meta.pt"
    torch.save(twin.state_dict(), path)
    m = _net()
    before = _snapshot(m)
    with pytest.raises(TorchInteropError, match=r"on the 'meta' device.*'0.weight'.*to_empty"):
        load_torch_file(m, path)
    with pytest.raises(TorchInteropError, match="meta"):
        load_torch_state_dict(m, twin.state_dict())
    after = _snapshot(m)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_a_tensor_numpy_cannot_read_is_refused_by_name(torch):
    sd = {k: torch.from_numpy(np.asarray(v)) for k, v in to_torch_state_dict(_net()).items()}
    sd["0.weight"] = sd["0.weight"].to_sparse()
    with pytest.raises(TorchInteropError, match=r"'0.weight'.*sparse.*to_dense"):
        load_torch_state_dict(_net(), sd)
