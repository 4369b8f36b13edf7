"""docs/playground.md: its Python blocks run as written, its images exist and stay small."""

import re
from pathlib import Path

from guides import DOCS, run_guide


def test_playground_guide_code_blocks_run(capsys, monkeypatch, tmp_path, torch):
    monkeypatch.chdir(tmp_path)  # the guide writes model.safetensors where it runs
    ns = run_guide("playground.md", min_blocks=2)
    out = capsys.readouterr().out
    assert out.startswith("http://127.0.0.1:") and "\n50\n" in out
    agree = float(re.search(r"PyTorch and nnbasics agree to (\S+)", out).group(1))
    assert agree < 1e-5 and ns["s"].runs["a"].step == 200
    assert (tmp_path / "model.safetensors").stat().st_size > 0


def test_images_exist_and_are_small():
    text = (DOCS / "playground.md").read_text(encoding="utf-8")
    images = re.findall(r"\]\((images/playground/[^)]+\.png)\)", text)
    assert len(images) >= 5
    for rel in images:
        path = DOCS / rel
        assert path.is_file() and path.stat().st_size < 200_000, rel
    assert (DOCS / "images/playground/capture.py").is_file()
    for link in re.findall(r"\]\((\.\./[^)#]+)", text):
        assert (DOCS / link).resolve().exists(), link
    assert Path(DOCS / "../BENCHMARKS.md").read_text().count("## Playground: updates per second (issue 17)") == 1
