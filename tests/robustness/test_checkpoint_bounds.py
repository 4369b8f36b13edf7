"""Tiny checkpoints cannot force huge allocations (issue 15 item 2).

A 1.8 KB checkpoint drove peak memory to 2.4 GB, or raised a raw MemoryError for 30 GiB: the
per-layer limit multiplied only the two largest sizes (conv kernels, LSTM gates x layers and
many-layer MLPs slipped past it) and the model was built from the header's spec before its
weights were checked against the file. A 2 KB checkpoint's ``rng_states`` took a sub-array
dtype and allocated 800 MB. Each load runs in a child whose address space may grow by 200 MB
only (RLIMIT_AS), and its peak resident growth is measured.
"""

import numpy as np
import pytest
from ckpt_support import edit_meta
from memory_limit import peak_growth, run_limited

from nnbasics.models import build_model
from nnbasics.optim import Adam
from nnbasics.training import CheckpointError, load_checkpoint, save_checkpoint

_SPEC = {"model": "mlp", "in_features": 2, "hidden": [3], "out_features": 2}


def _tiny(tmp_path, name="c.safetensors"):
    model = build_model(dict(_SPEC), rng=0)
    path = tmp_path / name
    save_checkpoint(path, model, Adam(model.parameters()), epoch=1)
    return path


def _load_limited(path, extra=200 << 20):
    proc = run_limited(f"""
        from nnbasics.training import CheckpointError, load_checkpoint
        try:
            load_checkpoint({str(path)!r})
            print("LOADED")
        except CheckpointError as e:
            print("REFUSED", e)
    """, extra_bytes=extra)
    return proc


_HUGE_SPECS = {
    # every layer passed the old per-layer check (two largest sizes multiplied below 2^31)
    "mlp of 200 layers": {"model": "mlp", "in_features": 2, "hidden": [40000] * 200, "out_features": 2},
    "conv kernel": {"layers": [{"type": "conv2d", "in_channels": 40000, "out_channels": 40000, "kernel_size": 3}]},
    "lstm gates x layers": {"layers": [{"type": "lstm", "input_size": 8000, "hidden_size": 8000, "num_layers": 40}]},
    # under the absolute cap, but 40 million numbers from a file that holds 17
    "mlp below the cap": {"model": "mlp", "in_features": 2, "hidden": [2000] * 10, "out_features": 2},
    "embedding below the cap": {"layers": [{"type": "embedding", "num_embeddings": 10**6, "embedding_dim": 50}]},
    "ensemble of many": {"model": "ensemble", "members": [{"model": "mlp", "in_features": 500, "hidden": [500],
                                                           "out_features": 2}] * 100},
}


@pytest.mark.parametrize("what", sorted(_HUGE_SPECS))
def test_a_spec_bigger_than_its_file_is_refused_before_building(what, tmp_path):
    path = _tiny(tmp_path)
    edit_meta(path, lambda m: m["model"].__setitem__("spec", _HUGE_SPECS[what]))
    assert path.stat().st_size < 16000
    proc = _load_limited(path)
    assert "REFUSED" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "numbers" in proc.stdout
    assert peak_growth(proc) < 60 << 20


def test_a_real_checkpoint_of_a_bigger_model_still_loads(tmp_path):
    model = build_model({"model": "lab-cnn-deep", "batch_norm": True}, rng=0)
    save_checkpoint(tmp_path / "big.safetensors", model, epoch=1)
    loaded = load_checkpoint(tmp_path / "big.safetensors").model
    np.testing.assert_array_equal(np.array(loaded[0].weight), np.array(model[0].weight))


@pytest.mark.parametrize("dtype", ["(5000,5000)f8", "V800000000", "O", "<U100000000", "f8", "<u8,<u8"])
def test_rng_states_take_only_the_generators_own_dtype(dtype, tmp_path):
    from nnbasics import nn

    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.5, rng=np.random.Generator(np.random.MT19937(0))))
    path = tmp_path / "mt.safetensors"
    save_checkpoint(path, model, epoch=1)

    def hostile(meta):
        meta["rng_states"]["model.1.rng"]["state"]["key"]["dtype"] = dtype

    edit_meta(path, hostile)
    proc = run_limited(f"""
        import numpy as np
        from nnbasics import nn
        from nnbasics.training import CheckpointError, load_checkpoint
        model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.5, rng=np.random.Generator(np.random.MT19937(1))))
        try:
            load_checkpoint({str(path)!r}, model)
            print("LOADED")
        except CheckpointError as e:
            print("REFUSED", e)
    """, extra_bytes=200 << 20)
    assert "REFUSED" in proc.stdout and "random stream 'model.1.rng'" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert peak_growth(proc) < 60 << 20


def test_an_uncountable_spec_is_held_to_the_absolute_cap(tmp_path, monkeypatch):
    """A model registered by the user cannot be counted from its spec: the absolute cap still applies."""
    from nnbasics import nn
    from nnbasics.models import register_model, size

    @register_model("robust-test-net")
    def net(*, width=3, rng=None):
        return nn.Sequential(nn.Linear(2, width, rng=rng))

    model = build_model("robust-test-net", width=3, rng=0)
    path = tmp_path / "u.safetensors"
    save_checkpoint(path, model, epoch=0)
    assert load_checkpoint(path).model[0].weight.shape == (3, 2)
    monkeypatch.setattr(size, "MAX_PARAMETERS", 1000)
    edit_meta(path, lambda m: m["model"]["spec"].__setitem__("width", 10**6))
    with pytest.raises(CheckpointError, match="would hold"):
        load_checkpoint(path)


@pytest.mark.parametrize("depth", [100, 300])
def test_a_deeply_nested_spec_is_refused_not_a_recursion_error(depth, tmp_path):
    """Ensembles of ensembles (or lists of lists) nested hundreds deep: one CheckpointError, no RecursionError."""
    path = _tiny(tmp_path)
    nested = {"model": "mlp", "in_features": 2, "hidden": [3], "out_features": 2}
    for _ in range(depth):
        nested = {"model": "ensemble", "members": [nested]}
    edit_meta(path, lambda m: m["model"].__setitem__("spec", nested))
    with pytest.raises(CheckpointError, match="nested more than"):
        load_checkpoint(path)
    listy = {"model": "my-own", "hidden": 3}
    for _ in range(depth):
        listy["hidden"] = [listy["hidden"]]
    edit_meta(path, lambda m: m["model"].__setitem__("spec", listy))
    with pytest.raises(CheckpointError, match="nested more than"):
        load_checkpoint(path)
