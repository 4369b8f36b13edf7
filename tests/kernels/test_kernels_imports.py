"""The seam holds: speed techniques live in nnbasics/kernels, and nothing else imports that package.

Read from the source (every import statement of every module under src/nnbasics, relative
imports resolved), so a new import anywhere is caught without running it.
"""

from __future__ import annotations

import ast
import pathlib

import nnbasics

SRC = pathlib.Path(nnbasics.__file__).resolve().parent
#: The modules of speed techniques; each lives in nnbasics/kernels and is imported only there.
TECHNIQUES = ("workspace", "parallel", "refcount")


def _module_name(path: pathlib.Path) -> str:
    parts = ("nnbasics",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
    """Absolute names of everything ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


def _files():
    return sorted(p for p in SRC.rglob("*.py"))


def test_the_import_scanner_sees_relative_and_absolute_imports(tmp_path):
    names = set(_imports(SRC / "kernels" / "elementwise.py"))
    assert "nnbasics.dispatch.register" in names and "nnbasics.ops.elementwise" in names


def test_nothing_outside_kernels_imports_the_kernels():
    bad = []
    for path in _files():
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("kernels/"):
            continue
        for name in _imports(path):
            if name == "nnbasics.kernels" and rel == "__init__.py":
                continue  # the package root imports it once, to register every kernel
            if name == "nnbasics.kernels" or name.startswith("nnbasics.kernels."):
                bad.append(f"{rel} imports {name}")
    assert not bad, "only nnbasics/__init__.py may import nnbasics.kernels:\n" + "\n".join(bad)


def test_speed_techniques_are_imported_only_inside_kernels():
    strays = [p.relative_to(SRC).as_posix() for p in _files() if p.stem in TECHNIQUES and p.parent.name != "kernels"]
    assert not strays, f"speed techniques outside nnbasics/kernels: {strays}"
    bad = []
    for path in _files():
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("kernels/"):
            continue
        for name in _imports(path):
            if name.rpartition(".")[2] in TECHNIQUES and name.startswith("nnbasics."):
                bad.append(f"{rel} imports {name}")
    assert not bad, ("workspace, parallel and refcount are for nnbasics/kernels only (thread settings: "
                     "nnbasics.threads):\n" + "\n".join(bad))
