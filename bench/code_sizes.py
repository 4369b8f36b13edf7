"""Size tables and the import graph of ``src/nnbasics`` in one or more source trees (issue 18).

For every tree given as ``LABEL=PATH`` (a checkout's root, holding ``src/nnbasics``) this
computes, from the files and their ASTs (nothing is imported, so any old tree works):

* **sizes**: modules (``.py`` files), lines of ``src/nnbasics`` (``splitlines``, blank and
  comment lines included), files over 600 lines, functions over 80 lines and the longest
  functions, counted as ``tests/test_sizes.py`` counts them: from the ``def`` (decorators
  included) to the last line, docstring included, methods named ``Class.method``, nested
  functions as ``outer.inner`` (the largest where a name repeats);
* **ruff**: findings of ``ruff check src`` run in the tree (so its own ``pyproject.toml``
  applies) and, with ``--ruff-config``, under one config for every tree (e.g. today's, with
  its extra rules), by rule code;
* **layout**: the top-level folders and modules of ``src/nnbasics``;
* **import graph** between *components*: a subpackage (``ops``, ``kernels``, ``nn``...) is one
  component; the top-level modules form ``core`` (``tensor``, ``autograd``, ``views``...), except
  the seam and helpers named in ``OWN_NODE`` (``dispatch``, ``threads``, ``_validate``,
  ``gradcheck``, and ``cli`` while it was one file) and the package root ``__init__``/``__main__`` (``root``), which stay apart.
  Every ``import``/``from ... import`` naming ``nnbasics`` (absolute or relative, at module
  level or inside a function: a lazy import is still a dependency) is an edge; ``from nnbasics
  import X`` goes to X's component when X is a module, else to ``root`` (the re-exports). An
  edge A -> B is reported with the number of A's modules that import B;
* **watched modules** (``--watch``, default the speed machinery: ``workspace``, ``parallel`` and
  ``kernels``): which modules import a module of that name (for a package, which modules
  outside it import it or anything in it).

Usage::

    git worktree add --detach /tmp/before 44a8475
    python bench/code_sizes.py before=/tmp/before main=. --ruff-config pyproject.toml
    python bench/code_sizes.py before=/tmp/before main=. --json sizes.json

Prints markdown: one size table with a column per tree, the longest functions per tree, the
layout, the graph per tree as an adjacency list, the edges added and removed between
consecutive trees, and the importers of the watched modules.
"""

from __future__ import annotations

import argparse
import ast
import collections
import itertools
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from test_sizes import MAX_FILE_LINES, MAX_FUNCTION_LINES, function_sizes  # the size test's own measure

#: top-level modules kept out of "core": the kernel seam, helpers, and a component still one file (cli.py before cli/)
OWN_NODE = ("dispatch", "threads", "_validate", "gradcheck", "cli")
ROOT_MODULES = ("__init__", "__main__")


# ------------------------------------------------------------------------ sizes
def read_modules(root: pathlib.Path) -> dict:
    """``{relative path: (text, AST)}`` of every ``.py`` file under ``root/src/nnbasics``."""
    pkg = root / "src" / "nnbasics"
    if not pkg.is_dir():
        raise SystemExit(f"{root} holds no src/nnbasics: give the root of a checkout")
    out = {}
    for path in sorted(pkg.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        out[path.relative_to(pkg).as_posix()] = (text, ast.parse(text, filename=str(path)))
    return out


def sizes(modules: dict, longest: int) -> dict:
    """Counts and lists of one tree's files and functions."""
    lines = {rel: len(text.splitlines()) for rel, (text, _) in modules.items()}
    funcs = {f"{rel}:{name}": n for rel, (_, tree) in modules.items() for name, n in function_sizes(tree).items()}
    by_length = sorted(funcs.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"modules": len(modules), "lines": sum(lines.values()), "functions": len(funcs),
            "files_over": sorted(((r, n) for r, n in lines.items() if n > MAX_FILE_LINES), key=lambda kv: -kv[1]),
            "functions_over": [(f, n) for f, n in by_length if n > MAX_FUNCTION_LINES],
            "longest": by_length[:longest], "largest_file": max(lines.items(), key=lambda kv: kv[1])}


def ruff_findings(root: pathlib.Path, config: str | None) -> dict:
    """``{rule code: count}`` of ``ruff check src`` in ``root`` (its own config, or ``config``)."""
    cmd = ["ruff", "check", "src", "--no-cache", "--exit-zero", "--output-format", "json"]
    if config:
        cmd += ["--config", str(pathlib.Path(config).resolve())]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"ruff failed in {root}: {proc.stderr.strip()}")
    return dict(collections.Counter(f["code"] or "syntax" for f in json.loads(proc.stdout)).most_common())


