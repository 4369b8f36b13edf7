"""Every example in a docstring of ``src/nnbasics`` runs and prints what it shows (STYLE.md: docstrings
with shapes and formulas, and examples a learner can paste).

An example that no longer holds teaches the wrong thing, and nothing else checks it: pytest's
``--doctest-modules`` cannot import the ``compat`` namespace packages by path, so the examples are
found through the importable module names and run with :mod:`doctest` (``ELLIPSIS`` and
``NORMALIZE_WHITESPACE``, as in the docstrings).
"""

import doctest
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nnbasics"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _with_examples():
    """The module names whose source holds an example (``>>>``), read without importing."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("nnbasics",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__main__" or not re.search(r"^\s*>>> ", path.read_text(encoding="utf-8"), re.MULTILINE):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", _with_examples())
def test_docstring_examples_run(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):  # each example sees its module's globals, as in pytest
        if test.filename is None or Path(test.filename).resolve() != Path(module.__file__).resolve():
            continue  # an object imported from another module is checked there
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{name}: {failed} of {attempted} docstring examples do not print what they show"


def test_a_wrong_example_fails(tmp_path):
    """The runner above reports a docstring example whose output differs (the check can fail)."""
    def f():
        """
        >>> 1 + 1
        3
        """
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(f, "f", globs={}):
        runner.run(test, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1
