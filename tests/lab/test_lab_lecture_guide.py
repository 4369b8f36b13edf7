"""docs/lecture.md runs as written: its python blocks in order, in one namespace, and their
printed claims hold (the guide's numbers are measured, not typed in)."""

import pathlib
import re

from guides import run_guide

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "lecture.md"
README = GUIDE.parents[1] / "README.md"


def test_lecture_guide_blocks_run_and_show_the_claims(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = run_guide("lecture.md", min_blocks=6)
    capsys.readouterr()
    # 1. XOR: one layer cannot, one hidden layer can.
    assert ns["acc"]["single layer"] <= 0.75
    assert ns["acc"]["one hidden layer"] == 1.0
    # Init: with ReLU, LeCun's 1/fan_in shrinks the signal layer after layer, He's 2/fan_in does not.
    assert ns["deepest"]["lecun"] < 0.05 * ns["deepest"]["he"]
    he_var = [r.act_var for r in ns["rep"].rows]  # the He report, the last one built: steady
    assert max(he_var) / min(he_var) < 10
    # Activation: 20 sigmoid layers pass orders of magnitude less gradient than 20 ReLU layers.
    assert ns["ratios"]["sigmoid"] < 1e-3 * ns["ratios"]["relu"]
    # Dropout in eval mode is the identity.
    assert ns["drop"].training is False


def test_every_lab_experiment_has_a_section_in_the_guide():
    from nnbasics.lab import EXPERIMENTS

    text = GUIDE.read_text(encoding="utf-8")
    missing = [name for name in EXPERIMENTS if f"nnbasics lab {name}" not in text]
    assert not missing, f"docs/lecture.md has no section for: {missing}"


def test_readme_links_the_guide():
    assert "docs/lecture.md" in README.read_text(encoding="utf-8")


def test_readme_setup_commands_are_the_ones_ci_runs():
    """The README's two set-up commands: the first runs the main job (the hinton lab, offline),
    the second is the test command; .ci/run runs both, so the README cannot drift from CI."""
    readme = README.read_text(encoding="utf-8")
    setup = readme[readme.index("## Set up"):readme.index("## Ten lines")]
    first, second = re.findall(r"^```bash\n(.*?)\n```$", setup, flags=re.DOTALL | re.MULTILINE)[:2]
    assert first.startswith('pip install -e ".[lab]"') and "nnbasics lab hinton --quick" in first
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert second in ci
    assert 'pip install -q -e ".[lab]"' in ci and "nnbasics lab hinton --quick" in ci
