"""Lab experiment ``dropout``: a wide MLP memorizes a small training slice; dropout shrinks the train/test gap.

The same network (same initial weights, same batch order) is trained with dropout rates
p in {0, 0.1, 0.3, 0.5, 0.7} on a small class-balanced slice; after each epoch both sets are
evaluated with dropout off. The headline is the final train-accuracy minus test-accuracy gap
against p. The best-p model is then used for Monte-Carlo dropout (Gal & Ghahramani 2016): T
passes with dropout kept on at test time, whose averaged prediction is compared with the
usual eval-mode one and whose predictive entropy is compared on right and wrong answers.

nnbasics' convention: ``p`` is the probability of DROPPING a unit (PyTorch, TF2); dropout
is *inverted*: kept units are scaled by 1/(1 - p) during training, so ``eval()`` is the
identity (no rescaling at test time).

Run: ``nnbasics lab dropout [--quick]``; or :func:`train_dropout_model` / :func:`dropout_verdict`
directly.
"""

from __future__ import annotations

import math

import numpy as np

from ._tracking import accuracy_gap, train_tracked
from ._uncertainty import mc_dropout_stats

__all__ = ["CLAIM", "NAME", "TITLE", "dropout_verdict", "run", "settings", "summarize", "train_dropout_model"]

NAME = "dropout"
TITLE = "Dropout against overfitting: the train/test gap against the dropout rate, and Monte-Carlo dropout"
CLAIM = ("A big network trained on little data overfits: it memorizes the training set and the test accuracy "
         "lags far behind. Dropout -- \"randomly set some neurons to zero in the forward pass\" "
         "(Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014) -- cures it: the train/test gap "
         "shrinks as the dropout rate grows.")

CONVENTION = ("nnbasics' convention: `p` is the probability of DROPPING a unit (as PyTorch and TF2; TF1's "
              "`keep_prob` is 1 - p). Dropout is *inverted*: during training the kept units are multiplied by "
              "1/(1 - p), so the expected activation is unchanged and `model.eval()` is the identity -- nothing "
              "is rescaled at test time.")

#: sizes of the two modes: the slice is small on purpose (the network must be able to memorize it).
_SETTINGS = {
    True: {"n_train": 300, "n_test": 600, "hidden": [256, 256], "epochs": 60, "lr": 1e-3, "batch_size": 32,
           "rates": [0.0, 0.1, 0.3, 0.5, 0.7], "repeats": 1, "mc_T": 20, "every": 2},
    False: {"n_train": 1000, "n_test": 10000, "hidden": [512, 512], "epochs": 80, "lr": 1e-3,
            "batch_size": 32, "rates": [0.0, 0.1, 0.3, 0.5, 0.7], "repeats": 1, "mc_T": 30, "every": 5},
}


def settings(quick: bool) -> dict:
    """The experiment's sizes for quick (True) or full (False) mode (a copy)."""
    s = _SETTINGS[bool(quick)]
    return {k: list(v) if isinstance(v, list) else v for k, v in s.items()}


def train_dropout_model(*, p, X_train, y_train, X_test, y_test, hidden, epochs, lr, batch_size, seed, mc_T=0,
                        every=1) -> dict:
    """Train one MLP with dropout rate ``p`` after each hidden layer; a top-level job for ``ctx.map``.

    Args:
        p: dropout probability (of DROPPING a unit), in [0, 1); 0 builds the net without Dropout.
        X_train, y_train, X_test, y_test: arrays (images (N, C, H, W) are flattened by the MLP).
        hidden: hidden-layer sizes.
        epochs, lr, batch_size: training settings (Adam, cross-entropy).
        seed: int: the initial weights, the batch order and the dropout masks. The same seed
            gives the same initial weights for every ``p`` (a paired comparison).
        mc_T: Monte-Carlo dropout passes on the test set after training (0: none; only with p > 0).
        every: evaluate both sets every this many epochs.

    Returns:
        dict: ``p``, ``seed``, ``curves`` (see :func:`train_tracked`), ``gap`` (final train
        minus test accuracy), ``loss_gap`` (final test minus train loss), and ``mc`` (the
        :func:`mc_dropout_stats` dict) when ``mc_T`` and ``p`` are > 0.
    """
    from ...models.mlp import mlp

    init_seq, data_seq, mc_seq = np.random.SeedSequence(int(seed)).spawn(3)
    in_features = list(X_train.shape[1:]) if X_train.ndim > 2 else int(X_train.shape[1])
    n_classes = int(max(y_train.max(), y_test.max()) + 1)
    model = mlp(in_features=in_features, hidden=list(hidden), out_features=n_classes, dropout=float(p),
                rng=np.random.default_rng(init_seq))
    curves = train_tracked(model, (X_train, y_train), (X_test, y_test), epochs=int(epochs), lr=lr,
                           batch_size=int(batch_size), rng=np.random.default_rng(data_seq), every=every)
    out = {"p": float(p), "seed": int(seed), "curves": curves, "gap": accuracy_gap(curves),
           "loss_gap": float(curves["test_loss"][-1] - curves["train_loss"][-1])}
    if mc_T and p > 0:
        out["mc"] = mc_dropout_stats(model, X_test, y_test, T=int(mc_T), rng=np.random.default_rng(mc_seq))
    return out


