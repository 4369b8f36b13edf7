"""LabContext: seeded streams, map through the ensemble executors (serial = pool), data with its reason."""

import gzip
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nnbasics.data import sources
from nnbasics.lab import LabContext


def tiny_training(seed, steps):
    """A top-level (picklable) job: a few SGD steps of a seeded Linear on seeded data."""
    from nnbasics import functional as F
    from nnbasics import nn, optim
    from nnbasics.tensor import tensor

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    net = nn.Linear(5, 3, rng=rng)
    opt = optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(net(tensor(X)), tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"seed": seed, "losses": losses, "weight": np.array(net.weight._array)}


def _notes(e):
    """The notes LabContext.map attached (Python >= 3.11: __notes__; 3.10: appended to args)."""
    return list(getattr(e, "__notes__", ())) or [str(a) for a in e.args]


def failing(x, **_ignored):
    if x == 2:
        raise ValueError(f"x = {x} is bad")
    return x


def sleepy(i, n):
    time.sleep(0.01 * (n - i))  # later jobs finish first
    return i * i


def test_seed_streams_are_stable_distinct_and_order_free():
    a, b = LabContext(seed=0), LabContext(seed=0)
    b.rng("something else").random(100)  # drawing elsewhere does not shift other streams
    assert a.seed_for("init", "he", 20) == b.seed_for("init", "he", 20)
    np.testing.assert_array_equal(a.rng("x", 1).random(5), b.rng("x", 1).random(5))
    seeds = {a.seed_for("a", 1), a.seed_for("a", "1"), a.seed_for("a1"), a.seed_for("a", 1.0),
             LabContext(seed=1).seed_for("a", 1), a.seed_for()}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(TypeError, match="keys must be strings or numbers"):
        a.seed_for(("tuple",))


def test_map_gives_identical_results_serially_and_in_a_process_pool():
    jobs = [{"seed": LabContext(seed=7).seed_for("job", i), "steps": 3} for i in range(3)]
    serial = LabContext(quick=True, seed=7, executor="serial", progress=False).map(tiny_training, jobs)
    pool = LabContext(quick=False, seed=7, executor="process", progress=False, max_workers=2).map(tiny_training, jobs)
    assert [r["seed"] for r in pool] == [j["seed"] for j in jobs]  # job order
    for s, p in zip(serial, pool):
        assert s["losses"] == p["losses"]
        np.testing.assert_array_equal(s["weight"], p["weight"])
    assert serial[0]["losses"] != serial[1]["losses"]


def test_map_keeps_job_order_when_jobs_finish_out_of_order():
    with ThreadPoolExecutor(max_workers=4) as ex:
        ctx = LabContext(executor=ex, progress=False)
        out = ctx.map(sleepy, [{"i": i, "n": 5} for i in range(5)])
    assert out == [0, 1, 4, 9, 16]
    assert LabContext(progress=False).map(sleepy, []) == []


@pytest.mark.parametrize("executor", ["serial", "thread"])
def test_a_failing_job_raises_its_own_exception_naming_the_job(executor):
    ctx = LabContext(executor=executor, progress=False)
    with pytest.raises(ValueError, match="x = 2 is bad") as info:
        ctx.map(failing, [{"x": i} for i in range(4)])
    assert any("job 2 failing(x=2)" in note for note in _notes(info.value))


