"""The playground in a real browser (Chromium driven by Playwright): load, play, reset, presets, uploads, exports.

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` package; skipped where either is
missing, except under NNBASICS_REQUIRE_BROWSER=1 (set by .ci/run), where that is a failure. Screenshots go
to ``$NNBASICS_ARTIFACTS/playground/`` (CI keeps them), else ``ci-artifacts/playground/`` (git-ignored), for a
person to look at.
"""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from nnbasics.playground import serve
from nnbasics.playground.network import build_member

CHROMIUM = os.environ.get("NNBASICS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
# CI keeps $NNBASICS_ARTIFACTS (one folder per leg); elsewhere the clone's git-ignored ci-artifacts/.
ARTIFACTS = Path(os.environ.get("NNBASICS_ARTIFACTS") or Path(__file__).resolve().parents[2] / "ci-artifacts") \
    / "playground"
SMALL = {"dataset": "spiral", "n": 300, "layers": [{"units": 8, "activation": "tanh"}] * 2, "speed": 10}


def _playwright():
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("the playwright package (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if os.environ.get("NNBASICS_REQUIRE_BROWSER") == "1":
            pytest.fail(why + " (NNBASICS_REQUIRE_BROWSER=1)")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def served():
    server = serve(SMALL)
    yield server
    server.close()


@pytest.fixture
def page(browser, served):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    pg.goto(served.url)
    wait(pg, "window.playground && window.playground.frames > 0")
    yield pg
    ctx.close()


def wait(pg, expr, timeout=30.0):
    """Poll a JS expression (the page's CSP forbids Playwright's eval-based wait_for_function)."""
    end = time.time() + timeout
    while time.time() < end:
        if pg.evaluate(expr):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expr}")


def shot(pg, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=True)


def canvas(pg, selector):
    """(PNG data URL, number of distinct colours) of a canvas."""
    return pg.evaluate("""(sel) => {
        const c = document.querySelector(sel), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 16) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return [c.toDataURL(), seen.size];
    }""", selector)


def frame_value(pg, path):
    return pg.evaluate(f"window.playground.state.frame.{path}")


def test_page_loads_and_play_changes_the_curves_and_the_heatmap(page, served):
    shot(page, "01-loaded.png")
    heat0, colours = canvas(page, "#heatmap-a")
    loss0, _ = canvas(page, "#loss-chart canvas")
    assert colours > 20  # a boundary and points, not a blank canvas
    page.click("#play")
    wait(page, "window.playground.step >= 150")
    page.click("#play")  # pause
    wait(page, "window.playground.state.frame.playing === false")
    heat1, colours = canvas(page, "#heatmap-a")
    loss1, _ = canvas(page, "#loss-chart canvas")
    assert heat1 != heat0 and loss1 != loss0 and colours > 20
    shown = int(page.inner_text("#step-count"))
    assert shown == served.session.runs["a"].step >= 150
    history = served.session.runs["a"].history
    assert history["loss"][-1] < history["loss"][0]
    assert page.locator("#diag-a tr").count() == 4  # header + hidden 1, hidden 2, output
    shot(page, "02-trained.png")
    assert page.problems == []


def test_changing_activation_or_init_resets_to_the_same_seeded_start(page, served):
    s = served.session
    start = [p.detach().numpy().copy() for p in s.runs["a"].models[0].parameters()]
    loss0 = s.runs["a"].start_loss
    page.click("#step")
    page.click("#step")
    wait(page, "window.playground.step >= 2")
    page.select_option("#activation-0", "relu")
    wait(page, "window.playground.state.frame.configs.a.layers[0].activation === 'relu'")
    assert frame_value(page, "runs.a.step") == 0
    run = s.runs["a"]
    fresh = build_member(run.spec, run.cfg["seed"])
    for p, q in zip(run.models[0].parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    page.select_option("#init", "he")
    wait(page, "window.playground.state.frame.configs.a.init === 'he'")
    page.select_option("#init", "lecun")
    page.select_option("#activation-0", "tanh")
    wait(page, "window.playground.state.frame.configs.a.layers[0].activation === 'tanh' && "
               "window.playground.state.frame.configs.a.init === 'lecun'")
    assert frame_value(page, "runs.a.step") == 0 and s.runs["a"].start_loss == loss0
    for p, q in zip(s.runs["a"].models[0].parameters(), start):
        np.testing.assert_array_equal(p.detach().numpy(), q)
    assert page.problems == []


def test_a_preset_runs_two_networks_side_by_side(page, served):
    page.select_option("#preset", "xor-hidden")
    wait(page, "window.playground.state.frame.preset && window.playground.step > 100")
    assert page.is_visible("#preset-banner") and "straight line" in page.inner_text("#preset-banner")
    assert page.is_visible("#heatmap-a") and page.is_visible("#heatmap-b")
    assert "#preset=xor-hidden" in page.url
    page.click("#play")
    wait(page, "window.playground.state.frame.playing === false")
    shot(page, "03-preset-xor.png")
    h = served.session.runs["b"].history
    assert h["test_metric"][-1] > served.session.runs["a"].history["test_metric"][-1]
    assert page.problems == []


def test_a_bad_csv_shows_the_error_and_a_good_one_is_used(page, served):
    bad = b"x1,x2,label\n" + b"".join(b"%d,%d,%d\n" % (i, i % 3, i % 2) for i in range(20))
    bad = bad.replace(b"\n7,1,1\n", b"\n7,oops,1\n")
    page.set_input_files("#upload", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad}])
    wait(page, "!document.getElementById('error').hidden")
    message = page.inner_text("#error-text")
    assert message.startswith("bad.csv: row 9, column 'x2'") and "oops" in message
    shot(page, "04-bad-csv.png")
    assert served.session.configs["a"]["dataset"] == "spiral"  # nothing changed
    good = b"x1,x2,label\n" + b"".join(b"%d,%d,%s\n" % (i % 9, i % 5, b"ab"[i % 2:i % 2 + 1]) for i in range(60))
    page.set_input_files("#upload", files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good}])
    wait(page, "window.playground.state.frame.configs.a.dataset === 'csv'")
    wait(page, "document.getElementById('data-note').textContent.includes('good.csv')")
    assert page.is_hidden("#error") and page.input_value("#dataset") == "csv"


