"""bench/call_counts.py: calls per training step are exact and repeatable (the same tree twice
gives the same counts), so a change in them is the code's, never the machine's."""

import json
import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
ROOT = os.path.join(BENCH, "..")


def test_the_same_tree_twice_gives_the_same_counts(tmp_path):
    out = tmp_path / "counts.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "call_counts.py"), f"a={ROOT}", f"b={ROOT}",
                           "--bench", "mlp", "--steps", "2", "--warmup", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    a, b = res["a"]["mlp"], res["b"]["mlp"]
    assert a == b
    assert a["python_calls"] > 50 and a["c_calls"] > 50
    assert a["ops"] == 13  # 3 x (W.T, @, + b), 2 ReLU, the fused softmax cross-entropy and its mean
    assert "| mlp | b |" in proc.stdout and "1.000" in proc.stdout


def test_trees_are_label_and_path():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "call_counts.py"), ROOT],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "LABEL=PATH" in proc.stderr
