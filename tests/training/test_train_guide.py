"""docs/training.md runs as written: its python blocks in order, its TOML specs built, its CLI lines executed."""

import pathlib
import re
import shlex

import numpy as np
import pytest

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "training.md"


def _blocks(lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_the_guide_has_every_step():
    text = GUIDE.read_text(encoding="utf-8")
    for step in ("## 1. Data", "## 2. A model", "## 3. fit", "## 4. Checkpoints", "## 5. Resume",
                 "## 6. Evaluate", "## 7. Ensembles", "## 8. The command line"):
        assert step in text
    assert len(_blocks("python")) >= 8 and len(_blocks("toml")) >= 3 and _blocks("bash")


@pytest.mark.parametrize("block", [b for b in _blocks("toml") if b.startswith("# input:")],
                         ids=["cnn", "rnn"])
def test_the_guide_toml_specs_build_and_run(block):
    import nnbasics as nb
    from nnbasics.models.spec import build_from_spec

    shape = tuple(int(v) for v in re.match(r"# input: \(N, ([\d, ]+)\)", block).group(1).split(","))
    model = build_from_spec(block, rng=0)
    out = model(nb.tensor(np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)))
    assert out.shape[0] == 2 and out.ndim == 2
    assert build_from_spec(model.spec, rng=0).spec == model.spec  # the recorded spec rebuilds it


def test_the_guide_runs(tmp_path, monkeypatch, capsys):
    from nnbasics.cli import main

    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, code in enumerate(_blocks("python")):
        exec(compile(code, f"{GUIDE.name} python block {i + 1}", "exec"), namespace)  # noqa: S102 - our own guide
    assert (tmp_path / "runs" / "guide" / "best.safetensors").exists()
    assert (tmp_path / "runs" / "guide" / "log.csv").read_text().startswith("epoch,loss,accuracy,top2_accuracy")

    for block in _blocks("toml"):
        m = re.match(r"# file: (\S+)\n", block)
        if m:
            (tmp_path / m.group(1)).write_text(block, encoding="utf-8")
    lines = [ln for b in _blocks("bash") for ln in b.splitlines() if ln.startswith("nnbasics ")]
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
    out = capsys.readouterr().out
    assert "Epoch 15/15" in out and "| ensemble (mean) |" in out
    assert (tmp_path / "runs" / "spiral" / "test.json").exists()
    assert (tmp_path / "runs" / "moons" / "last.safetensors").exists()  # the config file's output key
