"""The loss and accuracy curves of a run: ``history.png`` (matplotlib, when installed) and ``history.html``.

The page is self-contained (the figure embedded as base64) and holds the numbers as a table, so
it is useful without matplotlib too.
"""

from __future__ import annotations

import base64
import html
import io
import math

__all__ = ["history_html", "history_png", "series"]

# (the key of the x values, its axis label) for a train run (per epoch) and a train-lm run (per step)
_X = (("epoch", "epoch"), ("step", "optimizer step"))
_PANELS = (("loss", ("loss", "val_loss", "train_loss")), ("accuracy", ("accuracy", "val_accuracy")),
           ("perplexity", ("val_perplexity",)))


def series(history: dict):
    """``(x, x_label, {key: values})`` of a history: ``{"epoch": [...], "history": {...}}`` or train-lm's flat dict."""
    if "history" in history and isinstance(history["history"], dict):
        x = [int(e) + 1 for e in history.get("epoch", [])]
        return x, "epoch", dict(history["history"])
    x = list(history.get("step", []))
    curves = {k: v for k, v in history.items() if k not in ("step", "epoch", "time_s")}
    return x, "optimizer step", curves


def _clean(values):
    return [math.nan if v is None else float(v) for v in values]


def history_png(history: dict, title: str):
    """The loss (and accuracy) curves as PNG bytes; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except (ImportError, AttributeError):  # not installed (or hidden: sys.modules["matplotlib"] = None)
        return None
    x, xlabel, curves = series(history)
    panels = [(name, [k for k in keys if k in curves]) for name, keys in _PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not x or not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels):
        for k in keys:
            style = "--" if k.startswith("val_") else "-"
            label = "validation" if k.startswith("val_") else "training"
            ax.plot(x, _clean(curves[k]), style, marker="o" if len(x) <= 30 else None, markersize=3, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        if xlabel == "epoch" and len(x) <= 20:
            ax.set_xticks(x)  # whole epochs, not 2.5, 7.5...
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def history_html(history: dict, title: str, png=None) -> str:
    """A small self-contained page: the figure (if any) and the numbers of every epoch or validation."""
    x, xlabel, curves = series(history)
    keys = [k for k in curves if k not in ("lr",)]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in [xlabel, *keys])
    rows = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in [xi, *(curves[k][i] for k in keys)]) + "</tr>"
                   for i, xi in enumerate(x))
    figure = (f'<img alt="loss and accuracy against {html.escape(xlabel)}" src="data:image/png;base64,'
              f'{base64.b64encode(png).decode()}">' if png else
              "<p>(No figure: matplotlib is not installed; <code>pip install matplotlib</code> draws one.)</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}img{max-width:100%}"
            "table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}"
            f"</style></head><body><h1>{html.escape(title)}</h1>{figure}<table><tr>{head}</tr>{rows}</table>"
            "</body></html>\n")
