"""``Report``: what one lab experiment found, written as a self-contained folder.

An experiment builds a :class:`Report` as it measures: paragraphs, sections, figures
(matplotlib Figures, kept as PNG bytes), tables, findings, headline metrics, and at the
end a verdict computed from the measurements (:meth:`Report.conclude`). :meth:`Report.write`
turns it into a folder::

    report.html    self-contained: PNGs as base64 data URIs, inline CSS, no scripts or links out
    report.md      the same text; figures linked from figures/
    figures/*.png
    metrics.json   verdict, because, metrics (non-finite -> null), timings, findings
    config.json    the exact config, seeds, versions and command to rerun it

The folder is built in a version store beside it and published by renaming a symlink over it
(:mod:`nnbasics.lab.publish`): readers see the old report or the new one, complete, even while a
writer is killed; concurrent writers are serialized by a lock file.

Example:
    >>> r = Report("demo", "A demo", "Two plus two is four.")
    >>> r.metric("sum", 2 + 2)
    >>> r.conclude(r.metrics["sum"] == 4, because="2 + 2 = 4 measured")
    >>> r.verdict
    'supported'
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["VERDICTS", "Report", "check_output_folder", "humanize", "json_safe"]

#: ``conclude(True/False/None)`` -> verdict string.
VERDICTS = {True: "supported", False: "not supported", None: "inconclusive"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_REPORT_FILES = ("report.html", "report.md", "metrics.json", "config.json")


def json_safe(value, _nonfinite=None, _key=""):
    """``value`` as plain JSON types: NumPy scalars/arrays to Python, non-finite floats to None.

    Args:
        value: nested dicts/lists/tuples of numbers, strings, bools, None, NumPy scalars/arrays.
        _nonfinite: a list that collects the dotted keys of the non-finite floats replaced.

    Returns:
        the converted value (dict keys become strings).

    Raises:
        TypeError: for anything else (a Tensor, an object), naming the key.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isfinite(v):
            return v
        if _nonfinite is not None:
            _nonfinite.append(_key)
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): json_safe(v, _nonfinite, f"{_key}.{k}" if _key else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, _nonfinite, f"{_key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"Report: value of {_key or 'metric'!r} must be a number, string, bool, None or a list/dict of "
                    f"them; got {type(value).__name__}. Convert it first (e.g. float(x), x.tolist()).")


@dataclass
class FigureEntry:
    """One figure: its file name (without .png), caption, PNG bytes and readability problems.

    ``problems`` lists what :func:`nnbasics.lab.figcheck.check_figure` found in the Figure
    before it was rendered (empty for a good figure, and for PNG bytes given directly).
    """

    name: str
    caption: str
    png: bytes
    problems: tuple = ()


@dataclass
class TableEntry:
    """One table: headers, rows of cells (any values; rendered with :func:`format_value`), caption."""

    headers: list
    rows: list
    caption: str = ""


