"""Lab experiment ``data``: learning curves -- test accuracy and the train/test gap against training-set size.

One fixed MLP is trained on class-balanced subsets of n = 50, 100, 200, ... training images
(:func:`nnbasics.data.split.stratified_subset`), each for the same number of optimizer updates
(at least a few epochs on the biggest subsets), and scored on the same test set. The test
error is fitted by a power law error ~ a * n^(-b) (a straight line on log-log axes) and the
sizes are set beside the datasets of the 1980s and ImageNet's. Every size is trained from
several seeds (each its own subset, initial weights and batch order); the verdict compares the
largest size with the smallest seed by seed, with the lab's rule (:mod:`nnbasics.lab.stats`).

Run: ``nnbasics lab data [--quick]``; or :func:`learning_curve_point`, :func:`fit_power_law`
and :func:`data_verdict` directly.
"""

from __future__ import annotations

import math

import numpy as np

from .. import stats
from ..experiment import Experiment, Metrics
from ._tracking import spearman, train_tracked, updates_to_epochs

__all__ = ["CLAIM", "DATASET_SIZES", "EXPERIMENT", "NAME", "TITLE", "data_verdict", "fit_power_law",
           "learning_curve_point", "run", "settings", "summarize"]

NAME = "data"
TITLE = "Data: learning curves against the training-set size"
CLAIM = ("\"Our labelled datasets were thousands of times too small\" (Hinton's first reason why deep learning did "
         "not work before ~2006). With more labelled examples the same network generalizes "
         "better: test accuracy keeps rising and the train/test gap closes as the training set grows.")

#: reference training-set sizes, with their sources (for the report's comparison).
REFERENCES = (
    ("Rumelhart, Hinton & Williams (1986). Learning representations by back-propagating errors. Nature 323.",
     "https://doi.org/10.1038/323533a0"),
    ("LeCun et al. (1989). Backpropagation applied to handwritten zip code recognition. Neural Computation 1(4).",
     "https://doi.org/10.1162/neco.1989.1.4.541"),
    ("Russakovsky et al. (2015). ImageNet Large Scale Visual Recognition Challenge. IJCV 115.",
     "https://arxiv.org/abs/1409.0575"),
    (("Xiao, Rasul & Vollgraf (2017). Fashion-MNIST: a novel image dataset for benchmarking machine learning "
     "algorithms."), "https://arxiv.org/abs/1708.07747"),
)

DATASET_SIZES = [
    ("family trees (Hinton 1986; Rumelhart, Hinton & Williams 1986)", 100,
     "104 relational facts, 100 used for training"),
    ("zip codes (LeCun et al. 1989, Neural Computation 1(4))", 7291, "7,291 training digits (USPS)"),
    ("Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) / MNIST (LeCun et al. 1998)", 60000, "60,000 training images"),
    ("ImageNet ILSVRC-2012 (Russakovsky et al. 2015; used by Krizhevsky et al. 2012)", 1281167,
     "1,281,167 training images"),
]

EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"sizes": [50, 100, 200, 400, 800, 1600], "n_train": 1600, "n_test": 800, "hidden": [256], "updates": 300,
           "min_epochs": 5, "lr": 1e-3, "batch_size": 32, "repeats": 3},
    full={"sizes": [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000], "n_train": 0, "n_test": 10000,
          "hidden": [256], "updates": 600, "min_epochs": 2, "lr": 1e-3, "batch_size": 64, "repeats": 3})
settings = EXPERIMENT.settings


