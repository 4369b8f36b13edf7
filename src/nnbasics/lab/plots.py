"""Headless matplotlib helpers for lab reports; each returns a Figure for ``Report.figure``.

matplotlib is imported inside each function with the non-interactive Agg backend, so no
display is needed and importing this module does nothing.

House rules (checked on every report figure by :mod:`nnbasics.lab.figcheck`): figures are at
most :data:`MAX_WIDTH` inches wide, so that a report page shows them unscaled, and no text is
smaller than :data:`SMALL` points; every series of a line plot gets its own line style *and*
marker, so lines that coincide stay visible; integer data get integer ticks; an ordered sweep
(a rate, a size) is coloured along a perceptually ordered, colour-blind-safe map
(:data:`SWEEP_CMAP`) with a colorbar instead of a long legend; classes use the Okabe-Ito
palette (:data:`CLASS_COLOURS`), which colour-blind readers can tell apart, with a legend.

Example:
    >>> fig = line_plot({"loss": ([0, 1, 2], [1.0, 0.5, 0.25])}, "epoch", "loss", "Training")  # doctest: +SKIP
    >>> report.figure(fig, "loss", "The loss halves every epoch.")  # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CLASS_COLOURS", "MAX_WIDTH", "SMALL", "SWEEP_CMAP", "bar_plot", "decision_boundary", "image_grid",
           "integer_ticks", "line_plot", "new_figure", "series_style", "sweep_colours"]

#: The widest figure, in inches (at 100 dpi it fits a report page's column without scaling).
MAX_WIDTH = 9.0
#: The smallest font size used, in points (11 px at 100 dpi).
SMALL = 8.5
#: The colormap of ordered sweeps: perceptually uniform and readable with colour-vision deficiency.
SWEEP_CMAP = "viridis"
#: Okabe & Ito's colour-blind-safe palette, for classes and unordered series.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(nrows=1, ncols=1, *, width=None, height=None, squeeze=False, **kwargs):
    """``(fig, axes)``: a Figure with an ``nrows x ncols`` grid (axes a 2-D array unless ``squeeze``).

    Default size: 4.4 x 3.3 inches per panel, at most :data:`MAX_WIDTH` inches wide.
    """
    plt = _plt()
    width = min(MAX_WIDTH, width or 4.4 * ncols)
    height = height or 3.3 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=squeeze, **kwargs)
    return fig, axes


def series_style(i: int) -> dict:
    """Colour, line style and marker of the ``i``-th series: the (style, marker) pairs of the first 8 differ."""
    return {"color": CLASS_COLOURS[i % len(CLASS_COLOURS)], "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
            "marker": _MARKERS[i % len(_MARKERS)]}


def sweep_colours(n: int, cmap: str = SWEEP_CMAP) -> list:
    """``n`` colours along ``cmap`` for an ordered sweep (viridis' lightest yellow is left out: unreadable on white)."""
    plt = _plt()
    m = plt.get_cmap(cmap)
    return [m(0.85 * i / max(1, n - 1)) for i in range(n)]


def integer_ticks(ax, values=None, axis="x") -> None:
    """Integer ticks on ``axis``: exactly ``values`` when few are given, else a locator that never picks 2.5."""
    from matplotlib.ticker import MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    if values is not None and 0 < len(values) <= 12:
        (ax.set_xticks if axis == "x" else ax.set_yticks)([int(v) for v in values])
    else:
        target.set_major_locator(MaxNLocator(integer=True))


def line_plot(series, xlabel="", ylabel="", title="", logy=False, *, ax=None, markers=True, legend=True):
    """One line per label: ``series = {label: (x, y)}``. Non-finite points are left as gaps.

    Each series gets its own colour, line style and marker (:func:`series_style`); markers are
    thinned to about 12 per line. When every x is an integer the ticks are integers.

    Returns:
        Figure (the one holding ``ax`` when an axis is given).
    """
    if ax is None:
        fig, axes = new_figure(width=6.0, height=4.0)
        ax = axes[0, 0]
    fig = ax.figure
    all_x = []
    for i, (label, (x, y)) in enumerate(series.items()):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if logy:
            y = np.where(y > 0, y, np.nan)
        style = series_style(i)
        if not markers:
            style["marker"] = None
        ax.plot(x, y, ms=5, lw=1.6, markevery=max(1, len(x) // 12), label=str(label), **style)
        all_x.append(x[np.isfinite(x)])
    if logy:
        ax.set_yscale("log")
    xs = np.unique(np.concatenate(all_x)) if all_x else np.array([])
    if xs.size and np.all(xs == np.round(xs)):
        integer_ticks(ax, xs if xs.size <= 10 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if legend and len(series) > 1:
        ax.legend(fontsize=SMALL, framealpha=0.85)
    fig.tight_layout()
    return fig


def bar_plot(values, category_label="", value_label="", title="", logy=False, *, ranges=None, ax=None,
             annotate=True, colours=None):
    """Horizontal bars ``{label: value}``, values written past the bar ends.

    Horizontal, so that long category names read on one line; the value axis is widened so
    that every annotation stays inside the frame.

    Args:
        ranges: optional ``{label: (low, high)}`` drawn as a whisker over the bar (e.g. the
            slowest and fastest of several timed runs); the value is written past its end.
    """
    if ax is None:
        fig, axes = new_figure(width=7.5, height=max(2.4, 0.55 * len(values) + 1.3))
        ax = axes[0, 0]
    fig = ax.figure
    labels = [str(k) for k in values]
    vals = np.asarray([np.nan if v is None else float(v) for v in values.values()])
    ends = vals.copy()
    pos = np.arange(len(vals))[::-1]  # first item on top
    colours = colours or [CLASS_COLOURS[0]] * len(vals)
    ax.barh(pos, np.nan_to_num(vals, nan=0.0), color=colours, height=0.6)
    for i, k in enumerate(values):
        if ranges and k in ranges:
            lo, hi = (float(v) for v in ranges[k])
            ax.plot([lo, hi], [pos[i], pos[i]], color="k", lw=1.4, marker="|", ms=10)
            ends[i] = max(ends[i], hi)
    ax.set_yticks(pos)
    ax.set_yticklabels(labels)
    finite = ends[np.isfinite(ends) & (ends > 0 if logy else True)]
    if logy:
        ax.set_xscale("log")
        if finite.size:
            ax.set_xlim(np.nanmin(vals[vals > 0]) / 3, finite.max() * 40)  # room for the annotation on a log axis
    elif finite.size:
        ax.set_xlim(0, finite.max() * 1.35)
    if annotate:
        for p, v, e in zip(pos, vals, ends):
            ax.annotate("n/a" if not np.isfinite(v) else f"{v:,.3g}", (e if np.isfinite(e) and e > 0 else 0, p),
                        xytext=(5, 0), textcoords="offset points", ha="left", va="center", fontsize=SMALL + 0.5)
    ax.set_ylabel(category_label)
    ax.set_xlabel(value_label)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def decision_boundary(model, X, y, title="", *, ax=None, resolution=200, padding=0.3, class_names=None,
                      xlabel="x₁", ylabel="x₂", legend=True):
    """Predicted class over a grid, with the points on top (2-D inputs), axes labelled and a colour key.

    Args:
        model: a callable ``model(Tensor (M, 2)) -> logits (M, C)`` (or (M,)/(M, 1): one
            logit or probability per point, thresholded at 0.5 when in [0, 1], else at 0),
            or any object with ``predict(ndarray) -> labels``.
        X: ``(N, 2)`` points; y: ``(N,)`` labels.
        class_names: a name per class for the legend (default ``"class k"``).
        xlabel, ylabel: the two input features' names.
        legend: draw the colour key (a shaded patch per predicted class, a dot per true class).
    """
    from ..autograd import no_grad
    from ..tensor import as_tensor

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: X must have shape (N, 2); got {X.shape}.")
    if ax is None:
        fig, axes = new_figure(width=5.0, height=4.4)
        ax = axes[0, 0]
    fig = ax.figure
    lo, hi = X.min(0) - padding, X.max(0) + padding
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    if hasattr(model, "predict") and not hasattr(model, "forward"):
        labels = np.asarray(model.predict(grid))
    else:
        was = getattr(model, "training", None)
        if was is not None:
            model.eval()
        with no_grad():
            out = model(as_tensor(grid))
        if was:
            model.train()
        out = np.asarray(out, dtype=np.float64)
        if out.ndim == 2 and out.shape[1] > 1:
            labels = out.argmax(1)
        else:
            out = out.reshape(-1)
            thr = 0.5 if out.min() >= 0 and out.max() <= 1 else 0.0
            labels = (out > thr).astype(np.int64)
    k = int(max(labels.max(initial=0), y.max(initial=0))) + 1
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    cmap = ListedColormap([CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(k)])
    ax.contourf(gx, gy, labels.reshape(gx.shape), levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, s=80 if len(X) < 50 else 14, edgecolors="k", linewidths=0.6,
               vmin=-0.5, vmax=k - 0.5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="box")
    if legend:
        names = list(class_names) if class_names is not None else [f"class {i}" for i in range(k)]
        handles = [Patch(facecolor=cmap(i), alpha=0.45, edgecolor="k", label=f"{names[i]}") for i in range(k)]
        ax.legend(handles=handles, fontsize=SMALL, loc="upper right", framealpha=0.85)
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, title="", *, ncols=8, cmap="gray", symmetric=False, colorbar_label=""):
    """Images ``(N, H, W)`` or ``(N, 1, H, W)`` in a grid (filters, feature maps, samples).

    Args:
        titles: a title per image (short: the panels are ~1.1 inch wide).
        symmetric: colour scale symmetric around 0 and shared by every panel (for weights; a
            diverging map, with a colorbar labelled ``colorbar_label``).
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 4 and imgs.shape[1] == 1:
        imgs = imgs[:, 0]
    if imgs.ndim != 3:
        raise ValueError(f"image_grid: images must have shape (N, H, W) or (N, 1, H, W); got {imgs.shape}.")
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    panel = min(1.15, (MAX_WIDTH - (0.8 if symmetric else 0)) / ncols)
    fig, axes = new_figure(nrows, ncols, width=panel * ncols + (0.8 if symmetric else 0.2),
                           height=(panel + 0.3) * nrows + (0.45 if title else 0))
    m = float(np.nanmax(np.abs(imgs))) or 1.0
    shown = None
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        if symmetric:
            shown = ax.imshow(imgs[i], cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            ax.imshow(imgs[i], cmap=cmap)
        if titles is not None and i < len(titles):
            ax.set_title(str(titles[i]), fontsize=SMALL)
    if title:
        fig.suptitle(title, fontsize=SMALL + 1.5)
    fig.tight_layout()
    if symmetric and shown is not None:
        cb = fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
        cb.ax.tick_params(labelsize=SMALL)
        if colorbar_label:
            cb.set_label(colorbar_label, fontsize=SMALL)
    return fig
