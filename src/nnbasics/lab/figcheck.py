"""Check a matplotlib Figure for what makes a report's figure hard to read, before it is rendered.

:func:`check_figure` returns one sentence per problem (an empty list when the figure is fine).
:meth:`nnbasics.lab.report.Report.figure` runs it on every Figure and keeps the problems with
the figure, so the lab's tests can require every figure of every report to pass. The checks:

* **text size on screen**: a report page is at most :data:`DISPLAY_PX` pixels wide, so a wider
  figure is shown scaled down; every visible text (titles, labels, tick labels, legends,
  annotations) must stay at least :data:`MIN_TEXT_PX` pixels high as displayed;
* **integer ticks** on an axis whose data are integers (depths, epochs, layers, members): no
  tick at 2.5;
* **axis labels**: every axes that plots data names both axes (a figure-wide ``supxlabel`` /
  ``supylabel`` counts, and so does a shared axis labelled on a neighbour);
* **a colour key** wherever colour encodes a class or a value: filled contours need a legend
  or a colorbar;
* **no hidden lines**: two lines drawn with the same line style and marker may not coincide on
  screen (within 2 pixels over most of their points), or the one below cannot be seen;
* **short legends**: at most :data:`MAX_LEGEND` entries (an ordered sweep takes a colorbar);
* **annotations inside the frame**: a text placed in an axes may not cross its frame.

Example:
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(4, 3))
    >>> _ = ax.plot([2, 5, 10, 20], [0.9, 0.8, 0.5, 0.1])
    >>> check_figure(fig)[0]
    'axes 1: the x axis has no label'
"""

from __future__ import annotations

import numpy as np

__all__ = ["DISPLAY_PX", "MAX_LEGEND", "MIN_TEXT_PX", "check_figure"]

#: The widest a figure is shown on a report page (the page's column, in CSS pixels).
DISPLAY_PX = 900
#: The smallest text height allowed as displayed, in pixels (~7.5 pt).
MIN_TEXT_PX = 10.0
#: The most entries a legend may have.
MAX_LEGEND = 8
#: The resolution figures are saved at (Report.figure).
DPI = 100


def _hidden_axis_texts(fig) -> set:
    """Tick labels and axis labels of axes drawn without axes (``ax.axis("off")``)."""
    out = set()
    for ax in fig.axes:
        if not ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                out.update(axis.get_ticklabels(which="both"))
                out.add(axis.label)
    return out


def _text_sizes(fig, scale) -> list:
    from matplotlib.text import Text

    problems, hidden = [], _hidden_axis_texts(fig)
    small = {}
    for t in fig.findobj(Text):
        if t in hidden or not t.get_text().strip() or not t.get_visible():
            continue
        ax = t.axes
        if ax is not None and not ax.get_visible():
            continue
        px = t.get_fontsize() * DPI / 72.0 * scale
        if px < MIN_TEXT_PX:
            small.setdefault(round(px, 1), []).append(t.get_text().strip()[:20])
    for px, texts in sorted(small.items()):
        problems.append(f"{len(texts)} text(s) only {px:g} px high on the page (e.g. {texts[0]!r}); needs "
                        f">= {MIN_TEXT_PX:g} px")
    return problems


def _integer_ticks(ax, i) -> list:
    xs = [np.asarray(line.get_xdata(), dtype=np.float64) for line in ax.get_lines() if len(line.get_xdata())]
    if not xs or ax.get_xscale() != "linear":
        return []
    data = np.concatenate(xs)
    data = data[np.isfinite(data)]
    if data.size == 0 or not np.all(data == np.round(data)):
        return []
    lo, hi = sorted(ax.get_xlim())
    ticks = [t for t in ax.get_xticks() if lo - 1e-9 <= t <= hi + 1e-9]
    bad = [t for t in ticks if abs(t - round(t)) > 1e-9]
    return [f"axes {i}: the x data are integers but ticks fall at {', '.join(f'{t:g}' for t in bad[:3])}"] if bad \
        else []


def _has_data(ax) -> bool:
    return bool(ax.get_lines() or ax.collections or ax.patches) and not ax.images


