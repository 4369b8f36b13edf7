"""Render a :class:`~nnbasics.lab.report.Report` as self-contained HTML and as Markdown.

The HTML needs nothing but a browser: figures are base64 ``data:image/png`` URIs, the CSS
is inline, there are no scripts and no links out. Every piece of text is escaped with
:func:`html.escape` before the small Markdown subset (``**bold**``, ``*em*``, `` `code` ``,
``- `` lists) is turned into tags.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import re

__all__ = ["HtmlCheck", "check_html", "format_value", "render_html", "render_markdown"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;
color:#222;line-height:1.5}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
blockquote{margin:1em 0;padding:.6em 1em;border-left:4px solid #888;background:#f6f6f6;font-size:1.1em}
.verdict{display:inline-block;padding:.25em .8em;border-radius:1em;color:#fff;font-weight:bold}
.supported{background:#2e7d32}.not-supported{background:#c62828}.inconclusive{background:#757575}
.none{background:#9e9e9e}
figure{margin:1.2em 0;text-align:center}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.92em;color:#444;text-align:left}
table{border-collapse:collapse;margin:1em 0;font-size:.93em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}caption{caption-side:bottom;font-size:.9em;color:#555;padding:.3em}
code,pre{background:#f4f4f4;font-family:Menlo,Consolas,monospace;font-size:.9em}
pre{padding:.6em;overflow-x:auto}.muted{color:#666;font-size:.9em}
"""


def format_value(v) -> str:
    """A number as a reader wants it: 4 significant digits, scientific when tiny or huge."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}" if abs(int(v)) >= 10000 else str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        if x == 0:
            return "0"
        if abs(x) < 1e-3 or abs(x) >= 1e6:
            return f"{x:.3g}"
        return f"{x:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


def _inline(text: str) -> str:
    """Escape, then ``code``, **bold**, *em*."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            p = html.escape(part)
            p = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", p)
            p = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", p)
            out.append(p)
    return "".join(out)


def _paragraphs(text: str) -> str:
    html_parts = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if lines and all(ln.lstrip().startswith(("- ", "* ")) for ln in lines):
            items = "".join(f"<li>{_inline(ln.lstrip()[2:])}</li>" for ln in lines)
            html_parts.append(f"<ul>{items}</ul>")
        elif block.strip():
            html_parts.append(f"<p>{_inline(' '.join(ln.strip() for ln in lines))}</p>")
    return "\n".join(html_parts)


def _badge(report) -> str:
    verdict = report.verdict or "no verdict"
    cls = {"supported": "supported", "not supported": "not-supported", "inconclusive": "inconclusive"}.get(
        report.verdict, "none")
    return f'<span class="verdict {cls}">{html.escape(verdict)}</span>'


def _table_html(headers, rows, caption="") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_inline(format_value(c))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(f) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    alt = html.escape(f.caption or f.name, quote=True)
    cap = f"<figcaption><strong>{html.escape(f.name)}</strong>: {_inline(f.caption)}</figcaption>" \
        if f.caption else f"<figcaption>{html.escape(f.name)}</figcaption>"
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">{cap}</figure>'


def _config_rows(config: dict):
    return [[k, v if isinstance(v, (int, float, bool, str)) or v is None else json.dumps(v)]
            for k, v in config.items() if k not in ("command", "versions")]