def learning_curve_point(*, n, X_train, y_train, X_test, y_test, hidden, updates, min_epochs, lr, batch_size,
                         seed, repeat=0) -> dict:
    """Train the fixed MLP on ``X_train`` (already the n-sample subset) and score both sets; a job for ``ctx.map``.

    Every size gets ``updates`` optimizer steps (rounded up to whole epochs), and at least
    ``min_epochs`` epochs, so small subsets are seen many times (and can be memorized) while
    big ones get a few passes.

    Args:
        n: the subset size (recorded; must equal ``len(y_train)``).
        X_train, y_train: the training subset; X_test, y_test: the test set.
        hidden: hidden sizes of the MLP (ReLU).
        updates, min_epochs: the training budget.
        lr, batch_size: Adam's learning rate, the mini-batch size.
        seed: int: initial weights and batch order.
        repeat: which repeat of the sweep this is (recorded: the verdict pairs sizes by repeat).

    Returns:
        dict: ``n``, ``seed``, ``epochs``, ``train_acc``, ``test_acc``, ``train_loss``,
        ``test_loss`` (eval mode, after training), ``gap`` (train - test accuracy).
    """
    from ...models.mlp import mlp

    if len(y_train) != n:
        raise ValueError(f"learning_curve_point: n={n} but the training subset has {len(y_train)} samples.")
    init_seq, data_seq = np.random.SeedSequence(int(seed)).spawn(2)
    in_features = list(X_train.shape[1:]) if X_train.ndim > 2 else int(X_train.shape[1])
    n_classes = int(max(y_train.max(), y_test.max()) + 1)
    model = mlp(in_features=in_features, hidden=list(hidden), out_features=n_classes,
                rng=np.random.default_rng(init_seq))
    epochs = max(int(min_epochs), updates_to_epochs(n, batch_size, updates))
    c = train_tracked(model, (X_train, y_train), (X_test, y_test), epochs=epochs, lr=lr, batch_size=batch_size,
                      rng=np.random.default_rng(data_seq), every=epochs)
    return {"n": int(n), "seed": int(seed), "repeat": int(repeat), "epochs": epochs, "train_acc": c["train_acc"][-1],
            "test_acc": c["test_acc"][-1], "train_loss": c["train_loss"][-1], "test_loss": c["test_loss"][-1],
            "gap": c["train_acc"][-1] - c["test_acc"][-1]}


def summarize(points) -> dict:
    """Mean over repeats per size: ``{"n": [...], "test_acc": [...], "train_acc": [...], "gap": [...], ...}``.

    Also ``test_acc_std``, ``test_acc_ci95`` (the 95% interval's half-width over repeats) and,
    per size, the per-repeat ``test_acc_by_repeat`` and ``gap_by_repeat``.
    """
    by_n = {}
    for p in points:
        by_n.setdefault(int(p["n"]), []).append(p)
    ns = sorted(by_n)
    out = {"n": ns}
    for k in ("train_acc", "test_acc", "gap", "train_loss", "test_loss", "epochs"):
        out[k] = [float(np.mean([p[k] for p in by_n[n]])) for n in ns]
    out["test_acc_std"] = [float(np.std([p["test_acc"] for p in by_n[n]])) for n in ns]
    out["test_acc_ci95"] = [float(np.nan_to_num(stats.estimate([p["test_acc"] for p in by_n[n]]).half_width))
                            for n in ns]
    for k in ("test_acc", "gap"):  # per size, one value per repeat (in repeat order): what the verdict pairs
        out[f"{k}_by_repeat"] = [[p[k] for p in sorted(by_n[n], key=lambda p: p.get("repeat", 0))] for n in ns]
    return out


def fit_power_law(n, error, floor=None) -> dict:
    """Least-squares fit of error ~ a * n^(-b) on log-log axes: log(error) = log(a) - b log(n).

    Args:
        n: training-set sizes (> 0).
        error: errors at those sizes (e.g. 1 - test accuracy); values <= 0 are clipped to
            ``floor`` (default: half the smallest positive error, or 1e-6).
        floor: see above.

    Returns:
        dict: ``a``, ``b`` (the exponent; larger = faster gains from data), ``r2`` (of the
        log-log fit), ``halving_factor`` = 2^(1/b) (how many times more data halves the error;
        inf for b <= 0).

    Example:
        >>> n = np.array([100, 1000, 10000]); fit = fit_power_law(n, 3.0 * n ** -0.5)
        >>> round(fit["a"], 6), round(fit["b"], 6), round(fit["halving_factor"], 6)
        (3.0, 0.5, 4.0)
    """
    n = np.asarray(n, np.float64)
    e = np.asarray(error, np.float64)
    if n.shape != e.shape or n.ndim != 1 or len(n) < 2:
        raise ValueError(f"fit_power_law: n and error must be 1-D of the same length >= 2; got shapes {n.shape}, "
                         f"{e.shape}.")
    if np.any(n <= 0):
        raise ValueError(f"fit_power_law: sizes n must be > 0; got {n.tolist()}.")
    if floor is None:
        pos = e[e > 0]
        floor = float(pos.min()) / 2 if pos.size else 1e-6
    x, z = np.log(n), np.log(np.maximum(e, floor))
    slope, intercept = np.polyfit(x, z, 1)
    pred = intercept + slope * x
    ss_res, ss_tot = float(((z - pred) ** 2).sum()), float(((z - z.mean()) ** 2).sum())
    b = float(-slope)
    try:  # NOTE: a flat curve gives b ~ 1e-17 and 2 ** (1 / b) overflows: no amount of data halves the error
        halving = float(2.0 ** (1.0 / b)) if b > 0 else math.inf
    except OverflowError:
        halving = math.inf
    return {"a": float(math.exp(intercept)), "b": b, "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan,
            "halving_factor": halving}