def _labels(fig, ax, i) -> list:
    if not ax.axison or not _has_data(ax):
        return []
    out = []
    sup_x = getattr(fig, "_supxlabel", None) is not None and fig._supxlabel.get_text()
    sup_y = getattr(fig, "_supylabel", None) is not None and fig._supylabel.get_text()
    shared_x = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a.get_xlabel()]
    shared_y = [a for a in ax.get_shared_y_axes().get_siblings(ax) if a.get_ylabel()]
    if not ax.get_xlabel() and not sup_x and not shared_x:
        out.append(f"axes {i}: the x axis has no label")
    if not ax.get_ylabel() and not sup_y and not shared_y:
        out.append(f"axes {i}: the y axis has no label")
    return out


def _colour_key(fig, ax, i) -> list:
    from matplotlib.contour import ContourSet

    filled = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    if not filled:
        return []
    has_colorbar = any(getattr(a, "_colorbar", None) is not None for a in fig.axes)
    if ax.get_legend() is None and fig.legends == [] and not has_colorbar:
        return [f"axes {i}: filled regions coloured by class or value, but no legend or colorbar says which"]
    return []


def _hidden_lines(ax, i) -> list:
    lines = [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata()) > 1
             and not (ln.get_linestyle() in ("None", "", " ") and ln.get_marker() in ("_", "|", "None", "", None))]
    # NOTE: error-bar caps (markers "_"/"|" without a line) of zero-width bars coincide by construction
    out = []
    for a in range(len(lines)):
        for b in range(a + 1, len(lines)):
            la, lb = lines[a], lines[b]
            if (la.get_linestyle(), la.get_marker()) != (lb.get_linestyle(), lb.get_marker()):
                continue
            xa, xb = np.asarray(la.get_xdata(), np.float64), np.asarray(lb.get_xdata(), np.float64)
            if xa.shape != xb.shape or not np.allclose(xa, xb, equal_nan=True):
                continue
            pa = ax.transData.transform(np.c_[xa, np.asarray(la.get_ydata(), np.float64)])
            pb = ax.transData.transform(np.c_[xb, np.asarray(lb.get_ydata(), np.float64)])
            d = np.hypot(*(pa - pb).T)
            ok = np.isfinite(d)
            if ok.sum() > 1 and np.mean(d[ok] < 2.0) >= 0.5:
                out.append(f"axes {i}: lines {la.get_label()!r} and {lb.get_label()!r} coincide and are drawn "
                           "alike, so one hides the other; give them different line styles or markers")
    return out


def _legend(ax, i) -> list:
    leg = ax.get_legend()
    if leg is not None and len(leg.get_texts()) > MAX_LEGEND:
        return [(f"axes {i}: a legend of {len(leg.get_texts())} entries (at most {MAX_LEGEND}; an ordered sweep "
                 "takes a colorbar)")]
    return []


def _inside_frame(ax, i, renderer) -> list:
    frame = ax.get_window_extent(renderer)
    out = []
    for t in ax.texts:
        if not t.get_visible() or not t.get_text().strip():
            continue
        box = t.get_window_extent(renderer)
        if box.x0 < frame.x0 - 1 or box.x1 > frame.x1 + 1 or box.y0 < frame.y0 - 1 or box.y1 > frame.y1 + 1:
            out.append(f"axes {i}: the text {t.get_text()[:20]!r} crosses the axes frame")
    return out


def check_figure(fig, *, display_px: int = DISPLAY_PX) -> list:
    """Every readability problem of ``fig`` as a sentence (module docstring); [] when there is none.

    Args:
        fig: a matplotlib Figure, laid out as it will be saved (after ``tight_layout``).
        display_px: the widest the figure will be shown, in pixels.
    """
    width_px = fig.get_figwidth() * DPI
    scale = min(1.0, display_px / width_px)
    renderer = fig.canvas.get_renderer()
    problems = _text_sizes(fig, scale)
    for i, ax in enumerate((a for a in fig.axes if a.get_visible() and getattr(a, "_colorbar", None) is None), 1):
        problems += _integer_ticks(ax, i)
        problems += _labels(fig, ax, i)
        problems += _colour_key(fig, ax, i)
        problems += _hidden_lines(ax, i)
        problems += _legend(ax, i)
        problems += _inside_frame(ax, i, renderer)
    return problems
