"""Lab experiment ``data``: learning curves -- test accuracy and the train/test gap against training-set size.

One fixed MLP is trained on class-balanced subsets of n = 50, 100, 200, ... training images
(:func:`nnbasics.data.split.stratified_subset`), each for the same number of optimizer updates
(at least a few epochs on the biggest subsets), and scored on the same test set. The test
error is fitted by a power law error ~ a * n^(-b) (a straight line on log-log axes) and the
sizes are set beside the datasets of the 1980s and ImageNet's.

Run: ``nnbasics lab data [--quick]``; or :func:`learning_curve_point`, :func:`fit_power_law`
and :func:`data_verdict` directly.
"""

from __future__ import annotations

import math

import numpy as np

from ._tracking import spearman, train_tracked, updates_to_epochs

__all__ = ["CLAIM", "DATASET_SIZES", "NAME", "TITLE", "data_verdict", "fit_power_law", "learning_curve_point", "run",
           "settings", "summarize"]

NAME = "data"
TITLE = "Data: learning curves against the training-set size"
CLAIM = ("\"Our labelled datasets were thousands of times too small\" (Hinton, the first of his four reasons why "
         "deep learning did not work before ~2006). With more labelled examples the same network generalizes "
         "better: test accuracy keeps rising and the train/test gap closes as the training set grows.")

#: reference training-set sizes, with their sources (for the report's comparison).
DATASET_SIZES = [
    ("family trees (Hinton 1986; Rumelhart, Hinton & Williams 1986)", 100,
     "104 relational facts, 100 used for training"),
    ("zip codes (LeCun et al. 1989, Neural Computation 1(4))", 7291, "7,291 training digits (USPS)"),
    ("Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) / MNIST (LeCun et al. 1998)", 60000, "60,000 training images"),
    ("ImageNet ILSVRC-2012 (Russakovsky et al. 2015; used by Krizhevsky et al. 2012)", 1281167,
     "1,281,167 training images"),
]

_SETTINGS = {
    True: {"sizes": [50, 100, 200, 400, 800, 1600], "n_train": 1600, "n_test": 800, "hidden": [256], "updates": 300,
           "min_epochs": 5, "lr": 1e-3, "batch_size": 32, "repeats": 2},
    False: {"sizes": [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000], "n_train": 0, "n_test": 10000,
            "hidden": [256], "updates": 600, "min_epochs": 2, "lr": 1e-3, "batch_size": 64, "repeats": 1},
}


def settings(quick: bool) -> dict:
    """The experiment's sizes for quick (True) or full (False) mode (a copy)."""
    s = _SETTINGS[bool(quick)]
    return {k: list(v) if isinstance(v, list) else v for k, v in s.items()}


def learning_curve_point(*, n, X_train, y_train, X_test, y_test, hidden, updates, min_epochs, lr, batch_size,
                         seed) -> dict:
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
    return {"n": int(n), "seed": int(seed), "epochs": epochs, "train_acc": c["train_acc"][-1],
            "test_acc": c["test_acc"][-1], "train_loss": c["train_loss"][-1], "test_loss": c["test_loss"][-1],
            "gap": c["train_acc"][-1] - c["test_acc"][-1]}


