"""Headless matplotlib helpers for lab reports; each returns a Figure for ``Report.figure``.

matplotlib is imported inside each function with the non-interactive Agg backend, so no
display is needed and importing this module does nothing.

Example:
    >>> fig = line_plot({"loss": ([0, 1, 2], [1.0, 0.5, 0.25])}, "epoch", "loss", "Training")  # doctest: +SKIP
    >>> report.figure(fig, "loss", "The loss halves every epoch.")  # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bar_plot", "decision_boundary", "histogram_grid", "image_grid", "line_plot", "new_figure"]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(nrows=1, ncols=1, *, width=None, height=None, squeeze=False, **kwargs):
    """``(fig, axes)``: a Figure with an ``nrows x ncols`` grid (axes a 2-D array unless ``squeeze``).

    Default size: 4.2 x 3.2 inches per panel (capped at 16 inches wide).
    """
    plt = _plt()
    width = width or min(16.0, 4.2 * ncols)
    height = height or 3.2 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=squeeze, **kwargs)
    return fig, axes


def line_plot(series, xlabel="", ylabel="", title="", logy=False, *, ax=None, markers=False):
    """One line per label: ``series = {label: (x, y)}``. Non-finite points are left as gaps.

    Returns:
        Figure (the one holding ``ax`` when an axis is given).
    """
    if ax is None:
        fig, axes = new_figure()
        ax = axes[0, 0]
    fig = ax.figure
    for label, (x, y) in series.items():
        y = np.asarray(y, dtype=np.float64)
        if logy:
            y = np.where(y > 0, y, np.nan)
        ax.plot(np.asarray(x), y, marker="o" if markers else None, ms=3, label=str(label))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bar_plot(values, xlabel="", ylabel="", title="", logy=False, *, errors=None, ax=None, annotate=True):
    """Bars ``{label: value}`` (optionally ``errors = {label: err}``), values written on top."""
    if ax is None:
        fig, axes = new_figure(width=min(14.0, max(5.0, 1.5 * len(values) + 2)))
        ax = axes[0, 0]
    fig = ax.figure
    labels = [str(k) for k in values]
    vals = np.asarray([np.nan if v is None else float(v) for v in values.values()])
    err = None if errors is None else [errors.get(k, 0.0) for k in values]
    bars = ax.bar(range(len(vals)), np.nan_to_num(vals, nan=0.0), yerr=err, color="#4c72b0", capsize=3)
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(labels, rotation=30 if max(map(len, labels), default=0) > 6 else 0, ha="right"
                       if max(map(len, labels), default=0) > 6 else "center")
    if logy:
        ax.set_yscale("log")
    if annotate:
        for b, v in zip(bars, vals):
            ax.annotate("n/a" if not np.isfinite(v) else f"{v:.3g}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def histogram_grid(hists, title="", *, ncols=None, xlabel="", sharey=False):
    """One small histogram per panel.

    Args:
        hists: ``{label: values}`` (raw samples) or ``{label: (counts, edges)}``.
        ncols: panels per row (default: all in one row, up to 6).
    """
    n = max(1, len(hists))
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(nrows, ncols, width=min(16.0, 2.6 * ncols), height=2.3 * nrows, sharey=sharey)
    flat = axes.ravel()
    for ax, (label, h) in zip(flat, hists.items()):
        if isinstance(h, tuple) and len(h) == 2:
            counts, edges = (np.asarray(a, dtype=np.float64) for a in h)
            ax.stairs(counts, edges, fill=True, alpha=0.8)
        else:
            v = np.asarray(h, dtype=np.float64).ravel()
            v = v[np.isfinite(v)]
            if v.size:
                ax.hist(v, bins=40, alpha=0.8)
        ax.set_title(str(label), fontsize=9)
        ax.tick_params(labelsize=7)
        if xlabel:
            ax.set_xlabel(xlabel, fontsize=8)
    for ax in flat[len(hists):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def decision_boundary(model, X, y, title="", *, ax=None, resolution=200, padding=0.3):
    """Predicted class over a grid, with the points on top (2-D inputs).

    Args:
        model: a callable ``model(Tensor (M, 2)) -> logits (M, C)`` (or (M,)/(M, 1): one
            logit or probability per point, thresholded at 0.5 when in [0, 1], else at 0),
            or any object with ``predict(ndarray) -> labels``.
        X: ``(N, 2)`` points; y: ``(N,)`` labels.
    """
    from ..autograd import no_grad
    from ..tensor import Tensor

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: X must have shape (N, 2); got {X.shape}.")
    if ax is None:
        fig, axes = new_figure()
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
            out = model(Tensor(grid))
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
    cmap = "coolwarm" if k <= 2 else "tab10"
    ax.contourf(gx, gy, labels.reshape(gx.shape), levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, s=80 if len(X) < 50 else 14, edgecolors="k", linewidths=0.3,
               vmin=-0.5, vmax=k - 0.5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, title="", *, ncols=8, cmap="gray", symmetric=False):
    """Images ``(N, H, W)`` or ``(N, 1, H, W)`` in a grid (filters, feature maps, samples).

    Args:
        symmetric: colour scale symmetric around 0 (for weights; uses a diverging map).
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 4 and imgs.shape[1] == 1:
        imgs = imgs[:, 0]
    if imgs.ndim != 3:
        raise ValueError(f"image_grid: images must have shape (N, H, W) or (N, 1, H, W); got {imgs.shape}.")
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = new_figure(nrows, ncols, width=min(16.0, 1.4 * ncols), height=1.5 * nrows + (0.4 if title else 0))
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        im = imgs[i]
        if symmetric:
            m = float(np.nanmax(np.abs(im))) or 1.0
            ax.imshow(im, cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            ax.imshow(im, cmap=cmap)
        if titles is not None and i < len(titles):
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