def summarize(results) -> dict:
    """Average the runs of each dropout rate (over repeats): ``{p: {train_acc, test_acc, gap, ...}}``.

    Args:
        results: dicts from :func:`train_dropout_model`.

    Returns:
        dict keyed by p (sorted): ``train_acc``, ``test_acc``, ``gap``, ``train_loss``,
        ``test_loss``, ``loss_gap`` (means of the final values), ``gap_std`` (over repeats) and ``n``.
    """
    by_p = {}
    for r in results:
        by_p.setdefault(float(r["p"]), []).append(r)
    out = {}
    for p in sorted(by_p):
        runs = by_p[p]
        last = {k: [run["curves"][k][-1] for run in runs] for k in ("train_acc", "test_acc", "train_loss",
                                                                    "test_loss")}
        gaps = [run["gap"] for run in runs]
        out[p] = {k: float(np.mean(v)) for k, v in last.items()}
        out[p].update(gap=float(np.mean(gaps)), gap_std=float(np.std(gaps)),
                      loss_gap=float(np.mean([run["loss_gap"] for run in runs])), n=len(runs))
    return out


def best_rate(summary: dict) -> float:
    """The p > 0 with the highest test accuracy (ties: the smaller gap, then the smaller p)."""
    rates = [p for p in summary if p > 0]
    if not rates:
        raise ValueError("best_rate: the summary has no dropout rate p > 0 to compare with p = 0.")
    return min(rates, key=lambda p: (-summary[p]["test_acc"], summary[p]["gap"], p))


def dropout_verdict(summary: dict, *, margin: float = 0.01):
    """Does dropout shrink the train/test gap? Computed from :func:`summarize`'s numbers.

    Supported when the gap at the best rate (highest test accuracy among p > 0) is smaller than
    the gap without dropout by more than ``margin`` (absolute accuracy); inconclusive when it
    is smaller by less; not supported otherwise. The sentence also says, honestly, whether test
    accuracy improved.

    Args:
        summary: ``{p: {"gap": ..., "test_acc": ..., "train_acc": ...}}`` with p = 0 present.
        margin: the smallest gap reduction that counts (default 1 percentage point).

    Returns:
        (supported: bool | None, because: str)

    Example:
        >>> s = {0.0: {"gap": 0.30, "test_acc": 0.70, "train_acc": 1.0},
        ...      0.5: {"gap": 0.10, "test_acc": 0.80, "train_acc": 0.9}}
        >>> dropout_verdict(s)[0]
        True
    """
    if 0.0 not in summary:
        raise ValueError("dropout_verdict: the summary needs the p = 0 baseline.")
    p = best_rate(summary)
    g0, gb = summary[0.0]["gap"], summary[p]["gap"]
    a0, ab = summary[0.0]["test_acc"], summary[p]["test_acc"]
    acc = (f"test accuracy rose from {a0:.3f} to {ab:.3f}" if ab > a0 else
           f"test accuracy did NOT improve ({a0:.3f} without dropout, {ab:.3f} with p = {p:g})")
    text = (f"the train/test accuracy gap is {g0:.3f} without dropout and {gb:.3f} at p = {p:g} (the rate with "
            f"the best test accuracy); {acc}.")
    if gb < g0 - margin:
        return True, "Dropout shrank the gap: " + text
    if gb < g0:
        return None, f"The gap shrank by less than {margin:g}, within noise: " + text
    return False, "Dropout did not shrink the gap: " + text