def summarize(points) -> dict:
    """Mean over repeats per size: ``{"n": [...], "test_acc": [...], "train_acc": [...], "gap": [...], ...}``."""
    by_n = {}
    for p in points:
        by_n.setdefault(int(p["n"]), []).append(p)
    ns = sorted(by_n)
    out = {"n": ns}
    for k in ("train_acc", "test_acc", "gap", "train_loss", "test_loss", "epochs"):
        out[k] = [float(np.mean([p[k] for p in by_n[n]])) for n in ns]
    out["test_acc_std"] = [float(np.std([p["test_acc"] for p in by_n[n]])) for n in ns]
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
    """Does test accuracy grow with the training-set size while the gap shrinks? Computed from the curve.

    Supported when (1) the largest size beats the smallest by at least ``min_gain`` test
    accuracy, (2) the train/test gap at the largest size is below the gap at the smallest,
    and (3) test accuracy rises monotonically-ish: Spearman rank correlation with n at least
    ``min_rank_corr``.

    Returns:
        (supported: bool, because: str)

    Example:
        >>> data_verdict([50, 500, 5000], [0.6, 0.75, 0.85], [0.4, 0.2, 0.05])[0]
        True
        >>> data_verdict([50, 500, 5000], [0.8, 0.75, 0.7], [0.2, 0.2, 0.3])[0]
        False
    """
    n, acc, gap = (np.asarray(v, np.float64) for v in (n, test_acc, gap))
    if not (n.shape == acc.shape == gap.shape) or len(n) < 2:
        raise ValueError("data_verdict: n, test_acc and gap must have the same length >= 2.")
    order = np.argsort(n)
    n, acc, gap = n[order], acc[order], gap[order]
    gain, rho = acc[-1] - acc[0], spearman(n, acc)
    grew = f"test accuracy {acc[0]:.3f} at n = {n[0]:g} -> {acc[-1]:.3f} at n = {n[-1]:g} ({gain:+.3f}, needs >= {min_gain:g})"
    checks = [(gain >= min_gain, grew),
              (gap[-1] < gap[0], f"train/test gap {gap[0]:.3f} -> {gap[-1]:.3f}"),
              (not math.isnan(rho) and rho >= min_rank_corr,
               f"rank correlation of test accuracy with n {rho:.2f} (needs >= {min_rank_corr:g})")]
    text = "; ".join(t for _, t in checks) + "."
    if all(ok for ok, _ in checks):
        return True, "More data, better generalization: " + text
    failed = ", ".join(t.split(" (")[0] for ok, t in checks if not ok)
    return False, f"Not as claimed ({failed}): " + text


