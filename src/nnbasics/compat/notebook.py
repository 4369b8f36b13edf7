"""A Jupyter notebook as one Python script: its code cells in order, IPython syntax commented out.

Only the JSON of the ``.ipynb`` file is read (no nbformat/nbconvert needed). Lines IPython would
treat specially -- magics (``%matplotlib inline``, ``%%time``), shell escapes (``!pip install``) and
help (``x?``) -- become comments, so line numbers in messages still match the cell's text. A
cell's last expression is not echoed (as ``jupyter nbconvert --to script`` does not).
"""

from __future__ import annotations

import json
import re

__all__ = ["notebook_source"]

_IPY_LINE = re.compile(r"^\s*(%|!|\?)|\?\s*$")


def _cell_lines(source) -> list:
    text = "".join(source) if isinstance(source, list) else str(source)
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
        return ["# (cell magic) " + ln for ln in lines]
    return [("# (IPython) " + ln) if _IPY_LINE.search(ln) else ln for ln in lines]


def notebook_source(path) -> str:
    """The code cells of the notebook at ``path`` joined into one script (``# In[k]:`` between cells)."""
    from .runner import ScriptError

    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as e:
        raise ScriptError(f"{path}: not a readable Jupyter notebook ({e}).") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ScriptError(f"{path}: no 'cells' list; only nbformat 4 notebooks are supported.")
    out = []
    for k, cell in enumerate(cells, 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            out.append(f"# In[{k}]:")
            out.extend(_cell_lines(cell.get("source", "")))
            out.append("")
    return "\n".join(out) + "\n"
