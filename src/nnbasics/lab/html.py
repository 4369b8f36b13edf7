"""Render a :class:`~nnbasics.lab.report.Report` as self-contained HTML and as Markdown.

The HTML needs nothing but a browser: figures are base64 ``data:image/png`` URIs, the CSS
is inline, there are no scripts and nothing is loaded from elsewhere; the only ``href``s are
links a reader may follow (the sub-reports beside the page, the papers cited). Every piece of
text is escaped with :func:`html.escape` before the small Markdown subset (``**bold**``,
``*em*``, `` `code` ``, ``[text](url)``, ``- `` lists) is turned into tags.

Tables: text columns are left-aligned, columns whose every cell is a number (or a number
with a unit, ``±``, ``→`` or a parenthesis) right-aligned, with tabular figures; numbers are
written by :func:`format_value` (thousands separators from 1,000 on).
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import re

from .._validate import is_real

__all__ = ["HtmlCheck", "check_html", "format_value", "is_numeric_cell", "render_html", "render_markdown"]

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
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f0f0f0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{caption-side:bottom;font-size:.9em;color:#555;padding:.3em;text-align:left}
ul.parts{list-style:none;padding-left:0}ul.parts li{margin:.35em 0}
.parts .verdict{font-size:.85em;padding:.1em .6em;margin-right:.4em}.rule{font-size:.92em;color:#333}
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
        return f"{int(v):,}"
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        if x == 0:
            return "0"
        if abs(x) < 1e-3 or abs(x) >= 1e6:
            return f"{x:.3g}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


#: ``[text](url)``: an http(s) URL, or a relative path (a sub-report) without a scheme or "..".
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s()]+|(?![a-zA-Z][\w+.-]*:)(?!/)(?!.*\.\.)[\w./#-]+)\)")


def _inline(text: str) -> str:
    """Escape, then ``code``, [links](url), **bold**, *em*."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            p = html.escape(part, quote=False)
            p = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', p)
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


def _badge(verdict) -> str:
    cls = {"supported": "supported", "not supported": "not-supported", "inconclusive": "inconclusive"}.get(
        verdict, "none")
    return f'<span class="verdict {cls}">{html.escape(verdict or "no verdict")}</span>'


#: A cell that reads as a number: digits with separators, sign, exponent, %, x or a unit, and
#: optionally "± ...", "→ ...", "/ ..." of the same kind or a parenthesised remark.
_NUM = r"[+\-−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][+\-]?\d+)?(?:\s?(?:%|x|×|s|ms|px))?"
_NUMERIC = re.compile(rf"^(?:{_NUM}|n/a|nan|inf|-)(?:\s*(?:±|→|/|-)\s*(?:{_NUM}|n/a))*(?:\s*\([^()]*\))?$")