def _curve_figure(summary, fit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.asarray(summary["n"], np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.errorbar(n, summary["test_acc"], yerr=summary["test_acc_std"], fmt="o-", capsize=3, label="test accuracy")
    ax.plot(n, summary["train_acc"], "s--", label="train accuracy")
    ax.fill_between(n, summary["test_acc"], summary["train_acc"], color="C3", alpha=0.12, label="gap")
    ax.set(xscale="log", xlabel="training-set size n (log)", ylabel="accuracy", title="learning curve", ylim=(0, 1.02))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax = axes[1]
    err = 1.0 - np.asarray(summary["test_acc"])
    ax.loglog(n, err, "o", label="test error")
    grid = np.geomspace(n.min(), n.max() * 4, 50)
    ax.loglog(grid, fit["a"] * grid ** -fit["b"], "--",
              label=f"fit {fit['a']:.2g} n^-{fit['b']:.3f} (R^2 {fit['r2']:.2f})")
    ax.set(xlabel="training-set size n (log)", ylabel="test error (log)", title="test error against n, power-law fit")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    from ...data.split import stratified_subset
    from ..report import Report

    cfg = settings(ctx.quick)
    report = Report(NAME, TITLE, CLAIM)
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    n_avail = len(data.y_train)
    n_classes = int(data.num_classes)
    sizes = [n for n in cfg["sizes"] if n_classes <= n <= n_avail]
    if n_avail not in sizes and n_avail < cfg["sizes"][-1]:
        sizes.append(n_avail)  # use all of a smaller training set as the last point
    X_te, y_te = data.X_test, data.y_test
    report.data_note = (f"{ctx.data_note} Class-balanced training subsets of {', '.join(map(str, sizes))} images; "
                        f"the same {len(y_te)} test images for every size.")
    report.config.update(cfg, sizes=sizes)
    report.text(f"Model, fixed for every n: MLP -> {' -> '.join(map(str, cfg['hidden']))} -> {n_classes} (ReLU), Adam "
                f"lr {cfg['lr']:g}, batch {cfg['batch_size']}; each size trains for {cfg['updates']} updates (whole "
                f"epochs, at least {cfg['min_epochs']}); {cfg['repeats']} seed(s) and subset(s) per size.")

    y_all = np.asarray(data.y_train)
    jobs = []
    for r in range(cfg["repeats"]):
        for n in sizes:
            idx = (np.arange(n_avail) if n == n_avail else
                   stratified_subset(y_all, n, rng=ctx.rng("data", "subset", n, r)))
            jobs.append({"n": n, "X_train": np.ascontiguousarray(data.X_train[idx], np.float32),
                         "y_train": np.asarray(y_all[idx], np.int64), "X_test": X_te, "y_test": y_te,
                         "hidden": cfg["hidden"], "updates": cfg["updates"], "min_epochs": cfg["min_epochs"],
                         "lr": cfg["lr"], "batch_size": cfg["batch_size"], "seed": ctx.seed_for("data", "train", n, r)})
    ctx.log(f"data: {len(jobs)} trainings over sizes {sizes}")
    summary = summarize(ctx.map(learning_curve_point, jobs))
    err = 1.0 - np.asarray(summary["test_acc"])
    fit = fit_power_law(summary["n"], err)

    report.section("Test accuracy and the train/test gap against n")
    report.figure(_curve_figure(summary, fit), "data_learning_curve",
                  "Left: train and test accuracy against the training-set size (log axis); the shaded band is the "
                  "gap. Right: test error on log-log axes with the power-law fit error = a n^-b.")
    report.table(["n", "epochs", "train acc", "test acc", "gap"],
                 [[n, f"{e:g}", f"{tr:.3f}", f"{t:.3f}", f"{g:.3f}"] for n, e, tr, t, g in
                  zip(summary["n"], summary["epochs"], summary["train_acc"], summary["test_acc"], summary["gap"])],
                 caption="Eval mode, after training; means over seeds.")
    report.metric("sizes", summary["n"])
    report.metric("test_acc", summary["test_acc"])
    report.metric("train_acc", summary["train_acc"])
    report.metric("gap", summary["gap"])
    report.metric("test_acc_smallest", summary["test_acc"][0])
    report.metric("test_acc_largest", summary["test_acc"][-1])
    report.metric("gap_smallest", summary["gap"][0])
    report.metric("gap_largest", summary["gap"][-1])
    report.metric("rank_corr", spearman(summary["n"], summary["test_acc"]))
    for k in ("a", "b", "r2", "halving_factor"):
        report.metric(f"power_law.{k}", fit[k])

    report.section("\"Thousands of times too small\"")
    n_max = summary["n"][-1]
    rows = [[name, f"{size:,}", note, f"{size / 100:,.0f}x", f"{fit['a'] * size ** -fit['b']:.3f}"]
            for name, size, note in DATASET_SIZES]
    report.table(["dataset", "training examples", "", "times the 1980s' ~100", "error the fit predicts"], rows,
                 caption="The fit's prediction far beyond the measured sizes is an extrapolation (real curves "
                         "flatten at the model's capacity and the labels' noise); the ratio is the point.")
    imagenet = DATASET_SIZES[-1][1]
    report.metric("imagenet_over_1980s", imagenet / 100)
    report.metric("largest_n_over_1980s", n_max / 100)
    report.text(f"ImageNet's 1.28 million labelled images are {imagenet / 100:,.0f} times the ~100 examples of a "
                f"mid-1980s task such as the family trees, and {imagenet / 7291:,.0f} times the 7,291 digits of "
                f"LeCun's 1989 zip-code net: \"thousands of times too small\" is the right order of magnitude. Here, "
                f"on {data.name}, {n_max / summary['n'][0]:,.0f} times more data (n = {summary['n'][0]} -> {n_max}) "
                f"took the test error from {err[0]:.3f} to {err[-1]:.3f}.")
    report.finding(f"Test error falls as n^-{fit['b']:.3f} (R^2 {fit['r2']:.2f}): each {fit['halving_factor']:.1f}x "
                   "more labelled data halves the error, at this range of n.")
    report.finding(f"Train/test gap {summary['gap'][0]:.3f} at n = {summary['n'][0]} against {summary['gap'][-1]:.3f} "
                   f"at n = {n_max}: small sets are memorized, large ones generalize.")
    supported, because = data_verdict(summary["n"], summary["test_acc"], summary["gap"])
    report.conclude(supported, because)
    return report