# ------------------------------------------------------------------------ layout and imports
def _module_name(rel: str) -> str:
    """``"ops/conv.py"`` -> ``"ops.conv"``; ``"ops/__init__.py"`` -> ``"ops"``; root -> ``""``."""
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(rel: str, tree: ast.AST, known: set) -> set:
    """Modules (relative to the package) that the module ``rel`` imports from nnbasics."""
    here = _module_name(rel).split(".") if _module_name(rel) else []
    package = here if rel.endswith("__init__.py") else here[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "nnbasics" or alias.name.startswith("nnbasics."):
                    out.add(alias.name.removeprefix("nnbasics").lstrip("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "nnbasics" or node.module.startswith("nnbasics.")):
                mod = node.module.removeprefix("nnbasics").lstrip(".")
            else:
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{mod}.{alias.name}" if mod else alias.name
                out.add(sub if sub in known else mod)
    return out


def node_of(module: str, packages: set) -> str:
    """The graph node of a module (relative to the package): its subpackage, ``root`` (the package's
    ``__init__``/``__main__``), an ``OWN_NODE`` top-level module, or ``core`` (the other top-level ones)."""
    head = module.split(".")[0]
    if head in ("", *ROOT_MODULES):
        return "root"
    if head in packages or head in OWN_NODE:
        return head
    return "core"


def graph(modules: dict) -> dict:
    """``{"edges": {(a, b): modules of a importing b}, "nodes": {...}, "importers": {module: [...]}}``."""
    packages = {rel.split("/")[0] for rel in modules if "/" in rel}
    known = {_module_name(rel) for rel in modules}
    edges, importers = collections.Counter(), collections.defaultdict(set)
    nodes = collections.defaultdict(list)
    for rel, (_, tree) in modules.items():
        me = _module_name(rel)
        a = node_of(me, packages)
        nodes[a].append(rel)
        targets = imports_of(rel, tree, known)
        for t in targets:
            importers[t].add(me or "__init__")
        for b in sorted({node_of(t, packages) for t in targets} - {a}):
            edges[(a, b)] += 1
    return {"edges": dict(edges), "nodes": {k: sorted(v) for k, v in nodes.items()}, "packages": sorted(packages),
            "importers": {k: sorted(v) for k, v in importers.items()}}


def watched(g: dict, names: list) -> dict:
    """``{name: [modules importing a module called name, or anything in a package called name]}``."""
    out, packages = {}, set(g["packages"])
    for name in names:
        hits = set()
        for mod, users in g["importers"].items():
            if mod.split(".")[0] == name and name in packages:  # the package: importers outside it
                hits.update(u for u in users if node_of(u, packages) != name)
            elif mod.split(".")[-1] == name:  # a module: all its importers
                hits.update(u for u in users if u != mod)
        out[name] = sorted(hits)
    return out


def layout(modules: dict) -> dict:
    """Top-level folders (with their module counts) and top-level modules of the package."""
    folders = collections.Counter(rel.split("/")[0] for rel in modules if "/" in rel)
    top = sorted(rel[:-3] for rel in modules if "/" not in rel)
    return {"folders": dict(sorted(folders.items())), "modules": top}


# ------------------------------------------------------------------------ report
def analyse(label: str, root: str, args) -> dict:
    path = pathlib.Path(root)
    modules = read_modules(path)
    commit = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "?"
    g = graph(modules)
    rec = {"label": label, "root": root, "commit": commit, **sizes(modules, args.longest),
           "ruff_own": ruff_findings(path, None), "layout": layout(modules), "graph": g,
           "watched": watched(g, args.watch)}
    if args.ruff_config:
        rec["ruff_config"] = ruff_findings(path, args.ruff_config)
    return rec


def _rules(counts: dict) -> str:
    total = sum(counts.values())
    return f"{total}" + (f" ({', '.join(f'{k} {v}' for k, v in list(counts.items())[:6])}"
                         f"{', ...' if len(counts) > 6 else ''})" if total else "")


def print_sizes(recs: list, args) -> None:
    print("| | " + " | ".join(f"{r['label']} ({r['commit']})" for r in recs) + " |")
    print("|---|" + "---:|" * len(recs))
    rows = [("modules (.py files)", lambda r: r["modules"]), ("lines of src/nnbasics", lambda r: f"{r['lines']:,}"),
            ("functions and methods", lambda r: f"{r['functions']:,}"),
            ("ruff findings in src/ (the tree's own config)", lambda r: _rules(r["ruff_own"]))]
    if args.ruff_config:
        rows.append((f"ruff findings in src/ ({args.ruff_config})", lambda r: _rules(r["ruff_config"])))
    rows += [(f"files over {MAX_FILE_LINES} lines", lambda r: len(r["files_over"])),
             (f"functions over {MAX_FUNCTION_LINES} lines", lambda r: len(r["functions_over"])),
             ("largest file (lines)", lambda r: f"{r['largest_file'][0]} ({r['largest_file'][1]})")]
    for name, get in rows:
        print(f"| {name} | " + " | ".join(str(get(r)) for r in recs) + " |")
    for r in recs:
        print(f"\n{r['label']} ({r['commit']}): files over {MAX_FILE_LINES} lines: "
              + (", ".join(f"{f} ({n})" for f, n in r["files_over"]) or "none"))
        print(f"\n{r['label']} ({r['commit']}), the {len(r['longest'])} longest functions:\n")
        print("| function | lines |\n|---|---:|")
        for f, n in r["longest"]:
            print(f"| `{f}` | {n} |")


def _edge_text(edges: dict, a: str) -> str:
    outs = sorted(((b, n) for (x, b), n in edges.items() if x == a), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{b} ({n})" for b, n in outs) or "-"


def _edges(es) -> str:
    return ", ".join(f"{x} -> {y}" for x, y in sorted(es)) or "none"


def print_graph(recs: list) -> None:
    for r in recs:
        lay = r["layout"]
        print(f"\n{r['label']} ({r['commit']}) layout: folders "
              + ", ".join(f"{k}/ ({n})" for k, n in lay["folders"].items())
              + "; top-level modules " + ", ".join(lay["modules"]))
        print(f"\n{r['label']} ({r['commit']}) imports (component -> components it imports, with the number of its "
              "modules that do):\n")
        print("| component | modules | imports |\n|---|---:|---|")
        nodes = r["graph"]["nodes"]
        for a in sorted(nodes, key=lambda k: (k != "root", k != "core", k)):
            print(f"| {a} | {len(nodes[a])} | {_edge_text(r['graph']['edges'], a)} |")
        print(f"\n{r['label']} ({r['commit']}) importers of the watched modules: "
              + "; ".join(f"{k}: {len(v)} ({', '.join(v) or 'none'})" for k, v in r["watched"].items()))
    for old, new in itertools.pairwise(recs):
        a, b = set(old["graph"]["edges"]), set(new["graph"]["edges"])
        print(f"\nedges {old['label']} -> {new['label']}: added {_edges(b - a)}; removed {_edges(a - b)}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trees", nargs="+", metavar="LABEL=PATH", help="source trees, oldest first")
    p.add_argument("--ruff-config", metavar="PYPROJECT", help="also count ruff findings of every tree under this config")
    p.add_argument("--longest", type=int, default=12, help="how many of the longest functions to list (default 12)")
    p.add_argument("--watch", nargs="*", default=["workspace", "parallel", "kernels"],
                   help="module names whose importers to list (default: workspace parallel kernels)")
    p.add_argument("--json", metavar="PATH", help="also write everything as JSON to PATH")
    args = p.parse_args(argv)
    pairs = [t.partition("=") for t in args.trees]
    if any(not sep or not label or not path for label, sep, path in pairs):
        p.error("each tree is LABEL=PATH, e.g. before=/tmp/before")
    args.trees = [(label, path) for label, _, path in pairs]
    return args


def main(argv=None):
    args = parse_args(argv)
    recs = [analyse(label, path, args) for label, path in args.trees]
    print_sizes(recs, args)
    print_graph(recs)
    if args.json:
        for r in recs:
            r["graph"]["edges"] = {f"{a} -> {b}": n for (a, b), n in r["graph"]["edges"].items()}
        pathlib.Path(args.json).write_text(json.dumps(recs, indent=1) + "\n")
    return recs


if __name__ == "__main__":
    main()
