"""A real experiment is reproducible: the same seed gives the same numbers, another seed others
(every random stream comes from LabContext.seed_for / rng; nothing uses a global RNG)."""

import json

from nnbasics.lab import run_experiment


def _metrics(tmp_path, name, seed, tag):
    out = tmp_path / f"{name}_{seed}_{tag}"
    run_experiment(name, quick=True, seed=seed, output=out, progress=False)
    return json.loads((out / "metrics.json").read_text())["metrics"]


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path, quick_report):
    _, first = quick_report("data")  # the session's seed-0 run, written by the data tests too
    a = json.loads((first / "metrics.json").read_text())["metrics"]
    b = _metrics(tmp_path, "data", 0, "b")
    c = _metrics(tmp_path, "data", 1, "c")
    assert a == b
    assert a != c
    assert a["test_acc_largest"] != c["test_acc_largest"]
