"""Lab experiment ``activation``: the wrong non-linearity — deep sigmoid nets stop learning, ReLU fixes it.

Six activations (sigmoid, tanh, ReLU, leaky ReLU, ELU, GELU) in MLPs of ``depth`` hidden
layers (2 to 20), each trained with the same budget (minibatch SGD, momentum 0.9, one learning
rate for all, gradient-norm clipping at 5). For each: test accuracy after the budget, and the
first-to-last-layer gradient ratio ``||dL/dW_1|| / ||dL/dW_out||`` at initialization and after
training, on a fixed probe batch. Every net gets a fair init: He (``N(0, 2/fan_in)``) for the
ReLU family, Xavier/Glorot (``N(0, 2/(fan_in+fan_out))``) for sigmoid and tanh; the deepest
nets are also run with the *other* init, so every activation is seen with both.

The lecture's argument, numerically: sigmoid'(x) = s(x)(1 - s(x)) <= 1/4, so the backward pass
through ``L`` sigmoid layers multiplies the gradient by at most ``0.25^L`` (~1e-12 for L = 20)
before the weights are counted.

Metric keys (``report.metrics``; ``<act>`` in :data:`ACTIVATIONS`, ``<d>`` a depth):

* ``accuracy.<act>.<d>`` -- test accuracy after the budget (fair init).
* ``grad_ratio_init.<act>.<d>``, ``grad_ratio_trained.<act>.<d>`` -- first/last weight-gradient norm.
* ``same_init.<init>.grad_ratio_init.<act>``, ``same_init.<init>.accuracy.<act>`` -- the deepest
  nets with ``<init>`` in ``xavier``, ``he`` for every activation.
* ``mean_slope_product.<act>`` -- product over the deepest net's layers of the mean f'(z) at init.
* ``sigmoid_slope_max`` (measured by autograd on a grid), ``sigmoid_bound`` (its power ``deepest``),
  ``deepest``, ``chance``.
* ``ratio_sigmoid_over_relu``, ``accuracy_gap_relu_minus_sigmoid`` -- the first seed's deepest nets.
* ``seeds.*`` -- the verdict's inputs: the deepest sigmoid and ReLU nets from ``seeds`` seeds
  (the sweep's plus more, each shared by the two activations), and ``effect.*`` the lab's
  decisions on their per-seed differences (:mod:`nnbasics.lab.stats`).

Example:
    >>> from nnbasics.lab.registry import run_experiment
    >>> report = run_experiment("activation", quick=True, progress=False)  # doctest: +SKIP
    >>> report.metrics["grad_ratio_init.sigmoid.20"] < 1e-2 * report.metrics["grad_ratio_init.relu.20"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import stats
from ..experiment import Experiment, Metrics
from . import _deepnet as D

NAME = "activation"
TITLE = "The wrong non-linearity: deep sigmoid nets stop learning, ReLU fixes it"
CLAIM = ("\"We used the wrong type of non-linearity\" (Hinton's fourth reason): the slope of the logistic "
         "sigmoid is at most 1/4, so the gradient reaching the first layers of a deep sigmoid net shrinks "
         "geometrically with depth and those layers stop learning; rectified linear units (and their "
         "variants) pass the gradient through unchanged where they are active, so deep ReLU nets train.")

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu")
#: The init each activation is designed for: Glorot for the saturating ones, He for the ReLU family.
FAIR_INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "leaky_relu": "he", "elu": "he", "gelu": "he"}

#: Verdict thresholds: sigmoid's ratio must be this many times below ReLU's, and ReLU's accuracy this much higher
#: (each beyond the noise over seeds).
RATIO_FACTOR = 100.0
ACCURACY_MARGIN = 0.05

REFERENCES = (
    ("Glorot & Bengio (2010). Understanding the difficulty of training deep feedforward neural networks. AISTATS.",
     "https://proceedings.mlr.press/v9/glorot10a.html"),
    ("Glorot, Bordes & Bengio (2011). Deep sparse rectifier neural networks. AISTATS.",
     "https://proceedings.mlr.press/v15/glorot11a.html"),
    (("He, Zhang, Ren & Sun (2015). Delving deep into rectifiers: surpassing human-level performance on ImageNet "
      "classification. ICCV."), "https://arxiv.org/abs/1502.01852"),
)

EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"depths": (2, 5, 10, 20), "width": 32, "steps": 150, "batch_size": 64, "lr": 0.05, "n_train": None,
           "n_test": None, "probe": 256, "seeds": 4},
    full={"depths": (2, 4, 6, 8, 10, 14, 20), "width": 64, "steps": 1200, "batch_size": 64, "lr": 0.05,
          "n_train": None, "n_test": None, "probe": 512, "seeds": 5})
settings = sizes = EXPERIMENT.settings  # ``sizes``: this module's earlier name for it


def sigmoid_slope_max(lo=-10.0, hi=10.0, n=20001) -> float:
    """max over a grid of x in [lo, hi] of sigmoid'(x), by autograd (the lecture's 1/4, reached at x = 0)."""
    from ...tensor import tensor

    t = tensor(np.linspace(lo, hi, n).astype(np.float32), requires_grad=True)
    t.sigmoid().sum().backward()
    return float(np.max(t.grad._array))


def grad_ratio(norms) -> float:
    """First layer's gradient norm over the last (output) layer's; NaN when undefined."""
    norms = np.asarray(norms, dtype=np.float64)
    if norms.size < 2 or not np.isfinite(norms[[0, -1]]).all() or norms[-1] <= 0:
        return float("nan")
    return float(norms[0] / norms[-1])


def train_job(*, X, y, X_test, y_test, activation, init, depth, width, steps, batch_size, lr, net_seed,
              batch_seed, probe, seed_index=0):
    """Build, probe, train and measure one net (a top-level function for ``ctx.map``).

    ``seed_index`` (0: the sweep's seed) is recorded in the result.

    Returns:
        dict: ``accuracy``, ``grad_init`` and ``grad_trained`` (per-layer weight-gradient norms),
        ``slopes`` (mean f'(z) per hidden layer at init), ``loss`` / ``loss_steps`` (probe-loss
        curve), ``seconds``.
    """
    with D.single_thread_blas():
        out = _train_job(X=X, y=y, X_test=X_test, y_test=y_test, activation=activation, init=init, depth=depth,
                         width=width, steps=steps, batch_size=batch_size, lr=lr, net_seed=net_seed,
                         batch_seed=batch_seed, probe=probe)
    return {**out, "seed_index": int(seed_index)}


def _train_job(*, X, y, X_test, y_test, activation, init, depth, width, steps, batch_size, lr, net_seed,
               batch_seed, probe):
    t0 = time.perf_counter()
    Xp, yp = X[:probe], y[:probe]
    net = D.build_net(X.shape[1], int(max(y.max(), y_test.max())) + 1, depth=depth, width=width,
                      activation=activation, init=init, seed=net_seed)
    g0 = D.weight_grad_norms(net, Xp, yp)
    slopes = [D.mean_slope(activation, z) for z, _ in D.trace(net, Xp)]
    curve = D.train(net, X, y, steps=steps, batch_size=batch_size, lr=lr, seed=batch_seed, probe=(Xp, yp))
    g1 = D.weight_grad_norms(net, Xp, yp)
    return {"activation": activation, "init": init, "depth": depth, "accuracy": D.accuracy(net, X_test, y_test),
            "grad_init": g0.tolist(), "grad_trained": g1.tolist(), "slopes": slopes,
            "loss": curve["loss"], "loss_steps": curve["steps"], "seconds": time.perf_counter() - t0}


def verdict(ratio_sigmoid, ratio_relu, acc_sigmoid, acc_relu, *, depth=20, ratio_trained_sigmoid=None,
            ratio_trained_relu=None, factor=RATIO_FACTOR, margin=ACCURACY_MARGIN):
    """Whether the deepest nets' measurements support the claim, and why (with the numbers).

    Every argument is one value per seed (the same seeds for sigmoid and ReLU), or a single
    number (one seed: then no comparison can be decided). With the lab's rule on the per-seed
    differences: ReLU's ``log10`` gradient ratio must exceed sigmoid's by more than
    ``log10(factor)`` beyond the noise (at initialization, and after training when given), and
    ReLU's test accuracy sigmoid's by more than ``margin``.

    Returns:
        (supported: bool | None, because: str, decisions: dict); None also when a number is
        missing (NaN or not positive).
    """
    def arr(v):
        return np.atleast_1d(np.asarray(v, np.float64))

    pairs = [("init", "at initialization", arr(ratio_sigmoid), arr(ratio_relu))]
    if ratio_trained_sigmoid is not None and ratio_trained_relu is not None:
        pairs.append(("trained", "after training", arr(ratio_trained_sigmoid), arr(ratio_trained_relu)))
    values = np.concatenate([v for *_, a, b in pairs for v in (a, b)] + [arr(acc_sigmoid), arr(acc_relu)])
    if not np.all(np.isfinite(values)) or any(np.any(v <= 0) for *_, a, b in pairs for v in (a, b)):
        return None, f"a measurement at depth {depth} is missing or not finite: {values.tolist()}", {}
    d = {f"grad_{key}": stats.decide(np.log10(rr) - np.log10(rs), threshold=math.log10(factor), fmt=".2f",
                                     name=f"{when}, log10 of ReLU's first-to-last gradient ratio over sigmoid's "
                                          f"({depth} layers)")
         for key, when, rs, rr in pairs}
    d["accuracy"] = stats.decide(stats.paired(arr(acc_relu), arr(acc_sigmoid)), threshold=margin,
                                 name=f"ReLU minus sigmoid, test accuracy after the same budget ({depth} layers)")
    rs, rr = pairs[0][2], pairs[0][3]
    return stats.all_of(d.values()), (
        f"the first layer of the {depth}-layer sigmoid net gets {np.exp(np.mean(np.log(rs))):.2g} of the output "
        f"layer's gradient at initialization against ReLU's {np.exp(np.mean(np.log(rr))):.2g} (geometric means); "
        + "; ".join(x.sentence() for x in d.values()) + f" (thresholds: {factor:g}x, i.e. 2 in log10, and "
        f"{margin:.0%} accuracy)."), d


def _fmt(v, spec=".3g"):
    return "n/a" if v is None or not math.isfinite(v) else format(v, spec)


def _monitor_deepest(report, X, y, depth, cfg, seed):
    """Why, per layer: one SGD step of the deepest sigmoid and ReLU nets (their fair inits, the sweep's
    weights) under :class:`nnbasics.diagnostics.SignalMonitor` -- the gradient each layer gets
    relative to the output layer, the update-to-weight ratio it makes (CS231n: ~1e-3 is healthy),
    saturated sigmoid units and dead ReLUs -- with the monitor's plain-language findings."""
    from ... import optim
    from ...diagnostics import SignalMonitor
    from ...tensor import tensor
    from ._steps import train_steps

    rows = []
    xb, yb = tensor(X[:cfg["batch_size"]]), tensor(np.asarray(y[:cfg["batch_size"]], dtype=np.int64))
    for act in ("sigmoid", "relu"):
        net = D.build_net(X.shape[1], int(y.max()) + 1, depth=depth, width=cfg["width"], activation=act,
                          init=FAIR_INIT[act], seed=seed)
        opt = optim.SGD(net.parameters(), lr=cfg["lr"])
        with SignalMonitor(net) as mon:
            train_steps(net, [(xb, yb)], opt, callbacks=[mon.callback()])
        stats = mon.stats()
        params = [s for s in stats if s.kind == "linear"]
        acts = [s for s in stats if s.kind == act]
        tail = [s.saturation if act == "sigmoid" else s.dead_fraction for s in acts]
        first, last = params[0], params[-1]
        rows.append([f"{act} ({FAIR_INIT[act]})", f"{first.grad_ratio:.2g}", f"{first.update_ratio:.2g}",
                     f"{last.update_ratio:.2g}", f"{acts[0].act_std:.2g} → {acts[-1].act_std:.2g}",
                     f"{float(np.nanmean(tail)):.1%}"])
        m = Metrics(report)
        m["monitor", "grad_ratio_first", act] = first.grad_ratio
        m["monitor", "update_ratio_first", act] = first.update_ratio
        m["monitor", "saturation_mean" if act == "sigmoid" else "dead_fraction_mean", act] = float(np.nanmean(tail))
        for s in mon.findings()[:2]:
            report.finding(f"Diagnostics, {depth}-layer {act}: {s}")
    report.table(["net (init)", "first layer's gradient / output layer's", "update/weight, first layer",
                  "update/weight, output layer", "activation std, first → last hidden layer",
                  "saturated (sigmoid) / dead (ReLU) units, mean over layers"], rows,
                 f"diagnostics.SignalMonitor over one SGD step (lr {cfg['lr']:g}) of the {depth}-layer nets; compare "
                 "each update/weight ratio with the ~1e-3 rule of thumb (0: the update was smaller than float32 can "
                 "add to the weights, so they did not move at all).")


def _sweep(ctx, cfg, common, depths, deepest):
    """The fair-init sweep, the deepest nets with the other init, and the verdict's extra seeds (one map)."""
    def seeds(d, r=0):  # common random numbers: at (depth, seed) every activation gets the same draws and batches
        extra = (r,) if r else ()
        return {"net_seed": ctx.seed_for(NAME, "weights", d, *extra), "batch_seed": ctx.seed_for(NAME, "batches", d, *extra)}

    jobs = [dict(common, activation=a, init=FAIR_INIT[a], depth=d, **seeds(d)) for a in ACTIVATIONS for d in depths]
    other = {"xavier": "he", "he": "xavier"}
    jobs += [dict(common, activation=a, init=other[FAIR_INIT[a]], depth=deepest, **seeds(deepest)) for a in ACTIVATIONS]
    jobs += [dict(common, activation=a, init=FAIR_INIT[a], depth=deepest, seed_index=r, **seeds(deepest, r))
             for r in range(1, cfg["seeds"]) for a in ("sigmoid", "relu")]
    t0 = time.perf_counter()
    results = ctx.map(train_job, jobs, desc="activation x depth")
    return results, time.perf_counter() - t0


def _measure(report, fair, res, extra, deepest, chance, slope_max) -> Metrics:
    """Every number of the report, under its structured name (module docstring); the first seed unless ``seeds``."""
    m = Metrics(report)
    m.record("sigmoid_slope_max", slope_max, label="largest slope of the sigmoid, measured (the lecture's 1/4)")
    m["sigmoid_bound"], m["deepest"], m["chance"] = slope_max ** deepest, deepest, chance
    for (a, d), r in fair.items():
        m["accuracy", a, d] = r["accuracy"]
        m["grad_ratio_init", a, d] = grad_ratio(r["grad_init"])
        m["grad_ratio_trained", a, d] = grad_ratio(r["grad_trained"])
    for a in ACTIVATIONS:
        m["mean_slope_product", a] = float(np.prod(fair[(a, deepest)]["slopes"]))
        for init in ("xavier", "he"):
            r = res[(a, init, deepest)]
            m["same_init", init, "grad_ratio_init", a] = grad_ratio(r["grad_init"])
            m["same_init", init, "accuracy", a] = r["accuracy"]
    for a in ("sigmoid", "relu"):
        runs = [fair[(a, deepest)], *extra[a]]
        m["seeds", "accuracy", a] = [r["accuracy"] for r in runs]
        m["seeds", "grad_ratio_init", a] = [grad_ratio(r["grad_init"]) for r in runs]
        m["seeds", "grad_ratio_trained", a] = [grad_ratio(r["grad_trained"]) for r in runs]
    rs, rr = m["grad_ratio_init", "sigmoid", deepest], m["grad_ratio_init", "relu", deepest]
    m.record("ratio_sigmoid_over_relu", rs / rr if rs is not None and rr else float("nan"),
             label=f"{deepest} layers at init: sigmoid's first-to-last gradient ratio over ReLU's")
    m.record("accuracy_gap_relu_minus_sigmoid", m["accuracy", "relu", deepest] - m["accuracy", "sigmoid", deepest],
             label=f"{deepest} layers: ReLU's test accuracy minus sigmoid's (first seed)")
    for a in ("sigmoid", "relu"):
        m.record(("accuracy_mean", a), float(np.mean(m["seeds", "accuracy", a])),
                 label=f"{deepest} layers, {a}: test accuracy (mean over seeds)")
    return m


def _text(report, m, cfg, depths, deepest, slope_max):
    report.section("Setup", (
        f"MLPs with `depth` hidden layers of {cfg['width']} units (depth in {list(depths)}; the net has depth + 1 "
        f"Linear layers), each trained for {cfg['steps']} steps of SGD (batch {cfg['batch_size']}, learning rate "
        f"{cfg['lr']}, momentum 0.9, gradient norm clipped at 5 — clipping shrinks a large gradient and cannot "
        "enlarge a vanishing one) with the same learning rate for every activation. Fair init: **He** "
        "(N(0, 2/fan_in)) for ReLU, leaky ReLU, ELU and GELU; **Xavier/Glorot** (N(0, 2/(fan_in + fan_out))) for "
        f"sigmoid and tanh. The {deepest}-layer nets are also run with the other init, so each activation is seen "
        "with both. At each depth every activation starts from the same random draws and sees the same "
        "minibatches. The gradient ratio is ||dL/dW_1|| / ||dL/dW_out|| on a fixed probe batch of "
        f"{cfg['probe']} training images. The sweep runs one seed; the verdict's nets ({deepest}-layer sigmoid and "
        f"ReLU) run {cfg['seeds']} seeds, each shared by the two. GELU runs in its tanh approximation (GPT-2's; "
        "within ~1e-3 of the exact erf form, which costs three times as much here)."))
    report.section("The lecture's argument, in numbers", (
        f"sigmoid'(x) = s(x)(1 - s(x)) is largest at x = 0; measured by autograd on a grid over [-10, 10]: "
        f"max sigmoid' = {slope_max:.4f}. Backpropagating through {deepest} sigmoid layers multiplies the "
        f"gradient by at most {slope_max:.2f}^{deepest} = {slope_max ** deepest:.2g} before the weights are "
        f"counted. In the {deepest}-layer nets at initialization, the product over layers of the *mean* slope "
        f"f'(z) is {_fmt(m['mean_slope_product', 'sigmoid'])} for sigmoid, {_fmt(m['mean_slope_product', 'tanh'])} for "
        f"tanh and {_fmt(m['mean_slope_product', 'relu'])} for ReLU (ReLU's slope is 1 on the active half; He's "
        "factor 2 in the weight variance makes up for the other half)."))


def _figures(report, fair, depths, deepest, chance, slope_max, steps):
    from .. import plots

    fig, axes = plots.new_figure(1, 1, width=6.5, height=4.2)
    ax = axes[0, 0]
    plots.line_plot({a: (list(depths), [fair[(a, d)]["accuracy"] for d in depths]) for a in ACTIVATIONS},
                    "hidden layers", "test accuracy", f"Accuracy after {steps} steps", ax=ax)
    ax.axhline(chance, color="grey", ls=":", lw=1)
    report.figure(fig, "accuracy_vs_depth",
                  f"Test accuracy after the same budget against depth, one seed (dotted: chance, {chance:.0%}). "
                  "Sigmoid falls to chance as the net deepens; the ReLU family keeps learning.")
    fig, axes = plots.new_figure(1, 2, width=9.0, height=4.0)
    for ax, key, when in ((axes[0, 0], "grad_init", "at initialization"), (axes[0, 1], "grad_trained",
                                                                          "after training")):
        plots.line_plot({a: (list(depths), [grad_ratio(fair[(a, d)][key]) for d in depths]) for a in ACTIVATIONS},
                        "hidden layers", "||dL/dW_1|| / ||dL/dW_out||", f"Gradient ratio {when}", logy=True, ax=ax,
                        legend=ax is axes[0, 0])
    bound_x = np.arange(1, deepest + 1)
    axes[0, 0].plot(bound_x, slope_max ** bound_x, "k--", lw=1, label="0.25^depth")
    axes[0, 0].legend(fontsize=plots.SMALL, ncol=2)
    report.figure(fig, "grad_ratio_vs_depth",
                  "First-layer over output-layer weight-gradient norm against depth (log scale), at initialization "
                  "and after training, one seed. Dashed: the lecture's bound 0.25^depth for sigmoid, before weights. "
                  "Sigmoid's ratio falls geometrically; the ReLU family's stays near 1.")
    fig, axes = plots.new_figure(1, 2, width=9.0, height=4.0)
    for ax, key, when in ((axes[0, 0], "grad_init", "at initialization"), (axes[0, 1], "grad_trained",
                                                                          "after training")):
        series = {}
        for a in ("sigmoid", "tanh", "relu"):
            g = np.asarray(fair[(a, deepest)][key])
            series[f"{a} ({FAIR_INIT[a]})"] = (np.arange(1, len(g) + 1), g)
        plots.line_plot(series, f"Linear layer (1 = input, {deepest + 1} = output)", "||dL/dW||",
                        f"{deepest} hidden layers, {when}", logy=True, ax=ax)
    report.figure(fig, "layer_grad_norms",
                  f"Per-layer weight-gradient norms of the {deepest}-layer nets (log scale, one seed): the "
                  "vanishing-gradient picture. The sigmoid net's gradient shrinks by orders of magnitude from the "
                  "output back to the input; the ReLU net's stays within a small factor.")


def _tables(report, m, fair, depths, deepest, chance, steps):
    report.table(["activation (init)"] + [f"depth {d}" for d in depths],
                 [[f"{a} ({FAIR_INIT[a]})"] + [f"{fair[(a, d)]['accuracy']:.1%}" for d in depths] for a in ACTIVATIONS],
                 f"Test accuracy after {steps} steps, one seed (chance {chance:.0%}).")
    report.table(["activation (init)"] + [f"depth {d}" for d in depths],
                 [[f"{a} ({FAIR_INIT[a]})"] + [f"{_fmt(grad_ratio(fair[(a, d)]['grad_init']), '.2g')} / "
                                               f"{_fmt(grad_ratio(fair[(a, d)]['grad_trained']), '.2g')}"
                                               for d in depths] for a in ACTIVATIONS],
                 "First-to-last-layer gradient ratio, at initialization / after training, one seed.")
    report.table(["net", "seeds", "test accuracy", "ratio at init (geometric mean)", "ratio after training"],
                 [[f"{a} ({FAIR_INIT[a]}), {deepest} layers", len(m["seeds", "accuracy", a]),
                   stats.estimate(m["seeds", "accuracy", a]).text(".3f"),
                   f"{np.exp(np.mean(np.log(m['seeds', 'grad_ratio_init', a]))):.2g}",
                   f"{np.exp(np.mean(np.log(m['seeds', 'grad_ratio_trained', a]))):.2g}"] for a in ("sigmoid", "relu")],
                 "The verdict's nets over seeds: test accuracy ± the 95% interval's half-width.")
    report.section(f"Same init for every activation ({deepest} hidden layers)", (
        "The fair init is not what rescues ReLU, and no init rescues sigmoid: the table runs every activation "
        "with both Xavier/Glorot and He."))
    report.table(["activation", "ratio at init (Xavier)", "accuracy (Xavier)", "ratio at init (He)", "accuracy (He)"],
                 [[a, _fmt(m["same_init", "xavier", "grad_ratio_init", a], ".2g"),
                   f"{m['same_init', 'xavier', 'accuracy', a]:.1%}",
                   _fmt(m["same_init", "he", "grad_ratio_init", a], ".2g"),
                   f"{m['same_init', 'he', 'accuracy', a]:.1%}"] for a in ACTIVATIONS],
                 f"The {deepest}-layer nets with one init for all (one seed).")


def _findings(report, m, fair, depths, deepest):
    for init in ("xavier", "he"):
        s, r = m["same_init", init, "grad_ratio_init", "sigmoid"], m["same_init", init, "grad_ratio_init", "relu"]
        if s is not None and r is not None:
            report.finding(f"With {init} init for both, the {deepest}-layer sigmoid net's first layer gets "
                           f"{s:.2g} of the output layer's gradient, ReLU's {r:.2g}.")
    shallow = min(depths)
    report.finding(f"At depth {shallow} sigmoid reaches {m['accuracy', 'sigmoid', shallow]:.1%} and ReLU "
                   f"{m['accuracy', 'relu', shallow]:.1%}; at depth {deepest}, {m['accuracy', 'sigmoid', deepest]:.1%} "
                   f"and {m['accuracy', 'relu', deepest]:.1%}.")
    best = max(ACTIVATIONS, key=lambda a: fair[(a, deepest)]["accuracy"])
    report.finding(f"Best at depth {deepest}: {best} ({fair[(best, deepest)]['accuracy']:.1%}).")


def _data(ctx, cfg, report) -> tuple:
    """``(X, y, X_test, y_test, chance)``: the images flattened and standardized; the data note set."""
    data = ctx.images(cfg["n_train"], cfg["n_test"])
    X, X_test = D.flatten_standardize(data.X_train, data.X_test)
    y, y_test = data.y_train.astype(np.int64), data.y_test.astype(np.int64)
    report.data_note = data.note() + (" Inputs are flattened and standardized with the training set's mean and "
                                      "std; an MLP sees pixels, which is all this experiment needs.")
    return X, y, X_test, y_test, float(np.bincount(y_test).max() / len(y_test))


def _decide(m, deepest) -> tuple:
    """The verdict on the deepest nets' seeds (:func:`verdict`); its decisions recorded as ``effect.*``."""
    seeds = {k: {a: m["seeds", k, a] for a in ("sigmoid", "relu")}
             for k in ("grad_ratio_init", "grad_ratio_trained", "accuracy")}
    supported, because, decisions = verdict(
        seeds["grad_ratio_init"]["sigmoid"], seeds["grad_ratio_init"]["relu"], seeds["accuracy"]["sigmoid"],
        seeds["accuracy"]["relu"], depth=deepest, ratio_trained_sigmoid=seeds["grad_ratio_trained"]["sigmoid"],
        ratio_trained_relu=seeds["grad_ratio_trained"]["relu"])
    for k, d in decisions.items():
        m["effect", k] = d.to_dict()
    return supported, because


def run(ctx):
    """Run the sweep and return the :class:`~nnbasics.lab.report.Report` (module docstring)."""
    cfg, report = EXPERIMENT.begin(ctx)
    depths, deepest = tuple(cfg["depths"]), max(cfg["depths"])
    X, y, X_test, y_test, chance = _data(ctx, cfg, report)
    common = {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "width": cfg["width"], "steps": cfg["steps"],
              "batch_size": cfg["batch_size"], "lr": cfg["lr"], "probe": cfg["probe"]}
    # sweep
    results, sweep_s = _sweep(ctx, cfg, common, depths, deepest)
    res = {(r["activation"], r["init"], r["depth"]): r for r in results if not r.get("seed_index")}
    fair = {(a, d): res[(a, FAIR_INIT[a], d)] for a in ACTIVATIONS for d in depths}
    extra = {a: sorted((r for r in results if r.get("seed_index") and r["activation"] == a),
                       key=lambda r: r["seed_index"]) for a in ("sigmoid", "relu")}
    # measure, verdict
    slope_max = sigmoid_slope_max()
    m = _measure(report, fair, res, extra, deepest, chance, slope_max)
    supported, because = _decide(m, deepest)
    # report
    report.timings["sweep_s"] = round(sweep_s, 3)
    report.config.update({"sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                          "optimizer": "SGD momentum 0.9, gradient-norm clip 5", "fair_init": FAIR_INIT,
                          "depth_means": "hidden layers (Linear + activation); the net has depth + 1 Linear layers"})
    _text(report, m, cfg, depths, deepest, slope_max)
    _figures(report, fair, depths, deepest, chance, slope_max, cfg["steps"])
    _tables(report, m, fair, depths, deepest, chance, cfg["steps"])
    _findings(report, m, fair, depths, deepest)
    _monitor_deepest(report, X, y, deepest, cfg, ctx.seed_for(NAME, "weights", deepest))
    report.conclude(supported, because, rule=stats.rule_text(cfg["seeds"], quick=ctx.quick))
    return report