def data_verdict(n, test_acc, gap, *, min_gain=0.05, min_rank_corr=0.8):
    """Does test accuracy grow with the training-set size while the gap shrinks, beyond the noise?

    Args:
        n: the sizes.
        test_acc, gap: per size, one value per repeat (``[[r1, r2, ...], ...]``, repeats in the
            same order at every size), or one value per size (a single repeat).
        min_gain: the test-accuracy gain from the smallest to the largest size must lie above this.
        min_rank_corr: the mean curve's Spearman rank correlation with n must reach this (a
            shape check on the means: the curve rises, not only its ends).

    Supported when (1) the per-repeat gain acc(largest) - acc(smallest) has its 95% interval
    above ``min_gain``, (2) the per-repeat gap reduction gap(smallest) - gap(largest) has its
    interval above 0, and (3) the rank correlation is at least ``min_rank_corr``; not supported
    when an interval lies on the wrong side or the curve falls; inconclusive otherwise.

    Returns:
        (supported: bool | None, because: str, decisions: dict)

    Example:
        >>> data_verdict([50, 500, 5000], [[0.6, 0.62], [0.75, 0.74], [0.85, 0.86]],
        ...              [[0.4, 0.38], [0.2, 0.21], [0.05, 0.04]])[0]
        True
    """
    n = np.asarray(n, np.float64)
    acc = np.asarray(test_acc, np.float64).reshape(len(n), -1)
    gap = np.asarray(gap, np.float64).reshape(len(n), -1)
    if len(n) < 2 or acc.shape != gap.shape:
        raise ValueError("data_verdict: n, test_acc and gap must have the same length >= 2.")
    order = np.argsort(n)
    n, acc, gap = n[order], acc[order], gap[order]
    d = {"gain": stats.decide(acc[-1] - acc[0], threshold=min_gain,
                              name=f"test-accuracy gain from n = {n[0]:g} to n = {n[-1]:g}"),
         "gap": stats.decide(gap[0] - gap[-1], name="train/test gap reduction")}
    rho = spearman(n, acc.mean(axis=1))
    rises = not math.isnan(rho) and rho >= min_rank_corr
    supported = stats.all_of([d["gain"], d["gap"], True if rises else (False if rho < 0 else None)])
    lead = {True: "More data, better generalization", False: "Not as claimed",
            None: "Inconclusive: an effect is within the noise"}[supported]
    return supported, (f"{lead}: {d['gain'].sentence()}; {d['gap'].sentence()}; the mean curve's rank correlation "
                       f"with n is {rho:.2f} (needs >= {min_rank_corr:g})."), d