def is_numeric_cell(value) -> bool:
    """Whether a table cell is a number (right-aligned): a real number, or a string that reads as one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, str) and bool(_NUMERIC.match(value.strip()))


def _numeric_columns(headers, rows) -> list:
    cols = []
    for j in range(len(headers)):
        cells = [r[j] for r in rows if r[j] is not None and str(r[j]).strip() != ""]
        cols.append(bool(cells) and all(is_numeric_cell(c) for c in cells))
    return cols


def _column_format(rows, j):
    """One format for a column of real numbers, so that its decimals line up: fixed decimals enough for 3
    significant digits of its smallest non-zero value (at most 4), or 3-digit scientific notation for tiny or
    huge values; None when the column is not all floats or spans three orders of magnitude or more (then each
    cell is formatted alone, :func:`format_value`)."""
    cells = [r[j] for r in rows if r[j] is not None]
    if not cells or any(not is_real(c) for c in cells):
        return None
    vals = [float(c) for c in cells]
    if all(isinstance(c, numbers.Integral) for c in cells) or not all(math.isfinite(v) for v in vals):
        return None
    mags = [abs(v) for v in vals if v != 0]
    if not mags or max(mags) / min(mags) >= 1000:  # different quantities, or orders of magnitude apart: cell by cell
        return None
    if min(mags) < 1e-3 or max(mags) >= 1e6:
        return lambda v: f"{float(v):.3g}"
    if min(mags) >= 1000:
        return lambda v: f"{float(v):,.0f}"
    decimals = min(4, max(0, 2 - math.floor(math.log10(min(mags)))))
    return lambda v: f"{float(v):,.{decimals}f}"


def _formatted(rows, headers):
    """Rows with every cell a string: numeric columns in one format each (:func:`_column_format`)."""
    fmts = [_column_format(rows, j) for j in range(len(headers))]
    return [[fmts[j](c) if fmts[j] is not None and c is not None else format_value(c) for j, c in enumerate(r)]
            for r in rows]


def _table_html(headers, rows, caption="", *, raw=()) -> str:
    num = _numeric_columns(headers, rows)
    head = "".join(f'<th{" class=num" if n else ""}>{html.escape(str(h))}</th>' for h, n in zip(headers, num))
    shown = _formatted([[None if j in raw else c for j, c in enumerate(r)] for r in rows], headers)

    def cell(j, c, text):
        text = c if j in raw else _inline(text)
        return f'<td{" class=num" if num[j] else ""}>{text}</td>'

    body = "".join("<tr>" + "".join(cell(j, c, t) for j, (c, t) in enumerate(zip(r, sr))) + "</tr>"
                   for r, sr in zip(rows, shown))
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(f, number) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    alt = html.escape(f.caption or f"Figure {number}", quote=True)
    cap = f"<figcaption><strong>Figure {number}.</strong> {_inline(f.caption)}</figcaption>"
    return f'<figure id="figure-{number}"><img src="data:image/png;base64,{data}" alt="{alt}">{cap}</figure>'


def _verdict_html(report) -> list:
    """The verdict line; a report made of parts (a study) leads with the parts' verdicts and their count."""
    e = html.escape
    if report.parts:
        parts = [f"<p><strong>Verdicts:</strong> {_inline(report.because)}</p>"]
    else:
        parts = [f'<p><strong>Verdict:</strong> {_badge(report.verdict)} {_inline(report.because)}</p>']
    if report.parts:
        items = []
        for p in report.parts:
            label = e(p["label"])
            if p.get("link"):
                label = f'<a href="{e(p["link"])}">{label}</a>'
            items.append(f"<li>{_badge(p['verdict'])} <strong>{label}</strong> {_inline(p['because'])}</li>")
        parts.append(f'<ul class="parts">{"".join(items)}</ul>')
        parts.append(f'<p><strong>Overall:</strong> {_badge(report.verdict)}</p>')
    if report.rule:
        parts.append(f'<div class="rule">{_paragraphs(report.rule)}</div>')
    return parts


def _config_rows(config: dict):
    return [[k, v if isinstance(v, (int, float, bool, str)) or v is None else json.dumps(v)]
            for k, v in config.items() if k not in ("command", "versions")]


def _timing_rows(report):
    from .report import humanize

    return [[humanize(k), v] for k, v in report.timings.items()]


def _headline_note(report) -> str:
    n = len([k for k in report.metrics if k != "nonfinite"])
    return (f"All {n:,} measured numbers are in <code>metrics.json</code> under their keys (the key of each "
            "headline number is in its row's tooltip).")


def _headline_html(report) -> list:
    e = html.escape
    rows = report.headline_rows()
    if not rows:
        return []
    body = "".join(f'<tr title="{e(key)}"><td>{e(label)}</td><td class=num>{_inline(format_value(v))}</td></tr>'
                   for label, v, key in rows)
    out = ["<h2>Headline numbers</h2>",
           f"<table><thead><tr><th>measured</th><th class=num>value</th></tr></thead><tbody>{body}</tbody></table>",
           f'<p class="muted">{_headline_note(report)}</p>']
    if report.metrics.get("nonfinite"):
        out.append(f'<p class="muted">Non-finite values (shown as n/a): {e(", ".join(report.metrics["nonfinite"]))}</p>')
    return out


def _subreports_html(report) -> list:
    if not report.subreports:
        return []
    e = html.escape
    rows = [[f'<a href="{e(folder)}/report.html">{e(sub.title)}</a>', e(folder), _badge(sub.verdict)]
            for folder, sub in report.subreports]
    return ["<h2>Sub-reports</h2><p>Each written in full beside this page:</p>",
            _table_html(["report", "folder", "verdict"], rows, raw=(0, 1, 2))]