def test_exports_download_files_that_load(page, served, tmp_path):
    from nnbasics.models.spec import read_toml, validate_spec
    from nnbasics.training import load_checkpoint

    page.click("#step")
    wait(page, "window.playground.step >= 1")
    files = {}
    for fmt in ("checkpoint", "onnx", "toml", "script"):
        with page.expect_download() as info:
            page.click(f"#export-{fmt}")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(str(path))
        files[fmt] = path
    run = served.session.runs["a"]
    X = run.data.X_test
    ckpt = load_checkpoint(files["checkpoint"])
    ckpt.model.eval()
    np.testing.assert_allclose(ckpt.model(X).detach().numpy(), run.predict(X), rtol=1e-6)
    validate_spec(read_toml(files["toml"]))
    compile(files["script"].read_text(), str(files["script"]), "exec")
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: X})[0], run.predict(X), rtol=1e-4,
                               atol=1e-5)
    assert page.problems == []


def test_the_setup_travels_in_the_url(browser, served):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.goto(served.url + "#dataset=moons&noise=0.3&layers=5-relu,3-tanh-0.2&b=1&b.init=he")
    wait(pg, "window.playground.state.frame && window.playground.state.frame.compare && "
             "window.playground.state.frame.configs.b.init === 'he'")
    cfg = served.session.configs
    assert cfg["a"]["dataset"] == "moons" and cfg["a"]["noise"] == 0.3
    assert cfg["a"]["layers"] == [{"units": 5, "activation": "relu", "dropout": 0.0},
                                  {"units": 3, "activation": "tanh", "dropout": 0.2}]
    assert cfg["b"]["init"] == "he" and cfg["b"]["layers"] == cfg["a"]["layers"]
    assert pg.input_value("#dataset") == "moons" and pg.input_value("#units-0") == "5"
    pg.click("#play")
    wait(pg, "window.playground.step > 30")
    pg.click("#play")
    shot(pg, "05-url-compare.png")
    ctx.close()
    assert problems == []


def test_a_refused_change_shows_the_setup_still_in_effect(page, served):
    # held-out case: the control kept the refused value (n 5, 5000 units, the CSV choice without a file) while the
    # server trained the old setup; the layer row even survived later frames
    page.select_option("#dataset", "csv")
    wait(page, "!document.getElementById('error').hidden")
    page.click("h2")
    wait(page, "document.getElementById('dataset').value === 'spiral'", timeout=5)
    for control, typed in (("#n", "5"), ("#units-0", "5000"), ("#lr", "0")):
        page.click(control)
        page.keyboard.press("Control+A")
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        wait(page, "!document.getElementById('error').hidden")
        wait(page, f"document.querySelector('{control}').value !== '{typed}'", timeout=5)
    cfg = served.session.configs["a"]
    assert page.input_value("#n") == str(cfg["n"]) and page.input_value("#lr") == str(cfg["lr"])
    assert page.input_value("#units-0") == str(cfg["layers"][0]["units"]) == "8"
    assert all(p.startswith("Failed to load resource") for p in page.problems)  # the refusals' 400s only
