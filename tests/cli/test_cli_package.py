"""The cli package: a command is one module (the package docstring's recipe works as written), every
command module defines COMMAND, options shared by commands are declared once."""

import re
import subprocess
import sys

import pytest

from nnbasics import cli
from nnbasics.cli import _options, build_parser, main


def test_the_docstring_recipe_adds_a_command_with_one_module(tmp_path, monkeypatch, capsys):
    recipe = re.search(r"``nnbasics/cli/hello.py``::\n\n(.*?)\n\n:func:", cli.__doc__, re.DOTALL).group(1)
    source = "\n".join(line[4:] for line in recipe.splitlines()).replace('\\"', '"')
    (tmp_path / "hello.py").write_text(source)
    monkeypatch.setattr(cli, "__path__", [*cli.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "nnbasics.cli.hello", raising=False)
    try:
        assert main(["hello", "Ada"]) == 0
        assert capsys.readouterr().out == "hello Ada\n"
        with pytest.raises(SystemExit) as exc:
            main(["hello", " "])
        assert exc.value.code == 2 and "NAME is empty" in capsys.readouterr().err
        assert "hello" in [c.name for c in cli.commands()]
    finally:
        sys.modules.pop("nnbasics.cli.hello", None)


def test_a_module_without_command_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("X = 1\n")
    monkeypatch.setattr(cli, "__path__", [*cli.__path__, str(tmp_path)])
    try:
        with pytest.raises(TypeError, match=r"nnbasics.cli.broken .* defines no COMMAND"):
            build_parser()
    finally:
        sys.modules.pop("nnbasics.cli.broken", None)


def test_commands_keep_their_order_in_help():
    names = [c.name for c in cli.commands()]
    assert names[:9] == ["xor", "train", "evaluate", "predict", "train-lm", "sample", "datasets", "models", "lab"]


def test_shared_options_are_declared_once():
    """--seed, --lr, --batch-size... of every command come from the one declaration in _options."""
    shared = {o.dest: o for o in vars(_options).values() if isinstance(o, _options.Option)}
    for cmd in cli.commands():
        for opt in cmd.options:
            if opt.dest in shared and opt.flags == shared[opt.dest].flags:
                assert opt.kwargs.get("type") is shared[opt.dest].kwargs.get("type"), (cmd.name, opt.dest)
    parsed = {c.name: c for c in cli.commands()}
    seeds = [o for name in ("train", "train-lm", "xor", "sample", "lab") for o in parsed[name].options
             if o.dest == "seed"]
    assert len(seeds) == 5 and {o.kwargs["type"] for o in seeds} == {_options.non_negative_int}


def test_python_m_nnbasics_and_the_import_of_the_package_stay_light():
    code = ("import sys, nnbasics.cli; nnbasics.cli.build_parser(); "
            "print(sorted(m for m in ('nnbasics.training', 'nnbasics.models', 'nnbasics.data') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout  # building the parser imports no library code
    help_ = subprocess.run([sys.executable, "-m", "nnbasics", "--help"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert help_.returncode == 0 and "train-lm" in help_.stdout
