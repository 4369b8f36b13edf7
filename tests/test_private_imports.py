"""No module of nnbasics reaches into another module's private names (issue 18 item 5).

A leading underscore means "this module's own": a helper two modules share is public in the
module that owns it (in ``nnbasics/_validate.py`` for argument checks), never imported as
``from x import _helper`` nor read as ``x._helper``. A private *module* (``pkg/_impl.py``) is its
package's own: modules inside ``pkg/`` may import it, and use its public names.

The scan reads every ``src/nnbasics`` file with ``ast``: ``from M import _name`` where ``_name``
is not a submodule of ``M``, ``import``-ed module aliases read as ``alias._name``, and private
modules imported from outside their package. ALLOWED lists the justified exceptions, each with
its reason; the test also fails when an allowed entry no longer occurs (so the list only shrinks).
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "nnbasics"

#: (importing file, imported module, name): why it is allowed.
ALLOWED = {
    # The engine's global switches (is a graph being recorded? anomaly mode on?) are read on every op's hot path:
    # a module-level flag read as autograd._RECORDING costs one attribute lookup, a function call several.
    ("ops/elementwise.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per op",
    ("ops/reduce.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per op",
    ("ops/util.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per op",
    ("functional/discrete.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per op",
    ("functional/selection.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per op",
    ("tensor_base.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per item()/bool()",
    ("rng.py", "nnbasics.autograd", "_RECORDING"): "the engine's recording flag, read per random draw",
    ("anomaly.py", "nnbasics.autograd", "_ANOMALY"): "anomaly mode is the engine's flag; anomaly.py switches it",
    ("nn/module.py", "nnbasics.autograd", "_ANOMALY"): "a module's forward names itself in anomaly reports",
    # torchvision's transforms draw from torch's global random stream and read its dtype table, as in PyTorch
    # (torchvision uses torch.random); both namespaces are one compatibility layer.
    ("compat/torchvision/transforms/transforms.py", "nnbasics.compat.torch", "_random"): "torch's global stream",
    ("compat/torchvision/transforms/transforms.py", "nnbasics.compat.torch._dtypes", "resolve_dtype"): "torch's dtypes",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    path = SRC.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private_module_outside(target: str, importer: str) -> bool:
    """``target`` has a private component whose package does not contain ``importer``."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if _private(part):
            owner = ".".join(parts[:i])
            return not (importer == owner or importer.startswith(owner + "."))
    return False


def _violations(path: Path) -> set:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, aliases = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(node, package)
            if not target.startswith("nnbasics"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if _is_module(full):
                    aliases[alias.asname or alias.name] = full
                    if _private_module_outside(full, module):
                        found.add((target, alias.name))
                elif (_private(alias.name) and target != module) or _private_module_outside(target, module):
                    found.add((target, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nnbasics"):
                    if _private_module_outside(alias.name, module):
                        found.add((alias.name, ""))
                    if alias.asname:
                        aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and _private(node.attr) and not _is_module(f"{aliases[node.value.id]}.{node.attr}")):
            found.add((aliases[node.value.id], node.attr))
    return {(str(path.relative_to(PACKAGE)), target, name) for target, name in found}


def _all_violations() -> set:
    out = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        out |= _violations(path)
    return out


def test_no_module_uses_another_modules_private_names():
    found = _all_violations()
    new = sorted(found - set(ALLOWED))
    assert not new, "private names used across modules (make the helper public in its owner, or move it):\n" + "\n".join(
        f"  {f}: {target}.{name}" for f, target, name in new)
    stale = sorted(set(ALLOWED) - found)
    assert not stale, f"ALLOWED entries that no longer occur (remove them): {stale}"


def test_the_scan_sees_each_kind_of_violation(tmp_path, monkeypatch):
    """The rule can fail: a private name imported, a module's private attribute read, a private module from outside."""
    pkg = tmp_path / "nnbasics"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "_impl.py").write_text("def helper(): ...\n")
    (pkg / "a.py").write_text("def _helper(): ...\n")
    (pkg / "sub" / "ok.py").write_text("from . import _impl\nfrom ._impl import helper\nfrom ..a import __doc__\n")
    (pkg / "b.py").write_text("from .a import _helper\nfrom . import a\na._helper()\nfrom .sub import _impl\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    assert _violations(pkg / "sub" / "ok.py") == set()
    assert _violations(pkg / "b.py") == {("b.py", "nnbasics.a", "_helper"), ("b.py", "nnbasics.sub", "_impl")}