def _references_html(report) -> list:
    if not report.references:
        return []
    e = html.escape
    items = "".join(f'<li>{_inline(c)} <a href="{e(u)}">{e(u)}</a></li>' for c, u in report.references)
    return [f"<h2>References</h2><ul>{items}</ul>"]


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
        *_verdict_html(report),
    ]
    if report.data_note:
        parts.append(f"<h2>Data</h2><p>{_inline(report.data_note)}</p>")
    number = 0
    for kind, payload in report.blocks:
        if kind == "text":
            parts.append(_paragraphs(payload))
        elif kind == "section":
            parts.append(f"<h2>{e(payload)}</h2>")
        elif kind == "figure":
            number += 1
            parts.append(_figure_html(payload, number))
        elif kind == "table":
            parts.append(_table_html(payload.headers, payload.rows, payload.caption))
    if report.findings:
        parts.append("<h2>Findings</h2><ul>" + "".join(f"<li>{_inline(t)}</li>" for t in report.findings) + "</ul>")
    parts += _headline_html(report)
    parts += _subreports_html(report)
    parts += _references_html(report)
    if report.timings:
        parts.append("<h2>Timings</h2>" + _table_html(["what", "seconds"], _timing_rows(report)))
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

    num = _numeric_columns(headers, rows)
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "".join("---:|" if n else ":---|" for n in num)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in _formatted(rows, headers)]
    if caption:
        lines += ["", f"*{caption}*"]
    return "\n".join(lines)


def render_markdown(report) -> str:
    """The report as Markdown; figures link to ``figures/<name>.png``."""
    out = [f"# {report.title}", "", f"> {report.claim}", ""]
    if report.parts:
        out += [f"**Verdicts:** {report.because}", ""]
        for p in report.parts:
            label = f"[{p['label']}]({p['link']})" if p.get("link") else p["label"]
            out.append(f"- **{p['verdict']}** — {label} {p['because']}")
        out += ["", f"**Overall: {report.verdict or 'no verdict'}**", ""]
    else:
        out += [f"**Verdict: {report.verdict or 'no verdict'}** — {report.because}", ""]
    if report.rule:
        out += [report.rule, ""]
    if report.data_note:
        out += ["## Data", "", report.data_note, ""]
    number = 0
    for kind, payload in report.blocks:
        if kind == "text":
            out += [payload.strip(), ""]
        elif kind == "section":
            out += [f"## {payload}", ""]
        elif kind == "figure":
            number += 1
            out += [f"![Figure {number}](figures/{payload.name}.png)", "", f"*Figure {number}.* {payload.caption}", ""]
        elif kind == "table":
            out += [_md_table(payload.headers, payload.rows, payload.caption), ""]
    if report.findings:
        out += ["## Findings", ""] + [f"- {t}" for t in report.findings] + [""]
    rows = report.headline_rows()
    if rows:
        out += ["## Headline numbers", "", _md_table(["measured", "value"], [[w, v] for w, v, _ in rows]), "",
                "All measured numbers are in `metrics.json` under their keys.", ""]
    if report.subreports:
        out += ["## Sub-reports", ""] + [f"- [{sub.title}]({folder}/report.md): {sub.verdict}"
                                         for folder, sub in report.subreports] + [""]
    if report.references:
        out += ["## References", ""] + [f"- {c} <{u}>" for c, u in report.references] + [""]
    if report.timings:
        out += ["## Timings", "", _md_table(["what", "seconds"], _timing_rows(report)), ""]
    if report.config:
        out += ["## Reproduce", ""]
        if report.config.get("command"):
            out += ["```", str(report.config["command"]), "```", ""]
        out += [_md_table(["setting", "value"], _config_rows(report.config)), ""]
        versions = report.config.get("versions") or {}
        if versions:
            out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return "\n".join(out)


def _navigable(url: str) -> bool:
    """A link a reader may follow without the page loading anything: http(s), or a relative path
    without a scheme and without ``..`` (a sub-report beside the page)."""
    if url.startswith(("https://", "http://")):
        return True
    return not re.match(r"^[a-zA-Z][\w+.-]*:", url) and not url.startswith("/") and ".." not in url


class HtmlCheck:
    """What :func:`check_html` found: the embedded PNGs, the links, the visible text and any problems.

    Attributes:
        images: decoded bytes of every ``<img>``'s data URI, in page order.
        links: every ``<a href>`` a reader may follow (papers, sub-reports), in page order.
        text: the page's visible text (tags stripped, whitespace collapsed).
        problems: why the page is not self-contained (empty when it is).
    """

    def __init__(self):
        self.links: list[str] = []
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
    ``data:`` URIs), except ``<a href>`` links a reader may follow (http(s), or a relative path
    without ``..``: recorded in ``links``); CSS ``url(...)`` or ``@import``.

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
                elif tag == "a" and key == "href" and _navigable(val):
                    result.links.append(val)
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