def render_html(report) -> str:
    """The report as one self-contained HTML page (a str)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="muted">nnbasics lab experiment <code>{e(report.name)}</code></p>',
        f"<blockquote>{_inline(report.claim)}</blockquote>",
        f'<p><strong>Verdict:</strong> {_badge(report)} {_inline(report.because)}</p>',
    ]
    if report.data_note:
        parts.append(f"<h2>Data</h2><p>{_inline(report.data_note)}</p>")
    for kind, payload in report.blocks:
        if kind == "text":
            parts.append(_paragraphs(payload))
        elif kind == "section":
            parts.append(f"<h2>{e(payload)}</h2>")
        elif kind == "figure":
            parts.append(_figure_html(payload))
        elif kind == "table":
            parts.append(_table_html(payload.headers, payload.rows, payload.caption))
    if report.findings:
        parts.append("<h2>Findings</h2><ul>" + "".join(f"<li>{_inline(t)}</li>" for t in report.findings) + "</ul>")
    headline = report.headline
    if headline:
        parts.append("<h2>Headline numbers</h2>" + _table_html(["metric", "value"], [[k, v] for k, v in
                                                                                   headline.items()]))
        if report.metrics.get("nonfinite"):
            parts.append(f'<p class="muted">Non-finite values (shown as n/a): '
                         f'{e(", ".join(report.metrics["nonfinite"]))}</p>')
    if report.subreports:
        rows = [[f"{folder}/report.html", sub.title, sub.verdict or "no verdict"] for folder, sub in report.subreports]
        parts.append("<h2>Sub-reports</h2><p>Each written in full beside this page:</p>"
                     + _table_html(["folder", "study", "verdict"], rows))
    if report.timings:
        parts.append("<h2>Timings</h2>" + _table_html(["what", "seconds"], [[k, v] for k, v in
                                                                           report.timings.items()]))
    if report.config:
        parts.append("<h2>Reproduce</h2>")
        if report.config.get("command"):
            parts.append(f"<p>Rerun with:</p><pre>{e(str(report.config['command']))}</pre>")
        parts.append(_table_html(["setting", "value"], _config_rows(report.config)))
        versions = report.config.get("versions") or {}
        if versions:
            parts.append("<p>Versions: " + ", ".join(f"{e(str(k))} {e(str(v))}" for k, v in versions.items())
                         + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_table(headers, rows, caption="") -> str:
    def cell(v):
        return format_value(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    if caption:
        lines += ["", f"*{caption}*"]
    return "\n".join(lines)


def render_markdown(report) -> str:
    """The report as Markdown; figures link to ``figures/<name>.png``."""
    out = [f"# {report.title}", "", f"> {report.claim}", "",
           f"**Verdict: {report.verdict or 'no verdict'}** — {report.because}", ""]
    if report.data_note:
        out += ["## Data", "", report.data_note, ""]
    for kind, payload in report.blocks:
        if kind == "text":
            out += [payload.strip(), ""]
        elif kind == "section":
            out += [f"## {payload}", ""]
        elif kind == "figure":
            out += [f"![{payload.caption or payload.name}](figures/{payload.name}.png)", ""]
            if payload.caption:
                out += [f"*{payload.caption}*", ""]
        elif kind == "table":
            out += [_md_table(payload.headers, payload.rows, payload.caption), ""]
    if report.findings:
        out += ["## Findings", ""] + [f"- {t}" for t in report.findings] + [""]
    if report.headline:
        out += ["## Headline numbers", "", _md_table(["metric", "value"], list(report.headline.items())), ""]
    if report.subreports:
        out += ["## Sub-reports", ""] + [f"- [{sub.title}]({folder}/report.md): {sub.verdict}"
                                         for folder, sub in report.subreports] + [""]
    if report.timings:
        out += ["## Timings", "", _md_table(["what", "seconds"], list(report.timings.items())), ""]
    if report.config:
        out += ["## Reproduce", ""]
        if report.config.get("command"):
            out += ["```", str(report.config["command"]), "```", ""]
        out += [_md_table(["setting", "value"], _config_rows(report.config)), ""]
        versions = report.config.get("versions") or {}
        if versions:
            out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return "\n".join(out)


class HtmlCheck:
    """What :func:`check_html` found: the embedded PNGs, the visible text and any problems.

    Attributes:
        images: decoded bytes of every ``<img>``'s data URI, in page order.
        text: the page's visible text (tags stripped, whitespace collapsed).
        problems: why the page is not self-contained (empty when it is).
    """

    def __init__(self):
        self.images: list[bytes] = []
        self.text = ""
        self.problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems


def check_html(page: str) -> HtmlCheck:
    """Check that an HTML page stands alone: the structural test of a report (no browser needed).

    Problems reported: an ``<img>`` whose ``src`` is not a ``data:image/png;base64,`` URI or
    whose bytes are not a PNG; any ``<script>``, ``<link>``, ``<iframe>``, ``<object>`` or
    ``<embed>``; any ``src``/``href`` pointing outside the page (anything but ``#anchors`` and
    ``data:`` URIs); CSS ``url(...)`` or ``@import``.

    Returns:
        HtmlCheck.
    """
    from html.parser import HTMLParser

    result = HtmlCheck()
    chunks = []

    class _Parser(HTMLParser):
        in_style = False

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag in ("script", "link", "iframe", "object", "embed", "base"):
                result.problems.append(f"<{tag}> element: {attrs}")
            if tag == "style":
                self.in_style = True
            for key in ("src", "href", "srcset", "poster", "action", "data"):
                val = attrs.get(key)
                if val is None:
                    continue
                if tag == "img" and key == "src":
                    prefix = "data:image/png;base64,"
                    if not val.startswith(prefix):
                        result.problems.append(f"<img> src is not an embedded PNG: {val[:60]!r}")
                        continue
                    try:
                        data = base64.b64decode(val[len(prefix):], validate=True)
                    except ValueError:
                        result.problems.append("<img> src holds invalid base64")
                        continue
                    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
                        result.problems.append("<img> data is not a PNG (no PNG signature)")
                    result.images.append(data)
                elif not val.startswith(("#", "data:")):
                    result.problems.append(f"<{tag} {key}={val[:60]!r}> refers outside the page")
            if tag == "img" and "src" not in attrs:
                result.problems.append("<img> without src")

        def handle_endtag(self, tag):
            if tag == "style":
                self.in_style = False

        def handle_data(self, data):
            if self.in_style:
                if re.search(r"url\s*\(|@import", data):
                    result.problems.append("CSS refers to an external resource (url() or @import)")
            else:
                chunks.append(data)

    _Parser(convert_charrefs=True).feed(page)
    result.text = " ".join(" ".join(chunks).split())
    return result