def _curve_figure(summary, fit, repeats):
    from ..plots import CLASS_COLOURS, SMALL, new_figure, series_style

    n = np.asarray(summary["n"], np.float64)
    fig, axes = new_figure(1, 2, width=9.0, height=3.9)
    ax = axes[0, 0]
    ax.errorbar(n, summary["test_acc"], yerr=summary["test_acc_ci95"], capsize=3, ms=5, label="test accuracy",
                **series_style(0))
    ax.plot(n, summary["train_acc"], ms=5, label="train accuracy", **series_style(1))
    ax.fill_between(n, summary["test_acc"], summary["train_acc"], color=CLASS_COLOURS[5], alpha=0.12, label="gap")
    ax.set(xscale="log", xlabel="training-set size n (log)", ylabel="accuracy", title="learning curve", ylim=(0, 1.02))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=SMALL)
    ax = axes[0, 1]
    err = 1.0 - np.asarray(summary["test_acc"])
    ax.loglog(n, err, "o", color=CLASS_COLOURS[0], label="test error")
    grid = np.geomspace(n.min(), n.max() * 4, 50)
    ax.loglog(grid, fit["a"] * grid ** -fit["b"], "--", color=CLASS_COLOURS[1],
              label=f"fit {fit['a']:.2g} n^-{fit['b']:.3f} (R² {fit['r2']:.2f})")
    ax.set(xlabel="training-set size n (log)", ylabel="test error (log)", title="test error against n, power-law fit")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=SMALL)
    fig.tight_layout()
    return fig


def _jobs(ctx, cfg, data, sizes):
    from ...data.split import stratified_subset

    y_all, n_avail = np.asarray(data.y_train), len(data.y_train)
    jobs = []
    for r in range(cfg["repeats"]):
        for n in sizes:
            idx = (np.arange(n_avail) if n == n_avail else
                   stratified_subset(y_all, n, rng=ctx.rng("data", "subset", n, r)))
            jobs.append({"n": n, "X_train": np.ascontiguousarray(data.X_train[idx], np.float32),
                         "y_train": np.asarray(y_all[idx], np.int64), "X_test": data.X_test, "y_test": data.y_test,
                         "hidden": cfg["hidden"], "updates": cfg["updates"], "min_epochs": cfg["min_epochs"],
                         "lr": cfg["lr"], "batch_size": cfg["batch_size"], "seed": ctx.seed_for("data", "train", n, r),
                         "repeat": r})
    return jobs


def _measure(report, summary, fit, decisions) -> Metrics:
    """Every number of the report under its structured name."""
    m = Metrics(report)
    m["sizes"] = summary["n"]
    for k in ("test_acc", "train_acc", "gap", "test_acc_by_repeat", "gap_by_repeat"):
        m[k] = summary[k]
    n0, n1 = summary["n"][0], summary["n"][-1]
    m.record("test_acc_smallest", summary["test_acc"][0], label=f"test accuracy at n = {n0:,} (mean)")
    m.record("test_acc_largest", summary["test_acc"][-1], label=f"test accuracy at n = {n1:,} (mean)")
    m.record("gap_smallest", summary["gap"][0], label=f"train/test gap at n = {n0:,}")
    m.record("gap_largest", summary["gap"][-1], label=f"train/test gap at n = {n1:,}")
    m["rank_corr"] = spearman(summary["n"], summary["test_acc"])
    for k in ("a", "b", "r2", "halving_factor"):
        m["power_law", k] = fit[k]
    m.record("power_law_exponent", fit["b"], label="power-law exponent b of the test error (error ~ n^-b)")
    for k, d in decisions.items():
        m["effect", k] = d.to_dict()
    m.record("imagenet_over_1980s", DATASET_SIZES[-1][1] / 100,
             label="ImageNet's training set over a 1980s task's ~100")
    m["largest_n_over_1980s"] = n1 / 100
    return m


def _sizes(cfg, data) -> list:
    """The training-set sizes this data allows (all of a smaller training set as the last point)."""
    n_avail, n_classes = len(data.y_train), int(data.num_classes)
    sizes = [n for n in cfg["sizes"] if n_classes <= n <= n_avail]
    if n_avail not in sizes and n_avail < cfg["sizes"][-1]:
        sizes.append(n_avail)
    return sizes


