"""Run a guide as written: the ```python blocks of a markdown file, in order, in one namespace.

Every guide in docs/ is executed by a test through :func:`run_guide`, so the documentation's code
cannot rot; the test then checks that what the prose claims comes out.
"""

import pathlib
import re

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def code_blocks(text: str, lang: str = "python") -> list:
    """The bodies of the fenced ```lang blocks of ``text``, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def run_guide(name: str, *, min_blocks: int = 1) -> dict:
    """Execute docs/<name>'s python blocks in order in one namespace; return the namespace."""
    path = DOCS / name
    blocks = code_blocks(path.read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks, f"{name} lost its code blocks ({len(blocks)} < {min_blocks})"
    ns = {"__name__": path.stem.replace("-", "_") + "_guide"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{path.name} block {k}", "exec"), ns)  # noqa: S102 - our own documentation
    return ns
