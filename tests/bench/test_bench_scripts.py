"""The side-by-side benchmarks run end to end on tiny problems (their output's structure only:
benchmarks are not tests, no timing is asserted)."""

import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")


def run(script, *args, tmp_path):
    out = tmp_path / "out.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.join(BENCH, "..", "src"), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, os.path.join(BENCH, script), *args, "--settle", "0", "--json", str(out)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_lstm_batch_first_side_by_side_under_load(torch, tmp_path):
    res, text = run("lstm_step.py", "--vocab", "7", "--embed", "3", "--hidden", "5", "--seq", "4", "--batch", "2",
                    "--layout", "batch-first", "--threads", "1", "--rounds", "2", "--steps", "1", "--warmup", "0",
                    "--under-load", tmp_path=tmp_path)
    rows = {r["impl"]: r for r in res["rows"]}
    assert set(rows) == {"nnbasics", "torch"} and rows["nnbasics"]["variant"] == "batch-first"
    assert len(res["times"]["nnbasics batch-first 1t"]) == 2 and rows["nnbasics"]["vs_base"] > 0
    # the first-step losses from the same weights agreed (else the run stops)
    infos = res["info"]
    assert infos["nnbasics batch-first 1t"]["first_loss"] == pytest.approx(infos["torch batch-first 1t"]["first_loss"],
                                                                            rel=1e-4)
    assert res["competitor_share"] is not None and "competitor" in res["competitor"]
    assert res["machine"]["cpu"] and "load average" in res["load_summary"]
    assert "| nnbasics | batch-first | 1 |" in text


def test_cnn_memory_mode_measures_each_framework_in_its_own_child(torch, tmp_path):
    res, text = run("cnn_epoch.py", "--memory", "--batches", "8", "--threads", "1", tmp_path=tmp_path)
    mem = res["memory"]
    assert set(mem) == {"nnbasics B8", "torch B8"}
    for rec in mem.values():
        assert rec["peak_mb"] >= rec["baseline_mb"] > 0 and rec["steps"] == 2
    assert "| nnbasics | 8 |" in text


def test_cnn_epoch_on_random_images_two_thread_counts(tmp_path):
    res, _ = run("cnn_epoch.py", "--random-data", "--images", "64", "--test-images", "1000", "--batch", "32",
                    "--threads", "1,2", "--rounds", "1", "--no-torch", "--gemm-size", "128", tmp_path=tmp_path)
    rows = {(r["impl"], r["threads"]): r for r in res["rows"]}
    assert set(rows) == {("nnbasics", 1), ("nnbasics", 2)} and rows[("nnbasics", 2)]["vs_1_thread"] > 0
    assert set(res["gemm_before"]) == {"1", "2"}


def test_mlp_side_by_side_and_per_op_overhead(tmp_path):
    res, text = run("mlp_step.py", "--no-torch", "--threads", "1", "--rounds", "1", "--steps", "2", "--warmup", "1",
                    tmp_path=tmp_path)
    assert {r["impl"] for r in res["rows"]} == {"nnbasics", "nnbasics-linear", "numpy"}
    assert res["ops_per_step"] == 13 and res["ops_per_step_linear"] == 7
    assert res["tiny"]["us_per_op"] > 0 and res["max_weight_diff_after_3_steps"] < 1e-4
    assert "tiny graph" in text


def test_a_failing_worker_stops_the_run_with_its_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(BENCH, "..", "src"))
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "cnn_epoch.py"), "--data", str(tmp_path / "none"),
                           "--images", "8", "--threads", "1", "--rounds", "1", "--no-torch", "--settle", "0"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode != 0
    assert "worker nnbasics 1t failed" in proc.stderr and "FileNotFoundError" in proc.stderr


def test_heldout_models_side_by_side_and_memory(torch, numba, tmp_path):
    res, text = run("heldout.py", "--cases", "mlp-tiny,cnn-small", "--threads", "1,2", "--rounds", "2", "--steps", "1",
                    "--compiled", tmp_path=tmp_path)
    assert set(res["cases"]) == {"mlp-tiny", "cnn-small"}
    for case in res["cases"].values():
        assert set(case["times"]) == {f"{i} {t}t" for i in ("nnbasics", "torch", "nnbasics+numba") for t in (1, 2)}
        assert all(len(v) == 2 and min(v) > 0 for v in case["times"].values())
    for row in ("| mlp-tiny | nnbasics |", "| mlp-tiny | nnbasics+numba |", "| cnn-small | nnbasics |", "2+t / 1t"):
        assert row in text
    res, text = run("heldout.py", "--memory", "--cases", "rnn", "--batches", "4", tmp_path=tmp_path)
    assert set(res["memory"]) == {"nnbasics rnn B4", "torch rnn B4"}
    assert all(rec["peak_mb"] >= rec["baseline_mb"] > 0 for rec in res["memory"].values())
    assert "| nnbasics | rnn | 4 |" in text


def test_heldout_names_the_models_it_knows():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "heldout.py"), "--cases", "lstm-tiny"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "unknown case(s) lstm-tiny" in proc.stderr and "lstm-small" in proc.stderr


def test_backends_prints_the_gemm_rates_of_each_library(torch, tmp_path):
    res, text = run("backends.py", "--only", "gemm", tmp_path=tmp_path)
    cols = res["gemm"]
    assert "NumPy as set" in cols and "torch.mm" in cols
    assert all(rate > 0 for col in cols.values() for rate in col.values())
    assert "| 32x256x1024 |" in text and res["load"]


def test_backends_names_its_parts():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "backends.py"), "--only", "gemm,speed"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "unknown part(s) speed" in proc.stderr
