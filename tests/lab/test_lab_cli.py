"""`nnbasics lab`: list, unknown names, exit 0 whatever the verdict, output folders, 'all'."""

import json
import sys
import types

import pytest

from nnbasics.cli import main
from nnbasics.lab import registry
from nnbasics.lab.html import check_html


def _fake_module(name, supported):
    """A stand-in experiment module (fast), concluding ``supported`` from a 'measurement'."""
    m = types.ModuleType(f"fake_lab_{name}")
    m.NAME, m.TITLE, m.CLAIM = name, f"Fake {name}", f"The fake claim of {name}."

    def run(ctx):
        from nnbasics.lab import Report

        r = Report(name, m.TITLE, m.CLAIM)
        value = float(ctx.rng("value").random())
        r.metric("value", value)
        ctx.tabular(n_train=30, n_test=30)
        r.conclude(supported, f"measured {value:.3f}")
        return r

    m.run = run
    return m


@pytest.fixture
def fakes(monkeypatch):
    table = {"good": True, "refuted": False}
    for name, supported in table.items():
        monkeypatch.setitem(sys.modules, f"fake_lab_{name}", _fake_module(name, supported))
    monkeypatch.setattr(registry, "EXPERIMENTS", {"good": "fake_lab_good", "refuted": "fake_lab_refuted",
                                                  "missing": "fake_lab_not_written_yet"})
    return table


def test_lab_list_names_every_experiment_and_says_which_are_missing(fakes, capsys):
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "Fake refuted" in out and "The fake claim of good." in out
    assert "missing" in out and "not available" in out


def test_unknown_experiment_exits_2_listing_the_known_ones(fakes, capsys):
    with pytest.raises(SystemExit) as info:
        main(["lab", "nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nope'" in err and "good, refuted, missing" in err


def test_unavailable_experiment_is_a_clear_usage_error(fakes, capsys):
    with pytest.raises(SystemExit) as info:
        main(["lab", "missing", "--quick"])
    assert info.value.code == 2 and "fake_lab_not_written_yet is not available" in capsys.readouterr().err


def test_a_refuted_claim_still_exits_0_and_prints_verdict_numbers_and_path(fakes, tmp_path, capsys):
    rc = main(["lab", "refuted", "--quick", "--seed", "5", "--output", str(tmp_path / "r"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "verdict: NOT SUPPORTED -- measured" in out and "value: " in out
    assert f"report:  {tmp_path / 'r' / 'report.html'}" in out
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["seed"] == 5 and cfg["quick"] is True and "spiral" in cfg["data"]
    assert cfg["command"] == f"nnbasics lab refuted --quick --seed 5 --output {tmp_path / 'r'}"
    assert {"python", "numpy", "nnbasics"} <= set(cfg["versions"])
    page = check_html((tmp_path / "r" / "report.html").read_text())
    assert page.ok and "The fake claim of refuted." in page.text and "not supported" in page.text


def test_same_seed_same_numbers_and_all_runs_every_experiment(fakes, tmp_path, capsys):
    assert main(["lab", "all", "--quick", "--seed", "2", "--output", str(tmp_path), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "missing: skipped" in captured.err and "not run: missing" in captured.err
    first = json.loads((tmp_path / "good" / "metrics.json").read_text())["metrics"]["value"]
    assert (tmp_path / "refuted" / "report.html").exists() and not (tmp_path / "missing").exists()
    assert main(["lab", "good", "--quick", "--seed", "2", "--output", str(tmp_path / "again"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["metrics"]["value"] == first
    main(["lab", "good", "--quick", "--seed", "3", "--output", str(tmp_path / "other"), "--no-progress"])
    assert json.loads((tmp_path / "other" / "metrics.json").read_text())["metrics"]["value"] != first


def test_output_folder_holding_other_files_is_refused(fakes, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as info:
        main(["lab", "good", "--quick", "--output", str(tmp_path), "--no-progress"])
    assert info.value.code == 2 and "refusing to replace" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["/etc/passwd/x", "{tmp}/afile/x", "{tmp}/afile"])
def test_an_unusable_output_is_refused_before_any_work(fakes, tmp_path, capsys, monkeypatch, where):
    (tmp_path / "afile").write_text("not a folder")
    ran = []
    monkeypatch.setattr(sys.modules["fake_lab_good"], "run", lambda ctx: ran.append(ctx))
    with pytest.raises(SystemExit) as info:
        main(["lab", "good", "--quick", "--output", where.format(tmp=tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and ran == []  # nothing ran
    assert "choose another output folder" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_lab_all_checks_every_report_folder_before_the_first_experiment(fakes, tmp_path, capsys, monkeypatch):
    (tmp_path / "refuted").write_text("a file where the second report would go")
    ran = []
    monkeypatch.setattr(sys.modules["fake_lab_good"], "run", lambda ctx: ran.append(ctx))
    with pytest.raises(SystemExit) as info:
        main(["lab", "all", "--quick", "--output", str(tmp_path), "--no-progress"])
    assert info.value.code == 2 and ran == [] and "is not a folder" in capsys.readouterr().err


def test_progress_is_one_plain_line_per_job_when_stderr_is_not_a_terminal(capsys):
    from nnbasics.lab import LabContext

    ctx = LabContext(quick=True, progress=True)
    assert ctx.map(pow, [{"base": 2, "exp": k} for k in range(5)], desc="powers") == [1, 2, 4, 8, 16]
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("powers")]
    assert lines == [f"powers {k}/5 jobs" for k in range(1, 6)]
    assert "\r" not in err and "\x1b" not in err  # no cursor codes in a pipe or a file
