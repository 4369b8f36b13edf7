"""bench/compare_trees.py runs end to end: two trees (here the same one twice), a third through
--also, and reference mode, alternating workers, one row per benchmark and thread count (no
timing is asserted)."""

import json
import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
ROOT = os.path.join(BENCH, "..")


def test_two_trees_and_reference_mode_side_by_side(tmp_path):
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "compare_trees.py"), ROOT, ROOT, "--bench", "mlp",
                           "--threads", "1", "--rounds", "2", "--quick", "--reference", "--also", f"main={ROOT}", "--settle", "0",
                           "--json", str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["bench"] == "mlp" and row["threads"] == 1
    assert set(row["rounds"]) == {"before", "after", "main", "reference"}
    assert all(len(v) == 2 for v in row["rounds"].values())
    assert row["ratio"] > 0 and row["reference_slowdown"] > 0 and row["load"]
    assert set(row["also"]) == {"main"} and row["also"]["main"]["ratio"] > 0 and row["also"]["main"]["cpu_ratio"] > 0
    assert set(row["spread"]) == {"after", "main", "reference"}
    assert all(q[0] <= q[1] <= q[2] for x in row["spread"].values() for q in (x["wall"], x["cpu"]))
    assert "| mlp | 1 |" in proc.stdout and "reference/after" in proc.stdout and "main/before" in proc.stdout
    assert "quartiles" in proc.stdout


def test_also_needs_a_label_and_a_tree():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "compare_trees.py"), ROOT, ROOT, "--also", ROOT],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "LABEL=TREE" in proc.stderr