def _curve_section(report, summary, fit, repeats):
    report.section("Test accuracy and the train/test gap against n")
    report.figure(_curve_figure(summary, fit, repeats), "learning_curve",
                  f"Left: train and test accuracy against the training-set size (log axis), means over "
                  f"{repeats} seeds with the test accuracy's 95% intervals; the shaded band is the gap. Right: "
                  "test error on log-log axes with the power-law fit error = a n^-b.")
    report.table(["n", "epochs", "train acc", "test acc", "gap"],
                 [[n, f"{e:g}", f"{tr:.3f}", stats.estimate(ta).text(".3f"), f"{g:.3f}"] for n, e, tr, ta, g in
                  zip(summary["n"], summary["epochs"], summary["train_acc"], summary["test_acc_by_repeat"],
                      summary["gap"])],
                 caption=f"Eval mode, after training: means over {repeats} seeds (test accuracy ± the 95% "
                         "interval's half-width).")


def _scale_section(report, summary, fit, data_name):
    report.section("\"Thousands of times too small\"")
    n_max, err = summary["n"][-1], 1.0 - np.asarray(summary["test_acc"])
    rows = [[name, size, note, f"{size / 100:,.0f}x", f"{fit['a'] * size ** -fit['b']:.3f}"]
            for name, size, note in DATASET_SIZES]
    report.table(["dataset", "training examples", "", "times the 1980s' ~100", "error the fit predicts"], rows,
                 caption="The fit's prediction far beyond the measured sizes is an extrapolation (real curves "
                         "flatten at the model's capacity and the labels' noise); the ratio is the point.")
    imagenet = DATASET_SIZES[-1][1]
    report.text(f"ImageNet's 1.28 million labelled images are {imagenet / 100:,.0f} times the ~100 examples of a "
                f"mid-1980s task such as the family trees, and {imagenet / 7291:,.0f} times the 7,291 digits of "
                f"LeCun's 1989 zip-code net: \"thousands of times too small\" is the right order of magnitude. Here, "
                f"on {data_name}, {n_max / summary['n'][0]:,.0f} times more data (n = {summary['n'][0]:,} -> "
                f"{n_max:,}) took the test error from {err[0]:.3f} to {err[-1]:.3f}.")
    report.finding(f"Test error falls as n^-{fit['b']:.3f} (R² {fit['r2']:.2f}): each {fit['halving_factor']:.1f}x "
                   "more labelled data halves the error, at this range of n.")
    report.finding(f"Train/test gap {summary['gap'][0]:.3f} at n = {summary['n'][0]:,} against "
                   f"{summary['gap'][-1]:.3f} at n = {n_max:,}: small sets are memorized, large ones generalize.")


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    cfg, report = EXPERIMENT.begin(ctx)
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    sizes = _sizes(cfg, data)
    report.data_note = (f"{ctx.data_note} Class-balanced training subsets of {', '.join(f'{n:,}' for n in sizes)} "
                        f"images; the same {len(data.y_test):,} test images for every size.")
    report.config.update(cfg, sizes=sizes)
    report.text(f"Model, fixed for every n: MLP -> {' -> '.join(map(str, cfg['hidden']))} -> {data.num_classes} "
                f"(ReLU), Adam lr {cfg['lr']:g}, batch {cfg['batch_size']}; each size trains for {cfg['updates']} "
                f"updates (whole epochs, at least {cfg['min_epochs']}); {cfg['repeats']} seeds per size, each its own "
                "subset, initial weights and batch order.")
    jobs = _jobs(ctx, cfg, data, sizes)                                                      # sweep
    ctx.log(f"data: {len(jobs)} trainings over sizes {sizes}")
    summary = summarize(ctx.map(learning_curve_point, jobs))                                 # measure
    fit = fit_power_law(summary["n"], 1.0 - np.asarray(summary["test_acc"]))
    supported, because, decisions = data_verdict(summary["n"], summary["test_acc_by_repeat"],  # verdict
                                                 summary["gap_by_repeat"])
    _measure(report, summary, fit, decisions)                                               # report
    _curve_section(report, summary, fit, cfg["repeats"])
    _scale_section(report, summary, fit, data.name)
    report.conclude(supported, because, rule=stats.rule_text(cfg["repeats"], quick=ctx.quick, paired_arms=False)
                    + " The sizes are compared seed by seed (seed i's smallest and largest subsets).")
    return report
