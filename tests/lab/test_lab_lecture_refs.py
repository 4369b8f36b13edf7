"""docs/lecture.md's pointers hold: every file it names exists, and a file it cites for timings has them."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "lecture.md"


def test_files_named_by_the_guide_exist():
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:docs/)?[A-Za-z_]+\.md)`", text))
    missing = [n for n in named if not (ROOT / n).exists()]
    assert not missing, f"docs/lecture.md names missing files: {missing}"


def test_a_file_cited_for_timings_holds_the_labs_timings():
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    for cited in re.findall(r"timings in `([^`]+)`", text):
        body = (ROOT / cited).read_text(encoding="utf-8")
        assert "lab hinton" in body or "lab/hinton" in body, (
            f"docs/lecture.md cites {cited} for the lab's timings, but {cited} has none")
