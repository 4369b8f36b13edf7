"""Lab experiment ``init``: weights initialized in a stupid way — and what Xavier/He fix.

Two parts, both minibatch SGD (momentum 0.9, gradient-norm clipping at 5) on flattened images:

1. **The grid**: six inits (zeros, N(0, 1), N(0, 0.01^2), LeCun, Xavier/Glorot, He) crossed with
   sigmoid, tanh and ReLU in an MLP of ``depth`` hidden layers (5 quick, 10 full): per-layer
   activation histograms at initialization with fixed bins (CS231n's classic figure), the
   training curves, the final test accuracy, and the zero init's symmetry measured.
2. **The 30-layer ReLU net**: LeCun, Xavier/Glorot and He init; the activation std per layer
   at initialization (LeCun/Glorot halve the variance at every ReLU layer, so the std shrinks
   as (1/2)^(l/2); He keeps it constant) and the loss curves (Xavier stalls, He trains).

Names, untangled: the lecture's (and CS231n's) "Xavier", ``randn(fan_in, fan_out) / sqrt(fan_in)``,
is LeCun's normalization, Var(W) = 1/fan_in (LeCun et al. 1998) -- here ``lecun``. Glorot &
Bengio (2010), the paper called "Xavier init", use Var(W) = 2/(fan_in + fan_out) -- here ``xavier``.
He et al. (2015) use Var(W) = 2/fan_in, the lecture's ``randn / sqrt(fan_in / 2)`` -- ``he``.

Metric keys (``<act>`` in sigmoid/tanh/relu, ``<init>`` in :data:`INITS`):

* ``accuracy.<act>.<init>`` -- test accuracy of the grid's nets after the budget.
* ``final_loss.<act>.<init>``, ``initial_loss.<act>.<init>`` -- probe loss (NaN if it diverged).
* ``act_std_last.<act>.<init>`` -- activation std of the last hidden layer at init.
* ``zeros.unit_spread.<act>`` -- max over hidden layers of :func:`_deepnet.unit_spread` after
  training with zero init (0: every unit identical); ``unit_spread_min.<act>`` -- the smallest
  such value over the other inits.
* ``deep.loss_initial.<init>``, ``deep.loss_final.<init>``, ``deep.loss_ratio.<init>``
  (final / initial), ``deep.accuracy.<init>``, ``deep.act_std_first.<init>``,
  ``deep.act_std_last.<init>``, ``deep.std_ratio.<init>`` (last / first) for ``<init>`` in
  lecun, xavier, he; ``deep.std_ratio_theory`` = (1/2)^((L - 1)/2).

Example:
    >>> from nnbasics.lab.registry import run_experiment
    >>> r = run_experiment("init", quick=True, progress=False)  # doctest: +SKIP
    >>> r.metrics["deep.loss_ratio.he"] < 0.8 < 0.95 < r.metrics["deep.loss_ratio.xavier"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import stats
from ..experiment import Experiment, Metrics
from . import _deepnet as D

NAME = "init"
TITLE = "Weights initialized in a stupid way: zeros, too small, too large — and Xavier/He"
CLAIM = ("\"We initialized the weights in a stupid way\" (Hinton's third reason): with all-zero weights every "
         "hidden unit computes the same thing and stays the same; weights that are too small make the signal "
         "(and its gradient) die out layer by layer, too large ones saturate tanh/sigmoid or blow ReLU up; "
         "scaling the weights by the fan-in (LeCun/\"Xavier\", Glorot, and He's factor 2 for ReLU) keeps "
         "the signal's variance constant, so that a 30-layer ReLU net trains with He init where Xavier stalls.")

INITS = ("zeros", "normal", "small", "lecun", "xavier", "he")
ACTIVATIONS = ("sigmoid", "tanh", "relu")
LABELS = {"zeros": "zeros", "normal": "N(0, 1)", "small": "N(0, 0.01²)", "lecun": "LeCun (lecture's \"Xavier\")",
          "xavier": "Xavier/Glorot", "he": "He"}
GOOD, BAD = ("lecun", "xavier", "he"), ("zeros", "normal")
DEEP_INITS = ("lecun", "xavier", "he")
#: Activations whose rows the verdict reads (the lecture's figures are tanh and ReLU; its remedy for sigmoid is
#: another non-linearity -- see ``activation`` -- so sigmoid's row is reported, not judged).
JUDGED = ("tanh", "relu")
#: Fixed histogram ranges (values outside are counted in the end bins).
HIST_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 4.0)}
#: Verdict thresholds on the 30-layer nets' final / initial probe loss (each beyond the noise over seeds).
FALL, STALL = 0.8, 0.95
#: The most hidden layers a histogram figure shows (evenly spaced, first and last included).
HIST_LAYERS = 6

REFERENCES = (
    ("LeCun, Bottou, Orr & Müller (1998). Efficient BackProp. Neural Networks: Tricks of the Trade.",
     "http://yann.lecun.com/exdb/publis/pdf/lecun-98b.pdf"),
    ("Glorot & Bengio (2010). Understanding the difficulty of training deep feedforward neural networks. AISTATS.",
     "https://proceedings.mlr.press/v9/glorot10a.html"),
    (("He, Zhang, Ren & Sun (2015). Delving deep into rectifiers: surpassing human-level performance on ImageNet "
      "classification. ICCV."), "https://arxiv.org/abs/1502.01852"),
    ("CS231n: Convolutional Neural Networks for Visual Recognition, notes on weight initialization.",
     "https://cs231n.github.io/neural-networks-2/#init"),
)
#: A zero-init layer counts as symmetric when its units differ by less than this (relative).
SYMMETRIC = 1e-6

EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"depth": 5, "width": 32, "steps": 150, "lr": 0.05, "deep_depth": 30, "deep_width": 64, "deep_steps": 200,
           "deep_lr": 0.01, "batch_size": 64, "probe": 256, "bins": 30, "seeds": 3},
    full={"depth": 10, "width": 64, "steps": 1500, "lr": 0.05, "deep_depth": 30, "deep_width": 64, "deep_steps": 1500,
          "deep_lr": 0.01, "batch_size": 64, "probe": 512, "bins": 40, "seeds": 3})
settings = sizes = EXPERIMENT.settings  # ``sizes``: this module's earlier name for it


def histogram(values, lo, hi, bins):
    """``(counts, edges)`` of ``values`` over ``bins`` equal bins of [lo, hi], out-of-range values clipped in.

    Non-finite values are dropped.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = np.clip(v[np.isfinite(v)], lo, hi)
    counts, edges = np.histogram(v, bins=int(bins), range=(float(lo), float(hi)))
    return counts, edges


