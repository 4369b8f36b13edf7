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
#: Verdict thresholds on the 30-layer nets' final / initial probe loss.
FALL, STALL = 0.8, 0.95
#: A zero-init layer counts as symmetric when its units differ by less than this (relative).
SYMMETRIC = 1e-6


def sizes(quick: bool) -> dict:
    """The sizes of both parts for quick or full mode."""
    if quick:
        return {"depth": 5, "width": 32, "steps": 150, "lr": 0.05, "deep_depth": 30, "deep_width": 64,
                "deep_steps": 200, "deep_lr": 0.01, "batch_size": 64, "probe": 256, "bins": 30}
    return {"depth": 10, "width": 64, "steps": 1500, "lr": 0.05, "deep_depth": 30, "deep_width": 64,
            "deep_steps": 1500, "deep_lr": 0.01, "batch_size": 64, "probe": 512, "bins": 40}


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
              probe, bins, hist=True):
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
        out = {"activation": activation, "init": init, "depth": depth,
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
        deep_ratio: ``{init: final/initial probe loss}`` of the 30-layer ReLU nets; needs ``he``
            and at least one of ``xavier`` / ``lecun``.
        accuracy: ``{(activation, init): test accuracy}`` of the grid.
        fall, stall: He must end below ``fall`` x its initial loss, every Xavier variant above ``stall`` x.
        judged: activations whose rows must show ``max(bad) < min(good)``.

    Returns:
        (supported: bool | None, because: str); None when a needed number is missing or NaN.
    """
    def finite(v):
        return isinstance(v, (int, float)) and math.isfinite(v)

    xav = [k for k in ("xavier", "lecun") if k in deep_ratio]
    needed = [deep_ratio.get("he")] + [deep_ratio[k] for k in xav] + \
        [accuracy.get((a, i)) for a in judged for i in (*good, *bad)]
    if not xav or not all(finite(v) for v in needed):
        return None, f"a needed measurement is missing or not finite: deep {deep_ratio}, grid {accuracy}"
    parts, ok = [], True
    he_ok = deep_ratio["he"] < fall
    ok &= he_ok
    parts.append(f"30-layer ReLU net: He's loss ends at {deep_ratio['he']:.2f}x its initial value (needed < {fall:g}: "
                 f"{'yes' if he_ok else 'no'})")
    for k in xav:
        s_ok = deep_ratio[k] > stall
        ok &= s_ok
        parts.append(f"{LABELS[k]}'s at {deep_ratio[k]:.2f}x (needed > {stall:g}, a stall: {'yes' if s_ok else 'no'})")
    for a in judged:
        worst_good = min(good, key=lambda i: accuracy[(a, i)])
        best_bad = max(bad, key=lambda i: accuracy[(a, i)])
        a_ok = accuracy[(a, best_bad)] < accuracy[(a, worst_good)]
        ok &= a_ok
        parts.append(f"{a}: best of {'/'.join(LABELS[b] for b in bad)} {accuracy[(a, best_bad)]:.1%} ({LABELS[best_bad]})"
                     f" vs worst of the scaled inits {accuracy[(a, worst_good)]:.1%} ({LABELS[worst_good]}) "
                     f"(needed below: {'yes' if a_ok else 'no'})")
    return bool(ok), "; ".join(parts) + "."


def _fmt(v, spec=".3g"):
    return "n/a" if v is None or not math.isfinite(v) else format(v, spec)


def _hist_figure(results, activation, depth, plots):
    """One row per init, one panel per hidden layer (fixed bins; drawn without tight_layout: 30+ panels)."""
    fig, axes = plots.new_figure(len(INITS), depth, width=min(16.0, 1.9 * depth + 1.6), height=1.2 * len(INITS) + 0.6)
    lo, hi = HIST_RANGE.get(activation, (-3.0, 3.0))
    ticks = [lo, (lo + hi) / 2, hi]
    for row, init in enumerate(INITS):
        r = results[(activation, init)]
        for col in range(depth):
            ax = axes[row, col]
            counts, edges = r["hists"][col]
            ax.stairs(counts, edges, fill=True, color="#4c72b0")
            ax.set_yticks([])  # explicit ticks: locating them automatically on 30+ panels costs seconds
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks] if row == len(INITS) - 1 else [])
            ax.set_xlim(lo, hi)
            ax.tick_params(labelsize=6, length=2)
            if row == 0:
                ax.set_title(f"layer {col + 1}", fontsize=8)
            ax.text(0.97, 0.92, f"std {_fmt(r['act_std'][col], '.2g')}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=6)
        axes[row, 0].set_ylabel(LABELS[init].replace(" (", "\n("), fontsize=7, rotation=0, ha="right",
                                va="center")
    fig.suptitle(f"{activation}: activations per layer at initialization", fontsize=10)
    fig.subplots_adjust(left=0.16, right=0.99, bottom=0.06, top=0.9, wspace=0.08, hspace=0.25)
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
        report.metric(f"deep.diag.act_var_last.{i}", last.act_var)
        said += [f"{LABELS[i]}: {s}" for s in rep.findings()[:2]]
    report.table(["init", "Var[y] layer 1", f"Var[y] layer {len(rep.rows) // 2 + 1}", f"Var[y] layer {len(rep.rows)}",
                  "measured / predicted (last)"], rows,
                 f"diagnostics.init_report on the {depth}-layer ReLU nets at initialization: the pre-activation "
                 "variance of each Linear layer, and how well fan_in x Var[W] x E[x^2] predicts it.")
    for s in said:
        report.finding("Diagnostics — " + s)


def run(ctx):
    """Run both parts and return the :class:`~nnbasics.lab.report.Report` (module docstring)."""
    from .. import plots
    from ..report import Report

    cfg = sizes(ctx.quick)
    report = Report(NAME, TITLE, CLAIM)
    data = ctx.images()
    X, X_test = D.flatten_standardize(data.X_train, data.X_test)
    y, y_test = data.y_train.astype(np.int64), data.y_test.astype(np.int64)
    chance_loss = math.log(data.num_classes)
    report.data_note = data.note() + (" Inputs are flattened and standardized with the training set's mean and "
                                      "std (unit-variance inputs are what the init formulas assume).")
    common = {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "batch_size": cfg["batch_size"],
              "probe": cfg["probe"], "bins": cfg["bins"]}
    depth, L = cfg["depth"], cfg["deep_depth"]
    # Common random numbers: every net of a part starts from the same seed (the same standard-normal draws,
    # scaled by its init) and sees the same minibatches.
    grid = [dict(common, activation=a, init=i, depth=depth, width=cfg["width"], steps=cfg["steps"], lr=cfg["lr"],
                 net_seed=ctx.seed_for(NAME, "grid", "weights"), batch_seed=ctx.seed_for(NAME, "grid", "batches"))
            for a in ACTIVATIONS for i in INITS]
    deep = [dict(common, activation="relu", init=i, depth=L, width=cfg["deep_width"], steps=cfg["deep_steps"],
                 lr=cfg["deep_lr"], net_seed=ctx.seed_for(NAME, "deep", "weights"),
                 batch_seed=ctx.seed_for(NAME, "deep", "batches"), hist=False) for i in DEEP_INITS]
    t0 = time.perf_counter()
    results = ctx.map(train_job, deep + grid, desc="init sweep")
    sweep_s = time.perf_counter() - t0
    deep_res = {r["init"]: r for r in results[:len(deep)]}
    res = {(r["activation"], r["init"]): r for r in results[len(deep):]}

    # ---------------------------------------------------------------- metrics
    for (a, i), r in res.items():
        report.metric(f"accuracy.{a}.{i}", r["accuracy"])
        report.metric(f"initial_loss.{a}.{i}", r["loss"][0])
        report.metric(f"final_loss.{a}.{i}", r["loss"][-1])
        report.metric(f"act_std_last.{a}.{i}", r["act_std"][-1])
    for a in ACTIVATIONS:
        report.metric(f"zeros.unit_spread.{a}", max(res[(a, "zeros")]["spread"]))
        report.metric(f"unit_spread_min.{a}", min(max(res[(a, i)]["spread"]) for i in INITS if i != "zeros"))
    theory = std_theory(L)
    for i, r in deep_res.items():
        report.metric(f"deep.loss_initial.{i}", r["loss"][0])
        report.metric(f"deep.loss_final.{i}", r["loss"][-1])
        report.metric(f"deep.loss_ratio.{i}", loss_ratio(r["loss"]))
        report.metric(f"deep.accuracy.{i}", r["accuracy"])
        report.metric(f"deep.act_std_first.{i}", r["act_std"][0])
        report.metric(f"deep.act_std_last.{i}", r["act_std"][-1])
        report.metric(f"deep.std_ratio.{i}", r["act_std"][-1] / r["act_std"][0] if r["act_std"][0] > 0 else math.nan)
    report.metric("deep.std_ratio_theory", float(theory[-1]))
    report.metric("deep.depth", L)
    report.metric("chance_loss", chance_loss)
    m = report.metrics
    report.timings["sweep_s"] = round(sweep_s, 3)
    report.config.update({"sizes": cfg, "optimizer": "SGD momentum 0.9, gradient-norm clip 5",
                          "thresholds": {"fall": FALL, "stall": STALL, "symmetric": SYMMETRIC},
                          "judged_activations": list(JUDGED)})

    # ------------------------------------------------------------------ text
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
        f"Grid: {depth} hidden layers of {cfg['width']} units, {cfg['steps']} SGD steps (batch {cfg['batch_size']}, "
        f"learning rate {cfg['lr']}, momentum 0.9, gradient norm clipped at 5 — clipping tames N(0, 1)'s huge "
        "gradients and cannot enlarge a vanishing one). Deep part: a ReLU net of "
        f"{L} hidden layers of {cfg['deep_width']} units, {cfg['deep_steps']} steps at learning rate "
        f"{cfg['deep_lr']}. Within each part every net starts from the same random draws (scaled by its init) "
        f"and sees the same minibatches; losses are measured on a fixed probe batch of {cfg['probe']} training "
        f"images (chance: ln {data.num_classes} = {chance_loss:.2f}). The verdict reads the tanh and ReLU rows "
        "(the lecture's figures); sigmoid's row is shown and discussed, not judged, because the lecture's remedy "
        "for sigmoid is a different non-linearity (experiment `activation`)."))

    # --------------------------------------------------------------- figures
    for a in ACTIVATIONS:
        report.figure(_hist_figure(res, a, depth, plots), f"hist_{a}",
                      f"{a}: histogram of each hidden layer's activations at initialization (rows: init; fixed bins "
                      f"over {HIST_RANGE[a]}, values outside counted in the end bins). Too small (N(0, 0.01²)): the "
                      "activations collapse toward a constant layer by layer; too large (N(0, 1)): "
                      + ("they pile up at the saturated ends; " if a != "relu" else "they blow up (end bin); ")
                      + "zeros: one value; the scaled inits keep a spread in every layer.")
    fig, axes = plots.new_figure(1, len(ACTIVATIONS), width=14, height=4.0)
    for ax, a in zip(axes[0], ACTIVATIONS):
        plots.line_plot({LABELS[i]: (res[(a, i)]["loss_steps"], res[(a, i)]["loss"]) for i in INITS}, "step",
                        "probe loss", f"{a}, {depth} hidden layers", logy=True, ax=ax)
        ax.axhline(chance_loss, color="grey", ls=":", lw=1)
    report.figure(fig, "training_curves",
                  f"Loss during training for each init (log scale; dotted: chance, ln {data.num_classes}). Zeros "
                  "and N(0, 0.01²) sit at chance; N(0, 1) starts far above it.")
    fig, axes = plots.new_figure(1, 2, width=11, height=4.2)
    plots.line_plot({LABELS[i]: (deep_res[i]["loss_steps"], deep_res[i]["loss"]) for i in DEEP_INITS}, "step",
                    "probe loss", f"{L}-layer ReLU net: training", ax=axes[0, 0])
    axes[0, 0].axhline(chance_loss, color="grey", ls=":", lw=1)
    layers = np.arange(1, L + 1)
    series = {LABELS[i]: (layers, deep_res[i]["act_std"]) for i in DEEP_INITS}
    series["theory (1/2)^(l/2)"] = (layers, std_theory(L, deep_res["lecun"]["act_std"][0]))
    plots.line_plot(series, "hidden layer", "activation std at init", f"{L}-layer ReLU net: signal at init",
                    logy=True, ax=axes[0, 1])
    report.figure(fig, "deep_relu",
                  f"Left: the {L}-layer ReLU net's loss — He trains, LeCun and Xavier/Glorot stall at chance. "
                  "Right: activation std per layer at initialization (log scale): with LeCun/Glorot it shrinks as "
                  "(1/2)^(l/2) (the line), with He it stays constant.")

    # ---------------------------------------------------------------- tables
    report.table(["init"] + list(ACTIVATIONS),
                 [[LABELS[i]] + [f"{res[(a, i)]['accuracy']:.1%}" for a in ACTIVATIONS] for i in INITS],
                 f"Test accuracy after {cfg['steps']} steps ({depth} hidden layers).")
    report.table(["init"] + [f"{a}: loss start → end" for a in ACTIVATIONS],
                 [[LABELS[i]] + [f"{_fmt(res[(a, i)]['loss'][0])} → {_fmt(res[(a, i)]['loss'][-1])}"
                                 for a in ACTIVATIONS] for i in INITS],
                 "Probe loss at the start and the end of training (n/a: diverged).")
    report.table(["init", "loss start → end", "end / start", "std layer 1 → layer " + str(L), "test accuracy"],
                 [[LABELS[i], f"{_fmt(m[f'deep.loss_initial.{i}'])} → {_fmt(m[f'deep.loss_final.{i}'])}",
                   _fmt(m[f"deep.loss_ratio.{i}"]),
                   f"{_fmt(m[f'deep.act_std_first.{i}'], '.2g')} → {_fmt(m[f'deep.act_std_last.{i}'], '.2g')}",
                   f"{m[f'deep.accuracy.{i}']:.1%}"]
                  for i in DEEP_INITS],
                 f"The {L}-layer ReLU net (theory for LeCun: std shrinks by (1/2)^(({L}-1)/2) = "
                 f"{m['deep.std_ratio_theory']:.2g} from layer 1 to layer {L}).")

    # -------------------------------------------------------------- findings
    for a in ACTIVATIONS:
        s, other = m[f"zeros.unit_spread.{a}"], m[f"unit_spread_min.{a}"]
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
        report.finding(f"{L}-layer ReLU net, {LABELS[i]}: activation std falls from {_fmt(m[f'deep.act_std_first.{i}'], '.2g')}"
                       f" to {_fmt(m[f'deep.act_std_last.{i}'], '.2g')} (ratio {_fmt(m[f'deep.std_ratio.{i}'], '.2g')}; "
                       f"theory {m['deep.std_ratio_theory']:.2g}); He's ratio is {_fmt(m['deep.std_ratio.he'], '.2g')}.")

    _diagnose_deep(report, X[:cfg["probe"]], data.num_classes, L, cfg["deep_width"],
                   ctx.seed_for(NAME, "deep", "weights"))

    supported, because = verdict({i: m[f"deep.loss_ratio.{i}"] for i in DEEP_INITS if m[f"deep.loss_ratio.{i}"]
                                  is not None}, {k: r["accuracy"] for k, r in res.items()})
    report.conclude(supported, because)
    return report
