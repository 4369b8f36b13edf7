"""The lab without matplotlib: refused up front with the install command, before any training."""

import sys

import pytest

from nnbasics.cli import main
from nnbasics.lab import registry
from nnbasics.lab.registry import ExperimentUnavailable, run_experiment


@pytest.fixture
def no_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails as if not installed

    def must_not_run(*args, **kwargs):
        raise AssertionError("the experiment ran although its figures cannot be drawn")

    monkeypatch.setattr(registry, "run_in_context", must_not_run)


def test_run_experiment_refuses_before_training(no_matplotlib, tmp_path):
    with pytest.raises(ExperimentUnavailable, match=r"matplotlib.*pip install \"nnbasics\[lab\]\""):
        run_experiment("perceptron", quick=True, progress=False, output=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_cli_exits_2_with_the_install_command(no_matplotlib, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["lab", "perceptron", "--quick", "--no-progress", "--output", str(tmp_path / "p")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and 'pip install "nnbasics[lab]"' in err
