"""``nnbasics models``: the registered model names ``train --model`` and spec files accept."""

from __future__ import annotations

import json

from ._command import Command
from ._options import Option

OPTIONS = [
    Option("json", ("--json",), {"action": "store_true", "help": "print JSON instead of a table"}, False),
]


def run(args) -> int:
    """Print each model's name and description, or JSON."""
    from ..models import available_models

    models = available_models()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    width = max(map(len, models))
    for name, description in models.items():
        print(f"{name:<{width}}  {description}")
    return 0


COMMAND = Command(
    "models", run, OPTIONS, order=80,
    help="the registered models, with descriptions",
    description="List the model names `nnbasics train --model` and spec files accept.",
)
