"""lab hinton: the four reasons composed into one report (stand-in sub-experiments: fast and controllable).

The four real sub-experiments are tested in their own files (test_lab_data/speed/init/activation);
here stand-ins with chosen verdicts check the composition, the subfolders and the overall verdict.
"""

import json
import re
import sys
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nnbasics.lab import registry, run_experiment
from nnbasics.lab.experiments import hinton
from nnbasics.lab.html import check_html

SEEN = []


def _stand_in(name, verdict):
    m = types.ModuleType(f"stand_in_{name}")
    m.NAME, m.TITLE, m.CLAIM = name, f"Stand-in {name}", f"The claim of {name}."

    def run(ctx):
        from nnbasics.lab import Report

        if verdict == "crash":
            raise RuntimeError(f"{name} blew up")
        SEEN.append((name, ctx.quick, ctx.seed))
        r = Report(name, m.TITLE, m.CLAIM)
        ctx.tabular(n_train=30, n_test=30)
        r.metric("measured", float(ctx.rng(name).random()))
        r.metric("curve", [1.0, 2.0])  # not a scalar: not a headline of the study
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1])
        r.figure(fig, "main", f"the {name} figure")
        r.finding(f"{name} found something")
        r.conclude({"supported": True, "not supported": False, "inconclusive": None}[verdict], f"{name} measured")
        return r

    m.run = run
    return m


def _install(monkeypatch, verdicts):
    for (name, _), verdict in zip(hinton.REASONS, verdicts):
        monkeypatch.setitem(sys.modules, f"stand_in_{name}", _stand_in(name, verdict))
        monkeypatch.setitem(registry.EXPERIMENTS, name, f"stand_in_{name}")
    SEEN.clear()


def test_overall_verdict_rule():
    s, n, i = "supported", "not supported", "inconclusive"
    assert hinton.overall_verdict([s, s, s, s])[0] is True
    assert hinton.overall_verdict([s, n, s, s])[0] is None
    assert hinton.overall_verdict([s, n, n, s])[0] is False
    assert hinton.overall_verdict([s, s, i, s])[0] is None
    assert hinton.overall_verdict([s, s, None, s]) == (None, ("3 of 4 reasons supported by the measurements, "
                                                             "0 not supported, 1 inconclusive"))


def test_study_composes_the_four_reports(monkeypatch, tmp_path):
    _install(monkeypatch, ["supported"] * 4)
    report = run_experiment("hinton", quick=True, seed=4, output=tmp_path / "h", progress=False)
    assert SEEN == [(name, True, 4) for name, _ in hinton.REASONS]  # same mode and seed, Hinton's order
    assert report.verdict == "supported" and report.metrics["supported_count"] == 4
    assert [folder for folder, _ in report.subreports] == ["data", "speed", "init", "activation"]
    summary = next(t for t in report.tables if t.headers[0] == "reason (Hinton)")
    assert [row[1] for row in summary.rows] == [f"[{n}]({n}/report.html)" for n in ("data", "speed", "init",
                                                                                      "activation")]
    assert [row[0] for row in summary.rows] == [words for _, words in hinton.REASONS]
    assert all(row[3] == "supported" and row[2].endswith("measured") for row in summary.rows)
    assert "data.measured" in report.metrics and "data.curve" not in report.metrics
    assert report.metrics["speed.verdict"] == "supported"
    for name, _ in hinton.REASONS:
        sub = json.loads((tmp_path / "h" / name / "metrics.json").read_text())
        assert sub["verdict"] == "supported" and sub["metrics"]["measured"] == report.metrics[f"{name}.measured"]
        assert check_html((tmp_path / "h" / name / "report.html").read_text()).ok
    page = check_html((tmp_path / "h" / "report.html").read_text())
    assert page.ok and len(page.images) == len(report.figures) == 4
    assert "Our computers were millions of times too slow." in page.text and "speed/report.html" in page.links
    assert json.loads((tmp_path / "h" / "config.json").read_text())["command"].startswith("nnbasics lab hinton --quick")


def test_refuted_reasons_and_a_crash_are_reported_not_raised(monkeypatch, tmp_path):
    _install(monkeypatch, ["not supported", "crash", "not supported", "supported"])
    report = run_experiment("hinton", quick=True, output=tmp_path / "h", progress=False)
    assert report.verdict == "not supported"
    assert report.metrics["not_supported_count"] == 2 and report.metrics["supported_count"] == 1
    summary = next(t for t in report.tables if t.headers[0] == "reason (Hinton)")
    assert summary.rows[1][2] == "failed: RuntimeError: speed blew up"
    assert not (tmp_path / "h" / "speed").exists() and (tmp_path / "h" / "init" / "report.html").exists()
    assert "speed blew up" in check_html((tmp_path / "h" / "report.html").read_text()).text


def test_one_refuted_reason_makes_the_study_inconclusive(monkeypatch):
    _install(monkeypatch, ["supported", "not supported", "supported", "supported"])
    report = run_experiment("hinton", quick=True, progress=False)
    assert report.verdict == "inconclusive" and "3 of 4 reasons supported" in report.because


def test_the_four_verdicts_are_the_headline_with_the_count(monkeypatch, tmp_path):
    _install(monkeypatch, ["supported", "not supported", "supported", "inconclusive"])
    report = run_experiment("hinton", quick=True, output=tmp_path / "h", progress=False)
    assert [p["verdict"] for p in report.parts] == ["supported", "not supported", "supported", "inconclusive"]
    assert [p["label"] for p in report.parts] == [f"{i}. {w}" for i, (_, w) in enumerate(hinton.REASONS, 1)]
    assert [p["link"] for p in report.parts] == [f"{n}/report.html" for n, _ in hinton.REASONS]
    assert report.because.startswith("2 of 4 reasons supported by the measurements, 1 not supported, 1 inconclusive")
    # speed falls short on a CPU: its line says why and what would change it
    assert "GPU" in report.parts[1]["because"] and "TFLOP/s" in report.parts[1]["because"]
    html = (tmp_path / "h" / "report.html").read_text()
    head = html[html.index("<blockquote>"):html.index("<h2>")]  # everything above the first section
    assert head.count('class="verdict ') == 5  # the four verdicts, then the overall one
    assert "Verdicts:</strong> 2 of 4 reasons supported" in head
    assert head.index("not supported") < head.index("Overall:")
    md = (tmp_path / "h" / "report.md").read_text()
    assert "- **not supported** — [2. Our computers were millions of times too slow.](speed/report.html)" in md


def test_each_experiment_names_its_own_place_among_the_four_reasons():
    from nnbasics.lab.registry import load_experiment

    ordinals = ("first", "second", "third", "fourth")
    for i, (name, _) in enumerate(hinton.REASONS):
        claim = load_experiment(name).CLAIM.lower()
        said = re.findall(r"hinton's (\w+) reason", claim)
        assert said == [ordinals[i]], f"{name} calls itself the {said} reason; it is the {ordinals[i]}"


def test_the_real_quick_study_leads_with_four_verdicts(quick_report):
    report, out = quick_report("hinton")
    assert len(report.parts) == 4 and report.metrics["supported_count"] == sum(
        p["verdict"] == "supported" for p in report.parts)
    assert report.because.startswith(f"{report.metrics['supported_count']} of 4 reasons supported")
    page = check_html((out / "report.html").read_text())
    assert page.ok and {f"{n}/report.html" for n, _ in hinton.REASONS} <= set(page.links)