def std_theory(depth, first=1.0, gain=0.5):
    """Activation std per ReLU layer when each layer multiplies the variance by ``gain``: first * gain^((l-1)/2).

    With LeCun/Glorot init (Var(W) = 1/fan_in, equal fans) a ReLU layer keeps half the variance
    (gain 1/2); with He (2/fan_in) gain is 1.
    """
    return float(first) * float(gain) ** (np.arange(int(depth)) / 2.0)


def train_job(*, X, y, X_test, y_test, activation, init, depth, width, steps, batch_size, lr, net_seed, batch_seed,
              probe, bins, hist=True, seed_index=0):
    """Build one net, measure it at init, train it, measure it again (top-level for ``ctx.map``).

    Returns:
        dict: ``act_std`` / ``act_mean`` per hidden layer at init, ``hists`` (``(counts, edges)``
        per layer, fixed bins) when ``hist``, ``loss`` / ``loss_steps`` (probe-loss curve),
        ``accuracy``, ``spread`` (unit spread per hidden layer after training), ``seconds``.
    """
    with D.single_thread_blas():
        t0 = time.perf_counter()
        Xp, yp = X[:probe], y[:probe]
        net = D.build_net(X.shape[1], int(max(y.max(), y_test.max())) + 1, depth=depth, width=width,
                          activation=activation, init=init, seed=net_seed)
        layers = D.trace(net, Xp)
        lo, hi = HIST_RANGE.get(activation, (-3.0, 3.0))
        out = {"activation": activation, "init": init, "depth": depth, "seed_index": int(seed_index),
               "act_std": [float(np.std(h, dtype=np.float64)) for _, h in layers],
               "act_mean": [float(np.mean(h, dtype=np.float64)) for _, h in layers],
               "hists": [histogram(h, lo, hi, bins) for _, h in layers] if hist else []}
        curve = D.train(net, X, y, steps=steps, batch_size=batch_size, lr=lr, seed=batch_seed, probe=(Xp, yp))
        out.update({"loss": curve["loss"], "loss_steps": curve["steps"], "accuracy": D.accuracy(net, X_test, y_test),
                    "spread": [D.unit_spread(m) for m in D.linear_layers(net)[:-1]],
                    "seconds": time.perf_counter() - t0})
    return out


