"""lab.Report: self-contained HTML (checked structurally), markdown, metrics.json, atomic writes.

No headless browser is available on this machine or in CI's image (``which chromium`` finds
nothing), so the HTML is validated structurally with html.parser (``lab.html.check_html``).
"""

import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nnbasics.lab import Report
from nnbasics.lab import html as lab_html
from nnbasics.lab.html import check_html

PNG = b"\x89PNG\r\n\x1a\n"


def _figure(k):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(np.arange(5) * k)
    return fig


def _report():
    r = Report("demo", "A <demo> & test", 'Deep "sigmoid" nets <stop> learning & ReLU fixes it.')
    r.text("Some **bold**, `code` and a <script>alert(1)</script> that must stay text.")
    r.section("Figures", "Two of them.")
    r.figure(_figure(1), "first", "the first <figure>")
    r.figure(_figure(2), "second", "the second")
    r.table(["model", "accuracy"], [["sigmoid", 0.5], ["relu", 0.97]], caption="accuracy <after> 5 epochs")
    r.metric("ratio", np.float32(2.5e-7))
    r.metric("diverged", float("nan"))
    r.metric("curve", np.array([1.0, np.inf, 0.5]))
    r.finding("sigmoid's first layer receives 1e-7 of the output layer's gradient")
    r.conclude(np.bool_(False), "ReLU's ratio was 0.3 <below> sigmoid's")
    r.config = {"experiment": "demo", "seed": 3, "command": "nnbasics lab demo --seed 3", "versions": {"numpy": "x"}}
    r.timings["wall_s"] = 1.25
    return r


def test_html_is_self_contained_and_shows_every_figure(tmp_path):
    r = _report()
    path = r.write(tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    check = check_html(page)
    assert check.problems == []
    assert len(check.images) == len(r.figures) == 2
    for data, f in zip(check.images, r.figures):
        assert data.startswith(PNG)
        assert data == (tmp_path / "out" / "figures" / f"{f.name}.png").read_bytes() == f.png
    assert r.claim in check.text  # unescaped in the rendered text: it was escaped in the source
    assert "not supported" in check.text and "0.3 <below> sigmoid" in check.text
    assert "<script>alert(1)</script> that must stay text" in check.text
    assert "<script" not in page.replace("&lt;script", "")
    assert "nnbasics lab demo --seed 3" in check.text and "accuracy <after> 5 epochs" in check.text
    assert "http://" not in page and "https://" not in page


def test_metrics_json_is_strict_json_with_nonfinite_listed(tmp_path):
    r = _report()
    assert r.metrics["diverged"] is None and r.metrics["curve"] == [1.0, None, 0.5]
    assert r.metrics["nonfinite"] == ["diverged", "curve[1]"]
    r.metric("diverged", 3.0)  # a finite value replaces it and drops it from the list
    assert r.metrics["nonfinite"] == ["curve[1]"]
    r.write(tmp_path / "out")

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    m = json.loads((tmp_path / "out" / "metrics.json").read_text(), parse_constant=no_constants)
    assert m["verdict"] == "not supported" and m["because"] == r.because
    assert m["metrics"]["ratio"] == pytest.approx(2.5e-7) and m["timings"] == {"wall_s": 1.25}
    assert m["figures"] == ["first", "second"]
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["seed"] == 3 and cfg["command"] == "nnbasics lab demo --seed 3"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "](figures/first.png)" in md and "](figures/second.png)" in md and r.claim in md


def test_check_html_reports_every_kind_of_outside_reference():
    bad = ('<html><head><link rel="stylesheet" href="https://x/y.css"><style>body{background:url(a.png)}</style>'
           '</head><body><img src="figures/a.png"><img src="data:image/png;base64,AAAA">'
           '<script src="https://cdn/x.js"></script><a href="http://example.com">x</a><a href="#top">ok</a>'
           "</body></html>")
    problems = check_html(bad).problems
    joined = "\n".join(problems)
    for needle in ("<link>", "url()", "not an embedded PNG", "not a PNG", "<script>", "http://example.com"):
        assert needle in joined, (needle, problems)
    assert "#top" not in joined


def test_write_replaces_an_earlier_report_and_is_atomic(tmp_path, monkeypatch):
    r = _report()
    r.write(tmp_path / "out")
    before = (tmp_path / "out" / "report.html").read_text()

    def boom(report):
        raise RuntimeError("disk full")

    monkeypatch.setattr(lab_html, "render_markdown", boom)
    r2 = Report("demo", "Second", "Another claim.")
    with pytest.raises(RuntimeError, match="disk full"):
        r2.write(tmp_path / "out")
    assert (tmp_path / "out" / "report.html").read_text() == before  # the old report is intact
    store = tmp_path / ".out.versions"  # no temporary folder or link left
    assert [p.name for p in store.iterdir() if p.name.startswith(("tmp-", "old-"))] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.versions", "out"]
    monkeypatch.undo()
    r2.write(tmp_path / "out")
    assert "Second" in (tmp_path / "out" / "report.html").read_text()
    assert not (tmp_path / "out" / "figures" / "first.png").exists()  # replaced, not merged


def test_write_refuses_a_folder_that_is_not_a_report(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds no earlier report"):
        _report().write(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_subreports_are_written_in_subfolders(tmp_path):
    parent = Report("study", "Study", "Two claims.")
    child = _report()
    parent.add_subreport("demo", child)
    parent.figure(child.figures[0].png, "demo_first", "a child's figure, reused")
    parent.conclude(None, "one of two")
    parent.write(tmp_path / "study")
    assert check_html((tmp_path / "study" / "demo" / "report.html").read_text()).images
    assert "demo/report.html" in check_html((tmp_path / "study" / "report.html").read_text()).text
    assert json.loads((tmp_path / "study" / "metrics.json").read_text())["subreports"] == {"demo": "not supported"}


def test_report_validates_its_inputs():
    r = Report("x", "X", "A claim.")
    with pytest.raises(ValueError, match="name must be"):
        Report("bad name/..", "t", "c")
    with pytest.raises(TypeError, match="supported must be True, False or None"):
        r.conclude(1, "numbers are not verdicts")
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        r.table(["a", "b"], [[1]])
    with pytest.raises(TypeError, match="must be a number, string, bool, None"):
        r.metric("obj", object())
    with pytest.raises(ValueError, match="not a PNG"):
        r.figure(b"GIF89a", "g")
    r.figure(PNG + b"rest", "p")
    with pytest.raises(ValueError, match="already in report"):
        r.figure(PNG + b"rest", "p")
    for supported, verdict in ((True, "supported"), (False, "not supported"), (None, "inconclusive")):
        r.conclude(supported, "measured")
        assert r.verdict == verdict
