"""bench/pytorch_corpus.py: patches must match, metrics are the last printed values, the table counts runs."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def corpus_tool():
    spec = importlib.util.spec_from_file_location("pytorch_corpus", BENCH / "pytorch_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_corpus_file_is_consistent(corpus_tool):
    corpus = corpus_tool.load_corpus()
    ids = [e["id"] for e in corpus["script"]]
    assert len(ids) == len(set(ids))
    for e in corpus["script"]:
        assert e["source"] in corpus["sources"], e["id"]
        for name in e.get("patch_sets", []):
            assert name in corpus["patch_sets"], (e["id"], name)
    groups = {e.get("group", "course") for e in corpus["script"]}
    assert groups == {"course", "heldout"}


def test_patches_apply_and_a_stale_one_is_an_error(corpus_tool):
    corpus = corpus_tool.load_corpus()
    text = "mnist_train = dsets.MNIST(root='MNIST_data/')\ntraining_epochs = 15\n"
    pats = corpus["patch_sets"]["mnist_to_fashion"] + corpus["patch_sets"]["one_epoch"]
    out = corpus_tool.apply_patches(text, pats, "x")
    assert out == "mnist_train = dsets.FashionMNIST(root='MNIST_data/')\ntraining_epochs = 1\n"
    with pytest.raises(ValueError, match="matched nothing"):
        corpus_tool.apply_patches("print(1)\n", pats, "x")


def test_metrics_are_the_last_match(corpus_tool):
    corpus = corpus_tool.load_corpus()
    d = corpus["defaults"]
    out = "Epoch: 0001 cost = 0.69\nEpoch: 0002 cost = 0.51\nAccuracy: tensor(0.8123)\nAcc: 91.50%\n"
    assert corpus_tool.extract(out, d["loss"]) == pytest.approx(0.51)
    assert corpus_tool.extract(out, d["accuracy"]) == pytest.approx(0.915)
    assert corpus_tool.extract("nothing here", d["loss"]) is None


def test_table_counts_both_sides(corpus_tool):
    corpus = {"script": [{"id": "a"}, {"id": "b"}]}
    results = [
        {"id": "a", "side": "torch", "status": "ok", "loss": 0.5, "accuracy": 0.8, "wall_s": 1.0},
        {"id": "a", "side": "nnbasics", "status": "ok", "loss": 0.52, "accuracy": 0.79, "wall_s": 2.0},
        {"id": "b", "side": "torch", "status": "ok", "loss": 0.1, "accuracy": None, "wall_s": 1.0},
        {"id": "b", "side": "nnbasics", "status": "exit 2", "loss": None, "accuracy": None, "wall_s": 1.0,
         "error": "nnbasics run: torch.fft is not supported by nnbasics."},
    ]
    md = corpus_tool.table(results, corpus)
    assert "Ran to the end: torch 2 of 2, nnbasics 1 of 2; both 1." in md
    assert "| a | ran | ran | 0.5 | 0.52 | 80.0% | 79.0% |" in md
    assert "torch.fft is not supported" in md


def test_agreement_is_welchs_statistic(corpus_tool):
    def runs(values, key="accuracy"):
        return [{"status": "ok", key: v, "loss": 1.0} for v in values]

    key, z = corpus_tool.agreement(runs([0.80, 0.82, 0.81]), runs([0.81, 0.83, 0.79]))
    assert key == "accuracy" and z == pytest.approx(0.0, abs=1e-9)
    key, z = corpus_tool.agreement(runs([0.80, 0.81, 0.80]), runs([0.60, 0.61, 0.60]))
    assert z > 20
    key, z = corpus_tool.agreement(runs([0.8], "x"), runs([0.8, 0.7], "x"))
    assert key == "loss" and z is None  # no accuracy printed; the loss has no spread on the torch side
    assert corpus_tool.agreement(runs([0.8]), runs([0.7]))[1] is None  # one run a side: no judgment


def test_deterministic_scripts_agree_up_to_float32_rounding(corpus_tool):
    """A script whose result does not depend on the seed has no spread: equal values up to rounding agree."""
    def runs(values):
        return [{"status": "ok", "loss": v} for v in values]

    key, z = corpus_tool.agreement(runs([8.943641662597656] * 3), runs([8.94363784790039] * 3))
    assert key == "loss" and z == 0.0
    assert corpus_tool.agreement(runs([8.9436] * 3), runs([9.09] * 3))[1] == float("inf")