def loss_ratio(curve) -> float:
    """Final over initial value of a loss curve (NaN if either is not finite or the first is not positive)."""
    a, b = (float(curve[0]), float(curve[-1])) if len(curve) else (math.nan, math.nan)
    return b / a if math.isfinite(a) and math.isfinite(b) and a > 0 else float("nan")


def verdict(deep_ratio, accuracy, *, fall=FALL, stall=STALL, judged=JUDGED, good=GOOD, bad=BAD):
    """Whether the measurements support the claim, and why (with the numbers).

    Args:
        deep_ratio: ``{init: final/initial probe loss}`` of the 30-layer ReLU nets, one value per
            seed (or one number); needs ``he`` and at least one of ``xavier`` / ``lecun``.
        accuracy: ``{(activation, init): test accuracy}`` of the grid, one value per seed (the
            same seeds for every init) or one number.
        fall, stall: He's ratio must lie below ``fall``, every Xavier variant's above ``stall``.
        judged: activations whose rows must show ``max(bad) < min(good)`` seed by seed.

    Every part uses the lab's rule (:mod:`nnbasics.lab.stats`): its 95% interval over seeds
    must lie beyond the threshold. Supported when every part does; not supported when one
    lies on the wrong side; inconclusive otherwise (one seed included).

    Returns:
        (supported: bool | None, because: str, decisions: dict); None also when a needed
        number is missing or NaN.
    """
    def arr(v):
        return np.atleast_1d(np.asarray(v, np.float64)) if v is not None else np.array([np.nan])

    xav = [k for k in ("xavier", "lecun") if k in deep_ratio]
    needed = [arr(deep_ratio.get("he"))] + [arr(deep_ratio[k]) for k in xav] + \
        [arr(accuracy.get((a, i))) for a in judged for i in (*good, *bad)]
    if not xav or not all(np.all(np.isfinite(v)) for v in needed):
        return None, f"a needed measurement is missing or not finite: deep {deep_ratio}, grid {accuracy}", {}
    d = {"he": stats.decide(arr(deep_ratio["he"]), threshold=fall, above=False, fmt=".2f",
                            name="30-layer ReLU net, He: final / initial loss")}
    for k in xav:
        d[k] = stats.decide(arr(deep_ratio[k]), threshold=stall, fmt=".2f",
                            name=f"30-layer ReLU net, {LABELS[k]}: final / initial loss (a stall)")
    for a in judged:
        worst_good = np.min([arr(accuracy[(a, i)]) for i in good], axis=0)
        best_bad = np.max([arr(accuracy[(a, i)]) for i in bad], axis=0)
        d[a] = stats.decide(worst_good - best_bad, name=f"{a}: worst scaled init minus best of "
                            f"{'/'.join(LABELS[b] for b in bad)}, test accuracy")
    return stats.all_of(d.values()), "; ".join(x.sentence() for x in d.values()) + ".", d


