"""Every quick report, rendered by a real browser (issue 14 item 22): Debian's chromium, headless, through
Playwright. Every figure must load (naturalWidth > 0) at a non-trivial size; text columns are left-aligned and
numbers right-aligned as computed by the browser; the sub-report links resolve. Screenshots go to
``$NNBASICS_ARTIFACTS/reports/`` (CI keeps them) or a temporary folder.

Skipped only where chromium or Playwright is absent, outside CI: .ci/run installs both and sets
NNBASICS_REQUIRE_BROWSER=1, so a skip there fails instead (as torch's NNBASICS_REQUIRE_TORCH).
"""

import os
import shutil
from pathlib import Path

import pytest

from nnbasics.lab.registry import EXPERIMENTS

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium():
    for path in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.path.exists(path):
            return path
    return None


def _need(what):
    if os.environ.get("NNBASICS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} is required (NNBASICS_REQUIRE_BROWSER=1) but missing: apt-get install chromium; "
                    "pip install playwright")
    pytest.skip(f"{what} not installed: the reports are checked in a browser only where one is")


@pytest.fixture(scope="module")
def page():
    executable = _chromium()
    if executable is None:
        _need("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 900})
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    root = os.environ.get("NNBASICS_ARTIFACTS")
    folder = Path(root) / "reports" if root else tmp_path_factory.mktemp("report-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


IMAGES_JS = """() => Array.from(document.images).map(i => ({
    complete: i.complete, w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().width}))"""
ALIGN_JS = """() => Array.from(document.querySelectorAll('tbody td')).map(td => ({
    num: td.classList.contains('num'), align: getComputedStyle(td).textAlign}))"""
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"""


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_the_report_renders_in_chromium_with_every_figure(quick_report, page, shots, name):
    report, out = quick_report(name)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").resolve().as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate(IMAGES_JS)
    assert len(images) == len(report.figures) > 0
    for i, img in enumerate(images):
        assert img["complete"] and img["w"] > 100 and img["h"] > 60, (report.figures[i].name, img)
        assert img["shown"] > 100, (report.figures[i].name, img)  # laid out at a readable size, not collapsed
    cells = page.evaluate(ALIGN_JS)
    assert cells and all(c["align"] == ("right" if c["num"] else "left") for c in cells)
    assert any(c["num"] for c in cells) and any(not c["num"] for c in cells)
    for href in page.evaluate(LINKS_JS):
        if not href.startswith(("http", "#")):
            assert (out / href).is_file(), href  # a sub-report beside the page
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000 and errors == []
