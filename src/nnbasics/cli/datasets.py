"""``nnbasics datasets``: every dataset ``train`` accepts, and where its files are (never touches the network)."""

from __future__ import annotations

import json

from ._command import Command
from ._options import Option

OPTIONS = [
    Option("data_root", ("--data-root",), {"metavar": "DIR", "help": "directory searched first"}),
    Option("json", ("--json",), {"action": "store_true", "help": "print JSON instead of a table"}, False),
]


def run(args) -> int:
    """Print one line per dataset (kind, where its files are, how to get missing ones), or JSON."""
    from ..data import available_datasets

    rows = available_datasets(root=args.data_root)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        missing = [split for split, p in (r["splits"] or {}).items() if not p]
        if r["kind"] == "generated":
            where = "(generated on demand)"
        elif not missing:
            where = r["location"]
        else:
            where = (f"partial ({', '.join(missing)} missing): {r['location']}" if r["location"] else "not found")
        print(f"{r['name']:<{width}}  {r['kind']:<9}  {where}  -- {r['description']}")
        if missing:
            print(f"{'':<{width}}  {'':<9}  get it: {how_to_get(r['name'])}")
    return 0


def how_to_get(name) -> str:
    """One line: the ways to make a file dataset available."""
    from ..data import cache_dir
    from ..data.catalog import DATASETS
    from ..data.sources import SOURCES

    src = SOURCES[DATASETS[name].source]
    files = ", ".join(dict.fromkeys(src.splits["train"] + src.splits["test"]))
    ways = [f"downloaded from {src.mirrors[0]} and SHA-256-checked on first use (`nnbasics train {name}`)"]
    if src.hint:
        ways.append(src.hint.rstrip("."))
    ways.append(f"or put {files} in $NNBASICS_DATA/{src.name}/, {cache_dir() / src.name}/ or --data-root")
    return "; ".join(ways)


COMMAND = Command(
    "datasets", run, OPTIONS, order=70,
    help="the datasets known here: generated, or files found and where",
    description="List every dataset `nnbasics train` accepts, whether it can be used without a "
                "download, and where its files are. Never touches the network.",
)