def _fmt(v, spec=".3g"):
    return "n/a" if v is None or not math.isfinite(v) else format(v, spec)


def hist_layers(depth, most=HIST_LAYERS) -> list:
    """The hidden layers (0-based) a histogram figure shows: all when few, else evenly spaced with the first and last."""
    if depth <= most:
        return list(range(depth))
    return sorted({round(v) for v in np.linspace(0, depth - 1, most)})


def _hist_figure(results, activation, depth, plots):
    """One row per init, one panel per shown hidden layer (fixed bins; drawn without tight_layout: many panels)."""
    layers = hist_layers(depth)
    fig, axes = plots.new_figure(len(INITS), len(layers), width=min(plots.MAX_WIDTH, 1.25 * len(layers) + 1.9),
                                 height=1.05 * len(INITS) + 1.1)
    lo, hi = HIST_RANGE.get(activation, (-3.0, 3.0))
    ticks = [lo, (lo + hi) / 2, hi]
    for row, init in enumerate(INITS):
        r = results[(activation, init)]
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            counts, edges = r["hists"][layer]
            ax.stairs(counts, edges, fill=True, color=plots.CLASS_COLOURS[0])
            ax.set_yticks([])  # explicit ticks: locating them automatically on 30+ panels costs seconds
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks] if row == len(INITS) - 1 else [])
            ax.set_xlim(lo, hi)
            ax.tick_params(labelsize=plots.SMALL, length=2)
            if row == 0:
                ax.set_title(f"layer {layer + 1}", fontsize=plots.SMALL + 0.5)
            ax.text(0.97, 0.9, f"sd {_fmt(r['act_std'][layer], '.2g')}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=plots.SMALL)
        axes[row, 0].set_ylabel(LABELS[init].replace(" (", "\n("), fontsize=plots.SMALL, rotation=0, ha="right",
                                va="center")
    fig.suptitle(f"{activation}: activations per hidden layer at initialization (rows: init)", fontsize=plots.SMALL + 2,
                 y=0.97)
    fig.supxlabel(f"activation value ({activation})", fontsize=plots.SMALL + 0.5, y=0.02)
    fig.supylabel("share of units (each panel scaled to its peak)", fontsize=plots.SMALL + 0.5, x=0.01)
    fig.subplots_adjust(left=0.25, right=0.99, bottom=0.09, top=0.9, wspace=0.12, hspace=0.3)
    return fig


def _diagnose_deep(report, X, num_classes, depth, width, seed):
    """Why, per layer: :func:`nnbasics.diagnostics.init_report` on the deep ReLU nets at initialization
    (the same weights the deep part trains): measured activation variance against the
    fan-in prediction, and the report's own plain-language findings."""
    from ...diagnostics import init_report

    rows, said = [], []
    for i in DEEP_INITS:
        net = D.build_net(X.shape[1], num_classes, depth=depth, width=width, activation="relu", init=i, seed=seed)
        rep = init_report(net, X)
        first, mid, last = rep.rows[0], rep.rows[len(rep.rows) // 2], rep.rows[-1]
        rows.append([LABELS[i], f"{first.act_var:.2g}", f"{mid.act_var:.2g}", f"{last.act_var:.2g}",
                     f"{last.act_ratio:.2f}"])
        Metrics(report)["deep", "diag", "act_var_last", i] = last.act_var
        said += [f"{LABELS[i]}: {s}" for s in rep.findings()[:2]]
    report.table(["init", "Var[y] layer 1", f"Var[y] layer {len(rep.rows) // 2 + 1}", f"Var[y] layer {len(rep.rows)}",
                  "measured / predicted (last)"], rows,
                 f"diagnostics.init_report on the {depth}-layer ReLU nets at initialization: the pre-activation "
                 "variance of each Linear layer, and how well fan_in x Var[W] x E[x^2] predicts it.")
    for s in said:
        report.finding("Diagnostics — " + s)


def _sweep(ctx, cfg, common):
    """The grid (every activation x init, first seed; the judged cells for every seed) and the deep nets (every seed).

    Common random numbers: within a part and a seed, every net starts from the same draws (scaled by
    its init) and sees the same minibatches.
    """
    depth, L = cfg["depth"], cfg["deep_depth"]

    def seeds(part, r):
        extra = (r,) if r else ()
        return {"net_seed": ctx.seed_for(NAME, part, "weights", *extra),
                "batch_seed": ctx.seed_for(NAME, part, "batches", *extra), "seed_index": r}

    grid = [dict(common, activation=a, init=i, depth=depth, width=cfg["width"], steps=cfg["steps"], lr=cfg["lr"],
                 hist=r == 0, **seeds("grid", r))
            for r in range(cfg["seeds"]) for a in ACTIVATIONS for i in INITS
            if r == 0 or (a in JUDGED and i in (*GOOD, *BAD))]
    deep = [dict(common, activation="relu", init=i, depth=L, width=cfg["deep_width"], steps=cfg["deep_steps"],
                 lr=cfg["deep_lr"], hist=False, **seeds("deep", r)) for r in range(cfg["seeds"]) for i in DEEP_INITS]
    t0 = time.perf_counter()
    results = ctx.map(train_job, deep + grid, desc="init sweep")
    return results[:len(deep)], results[len(deep):], time.perf_counter() - t0


def _measure(report, res, deep_res, grid_seeds, deep_seeds, L, chance_loss) -> Metrics:
    """Every number of the report, under its structured name; the first seed unless ``seeds``."""
    m = Metrics(report)
    for (a, i), r in res.items():
        m["accuracy", a, i] = r["accuracy"]
        m["initial_loss", a, i], m["final_loss", a, i] = r["loss"][0], r["loss"][-1]
        m["act_std_last", a, i] = r["act_std"][-1]
    for a in ACTIVATIONS:
        m.record(("zeros", "unit_spread", a), max(res[(a, "zeros")]["spread"]),
                 label=f"zero init, {a}: how different the hidden units end up (0: identical)")
        m["unit_spread_min", a] = min(max(res[(a, i)]["spread"]) for i in INITS if i != "zeros")
    for (a, i), values in grid_seeds.items():
        m["seeds", "accuracy", a, i] = values
    for i, r in deep_res.items():
        m["deep", "loss_initial", i], m["deep", "loss_final", i] = r["loss"][0], r["loss"][-1]
        m["deep", "loss_ratio", i] = loss_ratio(r["loss"])
        m.record(("deep", "loss_ratio_mean", i), float(np.mean(deep_seeds[i])),
                 label=f"{L}-layer ReLU net, {LABELS[i]}: final / initial loss (mean over seeds)")
        m["seeds", "deep", "loss_ratio", i] = deep_seeds[i]
        m["deep", "accuracy", i] = r["accuracy"]
        m["deep", "act_std_first", i], m["deep", "act_std_last", i] = r["act_std"][0], r["act_std"][-1]
        m.record(("deep", "std_ratio", i), r["act_std"][-1] / r["act_std"][0] if r["act_std"][0] > 0 else math.nan,
                 label=f"measured: {LABELS[i]} activation std, layer {L} over layer 1")
    m.record(("deep", "std_ratio_theory"), float(std_theory(L)[-1]),
             label=f"theory: LeCun/Glorot activation std, layer {L} over layer 1")
    m["deep", "depth"], m["chance_loss"] = L, chance_loss
    return m


def _text(report, cfg, data, chance_loss):
    report.section("Names, untangled", (
        "- **LeCun** — Var(W) = 1/fan_in, i.e. `randn(fan_in, fan_out) / sqrt(fan_in)`: what the lecture and "
        "CS231n call \"Xavier\" (LeCun et al. 1998).\n"
        "- **Xavier/Glorot** — Var(W) = 2/(fan_in + fan_out) (Glorot & Bengio 2010, the paper behind the name); "
        "equal to LeCun when fan_in = fan_out.\n"
        "- **He** — Var(W) = 2/fan_in, the lecture's `randn(fan_in, fan_out) / sqrt(fan_in / 2)` (He et al. 2015): "
        "a ReLU zeroes half its inputs, so it keeps half the variance; the factor 2 gives it back.\n"
        "- **N(0, 1)** is `randn`, **N(0, 0.01²)** the lecture's `0.01 * randn`, **zeros** all weights 0. "
        "Biases start at 0 in every case."))
    report.section("Setup", (
        f"Grid: {cfg['depth']} hidden layers of {cfg['width']} units, {cfg['steps']} SGD steps (batch "
        f"{cfg['batch_size']}, learning rate {cfg['lr']}, momentum 0.9, gradient norm clipped at 5 — clipping tames "
        "N(0, 1)'s huge gradients and cannot enlarge a vanishing one). Deep part: a ReLU net of "
        f"{cfg['deep_depth']} hidden layers of {cfg['deep_width']} units, {cfg['deep_steps']} steps at learning rate "
        f"{cfg['deep_lr']}. Within each part and seed every net starts from the same random draws (scaled by its "
        f"init) and sees the same minibatches; losses are measured on a fixed probe batch of {cfg['probe']} training "
        f"images (chance: ln {data.num_classes} = {chance_loss:.2f}). The deep part and the judged cells of the grid "
        f"run {cfg['seeds']} seeds; the figures and the other cells show the first. The verdict reads the tanh and "
        "ReLU rows (the lecture's figures); sigmoid's row is shown and discussed, not judged, because the lecture's "
        "remedy for sigmoid is a different non-linearity (experiment `activation`)."))


def _figures(report, res, deep_res, cfg, data, chance_loss):
    from .. import plots

    depth, L = cfg["depth"], cfg["deep_depth"]
    for a in ACTIVATIONS:
        report.figure(_hist_figure(res, a, depth, plots), f"hist_{a}",
                      f"{a}: histogram of the hidden layers' activations at initialization (rows: init; fixed bins "
                      f"over {HIST_RANGE[a]}, values outside counted in the end bins; sd: the standard deviation). Too "
                      "small (N(0, 0.01²)): the activations collapse toward a constant layer by layer; too large "
                      "(N(0, 1)): " + ("they pile up at the saturated ends; " if a != "relu" else
                                       "they blow up (end bin); ")
                      + "zeros: one value; the scaled inits keep a spread in every layer.")
    fig, axes = plots.new_figure(1, len(ACTIVATIONS), width=9.0, height=3.6, sharey=True)
    for ax, a in zip(axes[0], ACTIVATIONS):
        plots.line_plot({LABELS[i]: (res[(a, i)]["loss_steps"], res[(a, i)]["loss"]) for i in INITS}, "step",
                        "probe loss" if a == ACTIVATIONS[0] else "", a, logy=True, ax=ax, legend=False)
        ax.axhline(chance_loss, color="grey", ls=":", lw=1)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=plots.SMALL, bbox_to_anchor=(0.5, 1.0))
    report.figure(fig, "training_curves",
                  f"Loss during training for each init, {depth} hidden layers, first seed (log scale; dotted: chance, "
                  f"ln {data.num_classes}). Zeros and N(0, 0.01²) sit at chance; N(0, 1) starts far above it.")
    fig, axes = plots.new_figure(1, 2, width=9.0, height=4.0)
    plots.line_plot({LABELS[i]: (deep_res[i]["loss_steps"], deep_res[i]["loss"]) for i in DEEP_INITS}, "step",
                    "probe loss", f"{L}-layer ReLU net: training", ax=axes[0, 0])
    axes[0, 0].axhline(chance_loss, color="grey", ls=":", lw=1)
    layers = np.arange(1, L + 1)
    series = {LABELS[i]: (layers, deep_res[i]["act_std"]) for i in DEEP_INITS}
    series["theory (1/2)^(l/2)"] = (layers, std_theory(L, deep_res["lecun"]["act_std"][0]))
    plots.line_plot(series, "hidden layer", "activation std at init", f"{L}-layer ReLU net: signal at init",
                    logy=True, ax=axes[0, 1])
    report.figure(fig, "deep_relu",
                  f"Left: the {L}-layer ReLU net's loss (first seed) — He trains, LeCun and Xavier/Glorot stall at "
                  "chance (their lines coincide: different markers and dashes keep both visible). Right: activation "
                  "std per layer at initialization (log scale): with LeCun/Glorot it shrinks as (1/2)^(l/2) (the "
                  "theory line), with He it stays constant.")


def _tables(report, m, res, grid_seeds, deep_seeds, cfg):
    L = cfg["deep_depth"]

    def acc(a, i):
        return stats.estimate(grid_seeds[(a, i)]).text(".3f") if (a, i) in grid_seeds and cfg["seeds"] > 1 \
            else f"{res[(a, i)]['accuracy']:.3f}"

    report.table(["init"] + list(ACTIVATIONS), [[LABELS[i]] + [acc(a, i) for a in ACTIVATIONS] for i in INITS],
                 f"Test accuracy after {cfg['steps']} steps ({cfg['depth']} hidden layers): the judged cells (tanh and "
                 f"ReLU, all but N(0, 0.01²)) as mean ± the 95% interval's half-width over {cfg['seeds']} seeds, the "
                 "others from the first seed.")
    report.table(["init"] + [f"{a}: loss start → end" for a in ACTIVATIONS],
                 [[LABELS[i]] + [f"{_fmt(res[(a, i)]['loss'][0])} → {_fmt(res[(a, i)]['loss'][-1])}"
                                 for a in ACTIVATIONS] for i in INITS],
                 "Probe loss at the start and the end of training, first seed (n/a: diverged).")
    report.table(["init", "loss start → end", "end / start (all seeds)", f"std layer 1 → layer {L}", "test accuracy"],
                 [[LABELS[i], f"{_fmt(m['deep', 'loss_initial', i])} → {_fmt(m['deep', 'loss_final', i])}",
                   stats.estimate(deep_seeds[i]).text(".2f"),
                   f"{_fmt(m['deep', 'act_std_first', i], '.2g')} → {_fmt(m['deep', 'act_std_last', i], '.2g')}",
                   f"{m['deep', 'accuracy', i]:.1%}"] for i in DEEP_INITS],
                 f"The {L}-layer ReLU net, first seed except the loss ratio (mean ± 95% half-width over "
                 f"{cfg['seeds']} seeds). Theory for LeCun: the std shrinks by (1/2)^(({L}-1)/2) = "
                 f"{m['deep', 'std_ratio_theory']:.2g} from layer 1 to layer {L}.")


def _findings(report, m, res, L):
    for a in ACTIVATIONS:
        s, other = m["zeros", "unit_spread", a], m["unit_spread_min", a]
        same = s is not None and s < SYMMETRIC
        report.finding(f"Zero init, {a}: after training the units of each hidden layer differ by at most {s:.2g} "
                       f"(relative) — {'all identical: the symmetry is never broken' if same else 'not identical'}; "
                       f"with the other inits they differ by at least {_fmt(other, '.2g')}.")
    sig = {i: res[("sigmoid", i)]["accuracy"] for i in INITS}
    best = max(sig, key=sig.get)
    report.finding(f"Sigmoid (not judged): best init {LABELS[best]} at {sig[best]:.1%}; LeCun {sig['lecun']:.1%}, "
                   f"Glorot {sig['xavier']:.1%}, He {sig['he']:.1%}, N(0, 1) {sig['normal']:.1%}. Glorot's derivation "
                   "assumes a unit slope at 0 (tanh); sigmoid's is 1/4, so its variance-preserving scale is about 4x "
                   "larger (the deep-learning tutorials of Bengio's group use 4x Glorot's scale for sigmoid).")
    for i in ("lecun", "xavier"):
        report.finding(f"{L}-layer ReLU net, {LABELS[i]}: activation std falls from "
                       f"{_fmt(m['deep', 'act_std_first', i], '.2g')} to {_fmt(m['deep', 'act_std_last', i], '.2g')} "
                       f"(ratio {_fmt(m['deep', 'std_ratio', i], '.2g')}; theory {m['deep', 'std_ratio_theory']:.2g}); "
                       f"He's ratio is {_fmt(m['deep', 'std_ratio', 'he'], '.2g')}.")


def _data(ctx, report) -> tuple:
    """``(X, y, X_test, y_test, num_classes)``: the images flattened and standardized; the data note set."""
    data = ctx.images()
    X, X_test = D.flatten_standardize(data.X_train, data.X_test)
    y, y_test = data.y_train.astype(np.int64), data.y_test.astype(np.int64)
    report.data_note = data.note() + (" Inputs are flattened and standardized with the training set's mean and "
                                      "std (unit-variance inputs are what the init formulas assume).")
    return X, y, X_test, y_test, data


def _by_seed(deep_all, grid_all) -> tuple:
    """``(deep_res, res, deep_seeds, grid_seeds)``: the first seed's runs by init (and activation), and the
    verdict's per-seed numbers: the deep nets' loss ratios, the judged grid cells' accuracies."""
    deep_res = {r["init"]: r for r in deep_all if r["seed_index"] == 0}
    res = {(r["activation"], r["init"]): r for r in grid_all if r["seed_index"] == 0}
    deep_seeds = {i: [loss_ratio(r["loss"]) for r in sorted(deep_all, key=lambda r: r["seed_index"]) if r["init"] == i]
                  for i in DEEP_INITS}
    grid_seeds = {}
    for r in sorted(grid_all, key=lambda r: r["seed_index"]):
        if r["activation"] in JUDGED and r["init"] in (*GOOD, *BAD):
            grid_seeds.setdefault((r["activation"], r["init"]), []).append(r["accuracy"])
    return deep_res, res, deep_seeds, grid_seeds


def run(ctx):
    """Run both parts and return the :class:`~nnbasics.lab.report.Report` (module docstring)."""
    cfg, report = EXPERIMENT.begin(ctx)
    X, y, X_test, y_test, data = _data(ctx, report)
    chance_loss = math.log(data.num_classes)
    common = {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "batch_size": cfg["batch_size"],
              "probe": cfg["probe"], "bins": cfg["bins"]}
    # sweep
    deep_all, grid_all, sweep_s = _sweep(ctx, cfg, common)
    deep_res, res, deep_seeds, grid_seeds = _by_seed(deep_all, grid_all)
    # measure, verdict
    m = _measure(report, res, deep_res, grid_seeds, deep_seeds, cfg["deep_depth"], chance_loss)
    supported, because, decisions = verdict(deep_seeds, grid_seeds)
    for k, d in decisions.items():
        m["effect", k] = d.to_dict()
    # report
    report.timings["sweep_s"] = round(sweep_s, 3)
    report.config.update({"sizes": cfg, "optimizer": "SGD momentum 0.9, gradient-norm clip 5",
                          "thresholds": {"fall": FALL, "stall": STALL, "symmetric": SYMMETRIC},
                          "judged_activations": list(JUDGED)})
    _text(report, cfg, data, chance_loss)
    _figures(report, res, deep_res, cfg, data, chance_loss)
    _tables(report, m, res, grid_seeds, deep_seeds, cfg)
    _findings(report, m, res, cfg["deep_depth"])
    _diagnose_deep(report, X[:cfg["probe"]], data.num_classes, cfg["deep_depth"], cfg["deep_width"],
                   ctx.seed_for(NAME, "deep", "weights"))
    report.conclude(supported, because, rule=stats.rule_text(cfg["seeds"], quick=ctx.quick))
    return report