class Report:
    """The record of one experiment: claim, data, figures, tables, numbers and verdict.

    Args:
        name: the experiment's name (``"perceptron"``); a folder-safe word.
        title: a one-line title.
        claim: the lecture's claim in words (quoted where possible).

    Attributes:
        blocks: the body in order, ``(kind, payload)`` with kind in
            ``"text" | "section" | "figure" | "table"``.
        figures, tables: the :class:`FigureEntry` / :class:`TableEntry` objects, in order.
        metrics: headline numbers, JSON-safe (non-finite floats are None and their keys are
            listed in ``metrics["nonfinite"]``).
        findings: plain-language sentences.
        verdict, because: set by :meth:`conclude` (None / "" before).
        config: filled by the runner (experiment, quick, seed, data, versions, command).
        data_note: which data was used and why (the runner copies ``ctx.data_note`` here).
        timings: seconds, e.g. ``{"wall_s": 8.1, "cpu_s": 9.9}`` (filled by the runner;
            experiments may add their own keys).
        subreports: ``[(folder, Report)]`` written into subfolders (the ``hinton`` study).
        labels: ``{metric key: words}`` for the headline metrics shown on the page (the raw
            keys stay in ``metrics.json``).
        parts: the verdict's parts, ``[{"label", "verdict", "because", "link"}]`` (shown under
            the verdict; the ``hinton`` study's four reasons).
        rule: how the verdict was decided, in words (shown under the verdict).
        references: ``[(citation, url)]``, the papers the report cites (linked on the page).
        path: the written ``report.html`` (None until :meth:`write`).

    Example:
        >>> r = Report("xor", "XOR", "A single layer cannot learn XOR.")
        >>> r.section("Result"); r.table(["model", "accuracy"], [["perceptron", 0.5]])
        >>> r.conclude(False, "the perceptron reached 100%")
        >>> r.verdict, len(r.tables)
        ('not supported', 1)
    """

    def __init__(self, name: str, title: str, claim: str):
        for what, v in (("name", name), ("title", title), ("claim", claim)):
            if not isinstance(v, str) or not v.strip():
                raise ValueError(f"Report: {what} must be a non-empty string; got {v!r}.")
        if not _NAME.match(name):
            raise ValueError(f"Report: name must be letters, digits, '_', '-' or '.' (a folder name); got {name!r}.")
        self.name, self.title, self.claim = name, title, claim
        self.blocks: list = []
        self.figures: list[FigureEntry] = []
        self.tables: list[TableEntry] = []
        self.metrics: dict = {}
        self.findings: list[str] = []
        self.verdict: str | None = None
        self.because: str = ""
        self.config: dict = {}
        self.data_note: str = ""
        self.timings: dict = {}
        self.subreports: list = []
        self.labels: dict = {}
        self.parts: list = []
        self.rule: str = ""
        self.references: list = []
        self.path = None  # report.html once written

    def __repr__(self) -> str:
        return (f"Report({self.name!r}, verdict={self.verdict!r}, figures={len(self.figures)}, "
                f"tables={len(self.tables)}, metrics={len(self.metrics)})")

    # ------------------------------------------------------------ body
    def text(self, markdown: str) -> None:
        """Add a paragraph (a small Markdown subset: ``**bold**``, ``*em*``, `` `code` ``, ``- `` lists)."""
        self.blocks.append(("text", _check_str("text", markdown)))

    def section(self, heading: str, text: str = "") -> None:
        """Start a section with ``heading``; ``text`` is an optional first paragraph."""
        self.blocks.append(("section", _check_str("section heading", heading)))
        if text:
            self.text(text)

    def figure(self, fig, name: str, caption: str = "") -> None:
        """Add a figure; saved as ``figures/<name>.png`` on :meth:`write`.

        Args:
            fig: a matplotlib Figure (rendered to PNG now, then closed), or PNG bytes
                (e.g. a sub-report's figure).
            name: file name without extension, unique in this report.
            caption: what the figure shows and what to look for.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"Report.figure: name must be letters, digits, '_', '-' or '.'; got {name!r}.")
        if any(f.name == name for f in self.figures):
            raise ValueError(f"Report.figure: a figure named {name!r} is already in report {self.name!r}; "
                             "give each figure its own name.")
        problems = ()
        if isinstance(fig, (bytes, bytearray)):
            png = bytes(fig)
            if not png.startswith(_PNG_SIGNATURE):
                raise ValueError("Report.figure: bytes given are not a PNG image (no PNG signature).")
        elif hasattr(fig, "savefig"):
            from .figcheck import check_figure

            problems = tuple(check_figure(fig))
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            png = buf.getvalue()
            import matplotlib.pyplot as plt

            plt.close(fig)
        else:
            raise TypeError(f"Report.figure: fig must be a matplotlib Figure or PNG bytes; got {type(fig).__name__}.")
        entry = FigureEntry(name, _check_str("caption", caption, empty=True), png, problems)
        self.figures.append(entry)
        self.blocks.append(("figure", entry))

    def table(self, headers, rows, caption: str = "") -> None:
        """Add a table. ``rows`` is a list of lists, each as long as ``headers``."""
        headers = [str(h) for h in headers]
        rows = [list(r) for r in rows]
        for i, r in enumerate(rows):
            if len(r) != len(headers):
                raise ValueError(f"Report.table: row {i} has {len(r)} cells, expected {len(headers)} "
                                 f"(one per header {headers}).")
        entry = TableEntry(headers, rows, _check_str("caption", caption, empty=True))
        self.tables.append(entry)
        self.blocks.append(("table", entry))

    # ------------------------------------------------------ results
    def metric(self, key: str, value, label: str | None = None) -> None:
        """Record a number under a stable ``key`` (tests, ``metrics.json`` and the CLI read them).

        NumPy values become Python ones; a non-finite float is stored as None and ``key``
        is added to ``metrics["nonfinite"]``.

        Args:
            key: a stable dotted name (``"deep.loss_ratio.he"``).
            value: a number, string, bool, None or a list/dict of them.
            label: the number's name in words (``"30-layer ReLU net, He: final / initial loss"``):
                a labelled metric is a headline number, shown on the page under its label;
                the others are in ``metrics.json`` only.
        """
        if not isinstance(key, str) or not key or key == "nonfinite":
            raise ValueError(f"Report.metric: key must be a non-empty string other than 'nonfinite'; got {key!r}.")
        if label is not None:
            self.labels[key] = _check_str("label", label)
        bad = []
        self.metrics[key] = json_safe(value, bad, key)
        nonfinite = [k for k in self.metrics.get("nonfinite", []) if k != key and not k.startswith(key + ".")
                     and not k.startswith(key + "[")]
        nonfinite += bad
        if nonfinite:
            self.metrics["nonfinite"] = nonfinite
        else:
            self.metrics.pop("nonfinite", None)

    def finding(self, text: str) -> None:
        """Add one plain-language finding ("the 20-layer sigmoid net's first layer gets 1e-9 of ...")."""
        self.findings.append(_check_str("finding", text))

    def reference(self, citation: str, url: str) -> None:
        """Cite a paper: listed, with a link to ``url`` (http or https), under "References"."""
        url = _check_str("url", url)
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"Report.reference: url must start with http:// or https://; got {url!r}.")
        self.references.append((_check_str("citation", citation), url))

    def conclude(self, supported, because: str, *, parts=None, rule: str = "") -> None:
        """Set the verdict from the measurements.

        Args:
            supported: True ("supported"), False ("not supported") or None ("inconclusive").
            because: the measured reason, with numbers.
            parts: optional verdicts of the claim's parts, shown under the verdict: a list of
                dicts with ``label``, ``verdict`` (a verdict string, or True/False/None),
                ``because`` and optionally ``link`` (a relative page).
            rule: how the verdict was decided (see :func:`nnbasics.lab.stats.rule_text`).
        """
        if isinstance(supported, np.bool_):
            supported = bool(supported)
        if supported not in (True, False, None) or isinstance(supported, numbers.Number) and \
                not isinstance(supported, bool):
            raise TypeError(f"Report.conclude: supported must be True, False or None; got {supported!r}.")
        self.verdict = VERDICTS[supported]
        self.because = _check_str("because", because)
        self.rule = _check_str("rule", rule, empty=True)
        self.parts = []
        for p in parts or []:
            v = p.get("verdict")
            v = VERDICTS[v] if v in (True, False, None) and not isinstance(v, str) else str(v)
            self.parts.append({"label": _check_str("part label", p["label"]), "verdict": v,
                               "because": str(p.get("because", "")), "link": p.get("link")})

    @property
    def headline(self) -> dict:
        """The headline numbers: the labelled metrics (all scalar metrics when none is labelled)."""
        if self.labels:
            return {k: self.metrics[k] for k in self.labels if k in self.metrics}
        return {k: v for k, v in self.metrics.items() if k != "nonfinite" and not isinstance(v, (list, dict))}

    def headline_rows(self) -> list:
        """``[(words, value, key)]`` of the headline numbers, in the order they were recorded."""
        return [(self.labels.get(k) or humanize(k), v, k) for k, v in self.headline.items()]

    def to_dict(self) -> dict:
        """What ``metrics.json`` holds."""
        return json_safe({
            "name": self.name, "title": self.title, "claim": self.claim, "verdict": self.verdict,
            "because": self.because, "data": self.data_note, "metrics": self.metrics, "timings": self.timings,
            "findings": self.findings, "figures": [f.name for f in self.figures],
            "subreports": {folder: sub.verdict for folder, sub in self.subreports},
            "parts": self.parts, "rule": self.rule, "labels": self.labels,
            "references": [{"citation": c, "url": u} for c, u in self.references],
        })

    # ---------------------------------------------------------- write
    def write(self, directory) -> Path:
        """Write the report folder (atomically) and return the path of ``report.html``.

        The folder is built beside the target and published with one rename of a symlink
        (:func:`nnbasics.lab.publish.publish`): a reader of ``directory`` sees the earlier report
        or this one, complete, at every moment, and a crash or kill leaves the earlier one.
        Concurrent writers to the same folder are serialized by a lock file; the last one wins.

        Args:
            directory: the folder to create. If it exists it must be empty or hold an
                earlier report (it is then replaced); anything else is refused.

        Returns:
            Path to ``<directory>/report.html``.

        Raises:
            OutputError (a ValueError): the folder cannot take a report; nothing was changed.
        """
        from .publish import publish

        target = publish(directory, self._write_into, accept=check_output_folder)
        self.path = target / "report.html"
        return self.path

    def _write_into(self, folder: Path) -> None:
        from .html import render_html, render_markdown
        from .publish import write_file

        folder = Path(folder)
        figdir = folder / "figures"
        os.mkdir(figdir)
        for f in self.figures:
            write_file(figdir / f"{f.name}.png", f.png)
        for sub_folder, sub in self.subreports:
            os.mkdir(folder / sub_folder)
            sub._write_into(folder / sub_folder)
        write_file(folder / "report.html", render_html(self).encode("utf-8"))
        write_file(folder / "report.md", render_markdown(self).encode("utf-8"))
        write_file(folder / "metrics.json",
                   (json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n").encode("utf-8"))
        write_file(folder / "config.json",
                   (json.dumps(json_safe(self.config), indent=2, allow_nan=False) + "\n").encode("utf-8"))

    def add_subreport(self, folder: str, report: Report) -> None:
        """Write ``report`` into ``<this report>/<folder>/`` too (a study made of experiments)."""
        if not isinstance(report, Report):
            raise TypeError(f"Report.add_subreport: expected a Report; got {type(report).__name__}.")
        if not isinstance(folder, str) or not _NAME.match(folder) or folder == "figures":
            raise ValueError(f"Report.add_subreport: folder must be a simple name other than 'figures'; "
                             f"got {folder!r}.")
        self.subreports.append((folder, report))


def humanize(key: str) -> str:
    """A raw key in words: ``"deep.loss_ratio.he"`` -> ``"deep, loss ratio, he"``; ``"wall_s"`` -> ``"wall (s)"``."""
    key = str(key)
    unit = ""
    if key.endswith("_s"):
        key, unit = key[:-2], " (s)"
    return ", ".join(part.replace("_", " ") for part in key.split(".")) + unit


def check_output_folder(folder) -> str | None:
    """Why an existing real folder may not be replaced by a report (None: it is empty or holds one)."""
    folder = Path(folder)
    entries = list(folder.iterdir())
    if entries and not any((folder / f).exists() for f in _REPORT_FILES):
        return (f"{folder} is not empty and holds no earlier report; refusing to replace it. Choose an empty or "
                "new output folder.")
    return None


def _check_str(what, value, empty=False):
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise TypeError(f"Report: {what} must be a {'' if empty else 'non-empty '}string; got {value!r}.")
    return value