# ------------------------------------------------------------------ figures
def _curves_figure(results, rates):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("viridis")
    for i, p in enumerate(rates):
        run = next(r for r in results if r["p"] == p)  # the first repeat
        c, color = run["curves"], cmap(i / max(1, len(rates) - 1))
        axes[0].plot(c["epoch"], c["train_acc"], color=color, lw=1.5, label=f"p={p:g} train")
        axes[0].plot(c["epoch"], c["test_acc"], color=color, lw=1.5, ls="--", label=f"p={p:g} test")
        axes[1].plot(c["epoch"], c["train_loss"], color=color, lw=1.5)
        axes[1].plot(c["epoch"], c["test_loss"], color=color, lw=1.5, ls="--")
    axes[0].set(xlabel="epoch", ylabel="accuracy (dropout off)", title="accuracy: train (solid), test (dashed)")
    axes[1].set(xlabel="epoch", ylabel="cross-entropy (dropout off)", title="loss: train (solid), test (dashed)",
                yscale="log")
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def _gap_figure(summary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = sorted(summary)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(rates, [summary[p]["train_acc"] for p in rates], "o-", label="train accuracy")
    ax.plot(rates, [summary[p]["test_acc"] for p in rates], "s-", label="test accuracy")
    ax.errorbar(rates, [summary[p]["gap"] for p in rates], yerr=[summary[p]["gap_std"] for p in rates],
                fmt="^-", color="C3", label="gap (train - test)", capsize=3)
    ax.set(xlabel="dropout rate p (probability of dropping a unit)", ylabel="accuracy after the last epoch",
           title="train/test gap against the dropout rate", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _mc_figure(mc, p):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ent, ok = np.asarray(mc["entropy"], np.float64), np.asarray(mc["correct"], bool)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, max(float(ent.max()), 1e-3), 30)
    ax.hist(ent[ok], bins=bins, alpha=0.6, density=True, label=f"correct ({int(ok.sum())})")
    ax.hist(ent[~ok], bins=bins, alpha=0.6, density=True, label=f"misclassified ({int((~ok).sum())})")
    ax.set(xlabel="predictive entropy of the MC-dropout mean (nats)", ylabel="density",
           title=f"Monte-Carlo dropout, p = {p:g}, T = {mc['T']}")
    ax.legend()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the experiment
def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    from ..report import Report

    cfg = settings(ctx.quick)
    report = Report(NAME, TITLE, CLAIM)
    report.text(CONVENTION)
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    X_tr, y_tr, X_te, y_te = data.X_train, data.y_train, data.X_test, data.y_test
    report.data_note = (f"{ctx.data_note} The training slice is small on purpose: {len(y_tr)} class-balanced "
                        "images, which the network can memorize.")
    report.text(f"Model: MLP {int(np.prod(X_tr.shape[1:]))} -> {' -> '.join(map(str, cfg['hidden']))} -> "
                f"{data.num_classes}, ReLU, Dropout(p) after each hidden layer; Adam lr {cfg['lr']:g}, batch "
                f"{cfg['batch_size']}, {cfg['epochs']} epochs; {cfg['repeats']} seed(s) per rate, the same initial "
                "weights and batch order for every rate.")
    report.config.update(cfg)

    jobs = [{"p": p, "X_train": X_tr, "y_train": y_tr, "X_test": X_te, "y_test": y_te, "hidden": cfg["hidden"],
             "epochs": cfg["epochs"], "lr": cfg["lr"], "batch_size": cfg["batch_size"],
             "seed": ctx.seed_for("dropout", "run", r), "mc_T": cfg["mc_T"] if r == 0 else 0, "every": cfg["every"]}
            for r in range(cfg["repeats"]) for p in cfg["rates"]]
    ctx.log(f"dropout: training {len(jobs)} networks")
    results = ctx.map(train_dropout_model, jobs)
    summary = summarize(results)
    rates = sorted(summary)

    report.section("The train/test gap against the dropout rate")
    report.figure(_curves_figure(results, rates), "dropout_curves",
                  "Accuracy and loss on the training slice (solid) and the test set (dashed), dropout off for both; "
                  "one colour per dropout rate.")
    report.figure(_gap_figure(summary), "dropout_gap",
                  "Final train and test accuracy, and their gap, against the dropout rate p.")
    report.table(["p", "train acc", "test acc", "gap", "train loss", "test loss"],
                 [[f"{p:g}", f"{s['train_acc']:.3f}", f"{s['test_acc']:.3f}", f"{s['gap']:.3f}",
                   f"{s['train_loss']:.3f}", f"{s['test_loss']:.3f}"] for p, s in summary.items()],
                 caption="After the last epoch, both sets evaluated with dropout off (mean over seeds).")
    for p, s in summary.items():
        for k in ("train_acc", "test_acc", "gap", "loss_gap"):
            report.metric(f"p{p:g}.{k}", s[k])
    best = best_rate(summary)
    report.metric("best_p", best)
    report.metric("gap_p0", summary[0.0]["gap"])
    report.metric("gap_best", summary[best]["gap"])
    report.metric("test_acc_p0", summary[0.0]["test_acc"])
    report.metric("test_acc_best", summary[best]["test_acc"])
    report.metric("gap_reduction", summary[0.0]["gap"] - summary[best]["gap"])

    # Monte-Carlo dropout with the best rate (first repeat)
    mc = next(r for r in results if r["p"] == best)["mc"]
    report.section("Monte-Carlo dropout: dropout kept on at test time",
                   f"The p = {best:g} network predicts each test image T = {mc['T']} times with dropout ON and the "
                   "class probabilities are averaged (Gal & Ghahramani 2016, https://arxiv.org/abs/1506.02142). "
                   "The spread of the passes is the model's uncertainty: it should be higher where the model is "
                   "wrong.")
    report.figure(_mc_figure(mc, best), "mc_dropout_entropy",
                  "Predictive entropy of the Monte-Carlo mean on the test images it gets right and wrong.")
    report.table(["", "value"], [
        ["accuracy, eval mode (weight scaling)", f"{mc['eval_accuracy']:.4f}"],
        [f"accuracy, mean of T = {mc['T']} dropout passes", f"{mc['mc_accuracy']:.4f}"],
        ["mean entropy, correct / misclassified", f"{mc['entropy_correct']:.3f} / {mc['entropy_wrong']:.3f}"],
        ["std of the predicted class's probability, correct / misclassified",
         f"{mc['std_correct']:.3f} / {mc['std_wrong']:.3f}"],
        ["AUROC of MC entropy for spotting errors", f"{mc['auroc_entropy']:.3f}"],
        ["AUROC of the plain softmax entropy", f"{mc['auroc_eval_entropy']:.3f}"],
    ], caption="AUROC: the probability that a random misclassified image has a higher entropy than a random "
               "correct one (0.5 = no signal).")
    for k in ("mc_accuracy", "eval_accuracy", "entropy_correct", "entropy_wrong", "std_correct", "std_wrong",
              "auroc_entropy", "auroc_eval_entropy", "n_wrong"):
        report.metric(f"mc.{k}", mc[k])
    higher = mc["entropy_wrong"] > mc["entropy_correct"]
    report.finding(f"MC dropout (p = {best:g}, T = {mc['T']}): mean accuracy {mc['mc_accuracy']:.3f} vs "
                   f"{mc['eval_accuracy']:.3f} in eval mode; entropy {mc['entropy_wrong']:.3f} nats on errors vs "
                   f"{mc['entropy_correct']:.3f} on correct answers -- uncertainty is "
                   f"{'higher' if higher else 'NOT higher'} where the model is wrong (AUROC "
                   f"{mc['auroc_entropy']:.2f}).")

    supported, because = dropout_verdict(summary)
    if summary[best]["test_acc"] <= summary[0.0]["test_acc"]:
        report.finding("Test accuracy did not improve with dropout here, although the gap changed: dropout traded "
                       "training fit for regularization without a net gain on this slice.")
    if not math.isnan(summary[0.0]["gap"]):
        report.finding(f"Without dropout the network reaches {summary[0.0]['train_acc']:.3f} training accuracy "
                       f"but {summary[0.0]['test_acc']:.3f} test accuracy: gap {summary[0.0]['gap']:.3f}.")
    report.conclude(supported, because)
    return report