def test_a_failing_jobs_note_shows_arrays_by_shape_not_by_value():
    ctx = LabContext(executor="serial", progress=False)
    big = np.zeros((1600, 1, 16, 16), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        ctx.map(failing, [{"x": 2, "data": big, "tag": "t" * 500}])
    note = next(n for n in _notes(info.value) if "LabContext.map" in n)
    assert "data=<ndarray float32 (1600, 1, 16, 16)>" in note
    assert len(note) < 300


def blas_threads_inside(_i):
    from nnbasics import threads

    setter = threads.blas_setter()
    if setter is None:
        return None
    now = setter(1)
    setter(now)
    return now


def test_pool_jobs_run_their_blas_on_one_thread():
    with ThreadPoolExecutor(max_workers=2) as ex:
        out = LabContext(executor=ex, progress=False).map(blas_threads_inside, [{"_i": 0}, {"_i": 1}])
    from nnbasics import threads

    assert out == ([None, None] if threads.blas_setter() is None else [1, 1])


def test_context_validates_its_arguments():
    with pytest.raises(ValueError, match="executor must be None .*'process', 'serial' or 'thread'"):
        LabContext(executor="gpu")
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        LabContext(executor=3)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        LabContext(seed=-1)
    with pytest.raises(TypeError, match="every job must be a dict"):
        LabContext(progress=False).map(failing, [1])
    with pytest.raises(ValueError, match="n_train must be None"):
        LabContext().images(n_train=-5)


def test_quick_images_are_generated_shapes_and_tabular_is_a_spiral():
    ctx = LabContext(quick=True, seed=0, progress=False)
    d = ctx.images()
    assert d.name == "shapes" and d.X_train.shape == (1600, 1, 16, 16) and d.X_test.shape == (800, 1, 16, 16)
    assert d.num_classes == 8 and d.input_shape == (1, 16, 16) and "Quick mode" in d.why
    assert d.why in ctx.data_note and "shapes" in ctx.data_note
    assert len(set(d.y_train[:16].tolist())) > 2  # shuffled, not class-major
    again = LabContext(quick=True, seed=0).images()
    np.testing.assert_array_equal(d.X_train, again.X_train)
    assert d.flat().X_train.shape == (1600, 256)
    t = ctx.tabular()
    assert t.name == "spiral" and t.X_train.shape[1] == 2 and t.num_classes == 3 and "spiral" in ctx.data_note


def _hide_system_data(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", ())
    monkeypatch.setenv("NNBASICS_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_full_images_fall_back_to_shapes_with_the_reason(monkeypatch, tmp_path):
    _hide_system_data(monkeypatch, tmp_path)
    ctx = LabContext(quick=False, progress=False)
    d = ctx.images(n_train=64, n_test=32)
    assert d.name == "shapes" and d.X_train.shape == (64, 1, 28, 28)
    assert "neither Fashion-MNIST nor MNIST was found" in d.why and "--data-root" in d.why


def _idx(path, array, code):
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def test_full_images_use_fashion_mnist_from_data_root_as_a_stratified_subset(monkeypatch, tmp_path):
    _hide_system_data(monkeypatch, tmp_path)
    root = tmp_path / "root" / "fashion-mnist"
    root.mkdir(parents=True)
    g = np.random.default_rng(0)
    for prefix, n in (("train", 100), ("t10k", 50)):
        _idx(root / f"{prefix}-images-idx3-ubyte.gz", g.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        _idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10, 0x08)
    ctx = LabContext(quick=False, progress=False, data_root=tmp_path / "root")
    d = ctx.images(n_train=40, n_test=0)
    assert d.name == "fashion-mnist" and d.X_train.shape == (40, 1, 28, 28) and len(d.y_test) == 50
    assert np.bincount(d.y_train, minlength=10).tolist() == [4] * 10
    assert "subset of 40 / 50 of the 100 / 50" in d.why and str(root) in d.why
    assert d.X_train.dtype == np.float32 and d.X_train.max() <= 1.0


def _blas_module(name, opt_out):
    import types

    from nnbasics.lab import Report

    m = types.ModuleType(name)
    m.NAME, m.TITLE, m.CLAIM = name, f"Stand-in {name}", "A claim."
    if opt_out:
        m.QUICK_SINGLE_THREAD_BLAS = False

    def run(ctx):
        r = Report(name, m.TITLE, m.CLAIM)
        r.metric("blas_threads", blas_threads_inside(0))
        r.conclude(None, "stand-in")
        return r

    m.run = run
    return m


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("opt_out", [False, True])
def test_quick_runs_use_one_blas_thread_unless_the_experiment_opts_out(monkeypatch, quick, opt_out):
    import sys

    from nnbasics import threads
    from nnbasics.lab import registry

    setter = threads.blas_setter()
    name = f"blas_stand_in_{int(opt_out)}"
    monkeypatch.setitem(sys.modules, name, _blas_module(name, opt_out))
    monkeypatch.setitem(registry.EXPERIMENTS, "perceptron", name)
    if setter is None:  # no per-thread OpenBLAS setting: nothing to check but that it runs
        assert registry.run_experiment("perceptron", quick=quick, progress=False).metrics["blas_threads"] is None
        return
    outer = setter(2)
    try:
        got = registry.run_experiment("perceptron", quick=quick, progress=False).metrics["blas_threads"]
        assert got == (1 if quick and not opt_out else 2)
        assert blas_threads_inside(0) == 2  # restored afterwards
    finally:
        setter(outer)
