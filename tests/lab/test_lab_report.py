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
    assert "http://" not in page and "https://" not in page and check.links == []


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
           '<script src="https://cdn/x.js"></script><a href="javascript:alert(1)">x</a><a href="#top">ok</a>'
           '<a href="../../secret.html">up</a><a href="file:///etc/passwd">f</a>'
           '<a href="https://arxiv.org/abs/1506.02142">paper</a><a href="data/report.html">sub</a>'
           "</body></html>")
    check = check_html(bad)
    joined = "\n".join(check.problems)
    for needle in ("<link>", "url()", "not an embedded PNG", "not a PNG", "<script>", "javascript:alert",
                   "../../secret.html", "file:///etc/passwd"):
        assert needle in joined, (needle, check.problems)
    assert "#top" not in joined and "arxiv" not in joined and "data/report.html" not in joined
    assert check.links == ["#top", "https://arxiv.org/abs/1506.02142", "data/report.html"]  # links to follow


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
    page = check_html((tmp_path / "study" / "report.html").read_text())
    assert page.ok and "demo/report.html" in page.links and "A <demo> & test" in page.text
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


# ----------------------------------------------------------------- layout (issue 14 item 20)
def test_numbers_use_thousands_separators_consistently():
    fv = lab_html.format_value
    assert [fv(3188), fv(67848), fv(999), fv(-12345)] == ["3,188", "67,848", "999", "-12,345"]
    assert [fv(1234.4), fv(207100.5), fv(0.5), fv(2.5e-7), fv(2.4e6)] == ["1,234", "207,100", "0.5", "2.5e-07",
                                                                        "2.4e+06"]


def test_text_columns_left_numbers_right():
    r = Report("t", "T", "A claim.")
    r.table(["model", "accuracy", "layers", "params", "drop"],
            [["relu (he)", "0.953 ± 0.012", "conv3x3 8 > ReLU > pool", 3304, "0.25 → 0.12"],
             ["sigmoid (xavier)", 0.5, "linear -> 8", "67,848", "n/a"]])
    page = lab_html.render_html(r)
    head = page[page.index("<thead>"):page.index("</thead>")]
    assert head.count("class=num") == 3 and "<th>model</th>" in head and "<th>layers</th>" in head
    assert "<td>relu (he)</td>" in page and "<td>conv3x3 8 &gt; ReLU &gt; pool</td>" in page
    assert "<td class=num>0.953 ± 0.012</td>" in page and "<td class=num>3,304</td>" in page
    assert "<td class=num>0.25 → 0.12</td>" in page
    css = page[page.index("<style>"):page.index("</style>")]
    assert "td.num,th.num{text-align:right" in css and "text-align:left" in css
    md = lab_html.render_markdown(r)
    assert "|:---|---:|:---|---:|---:|" in md


def test_captions_have_no_internal_ids_and_figures_are_numbered():
    r = Report("t", "T", "A claim.")
    r.figure(_figure(1), "data_data_learning_curve", "Left: the learning curve.")
    r.figure(_figure(2), "second_one", "The second.")
    check = check_html(lab_html.render_html(r))
    assert "Figure 1. Left: the learning curve." in check.text and "Figure 2. The second." in check.text
    assert "data_data_learning_curve" not in check.text and "second_one" not in check.text
    assert "*Figure 1.* Left" in lab_html.render_markdown(r)


def test_headline_numbers_are_named_in_words_and_keys_stay_in_metrics_json(tmp_path):
    r = Report("t", "T", "A claim.")
    r.metric("init.deep.loss_ratio.he", 0.38, label="30-layer ReLU net, He init: final / initial loss")
    r.metric("deep.accuracy.xavier", 0.125)  # not a headline number: metrics.json only
    r.conclude(True, "measured")
    page = check_html(lab_html.render_html(r)).text
    assert "30-layer ReLU net, He init: final / initial loss 0.38" in page
    assert "deep.accuracy.xavier" not in page and "All 2 measured numbers are in metrics.json" in page
    r.write(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["metrics"] == {"init.deep.loss_ratio.he": 0.38, "deep.accuracy.xavier": 0.125}
    assert r.headline_rows() == [("30-layer ReLU net, He init: final / initial loss", 0.38,
                                  "init.deep.loss_ratio.he")]


def test_papers_and_parts_are_linked():
    r = Report("t", "T", "A claim.")
    r.text("Monte-Carlo dropout ([Gal & Ghahramani 2016](https://arxiv.org/abs/1506.02142)) and "
           "[a trap](javascript:alert(1)).")
    r.reference("Srivastava et al. 2014, Dropout", "https://jmlr.org/papers/v15/srivastava14a.html")
    r.conclude(None, "2 of 3", parts=[{"label": "data", "verdict": "supported", "because": "x", "link": "data/report.html"},
                                      {"label": "speed", "verdict": False, "because": "a CPU"}])
    check = check_html(lab_html.render_html(r))
    assert check.ok
    assert check.links == ["data/report.html", "https://arxiv.org/abs/1506.02142",
                           "https://jmlr.org/papers/v15/srivastava14a.html"]
    assert "[a trap](javascript:alert(1))" in check.text  # not made a link
    assert "supported data x" in check.text and "not supported speed a CPU" in check.text
    with pytest.raises(ValueError, match="http"):
        r.reference("x", "javascript:alert(1)")


def test_a_numeric_column_shares_its_decimals():
    r = Report("t", "T", "A claim.")
    r.table(["p", "train acc", "train loss", "mixed"], [[0.0, 1.0, 0.004793, 0.4654], [0.5, 0.9633, 0.269, 12812.0]])
    page = lab_html.render_html(r)
    for text in ("1.000", "0.963", "0.0048", "0.2690", "0.4654", "12,812"):
        assert f"<td class=num>{text}</td>" in page, text
    assert "| 0.000 | 1.000 | 0.0048 | 0.4654 |" in lab_html.render_markdown(r)
