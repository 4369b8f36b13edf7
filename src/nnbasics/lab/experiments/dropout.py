"""Lab experiment ``dropout``: a wide MLP memorizes a small training slice; dropout shrinks the train/test gap.

The same network (same initial weights, same batch order for a given seed) is trained with
dropout rates p in :data:`_SETTINGS` on a small class-balanced slice, from several seeds;
after each evaluation both sets are scored with dropout off. The overfitting is measured
two ways: the accuracy gap (train accuracy - test accuracy) and the loss gap (test
cross-entropy - train cross-entropy). The verdict compares the pre-registered rate
:data:`VERDICT_RATE` (0.5, Srivastava et al.'s choice for hidden units) with p = 0, seed by
seed, with the lab's rule (:mod:`nnbasics.lab.stats`): supported when both gaps shrink by
more than the noise. The p = 0.5 network of the first seed is then used for Monte-Carlo
dropout (Gal & Ghahramani 2016): T passes with dropout kept on at test time, whose averaged
prediction is compared with the usual eval-mode one and whose predictive entropy is compared
on right and wrong answers.

nnbasics' convention: ``p`` is the probability of DROPPING a unit (PyTorch, TF2); dropout
is *inverted*: kept units are scaled by 1/(1 - p) during training, so ``eval()`` is the
identity (no rescaling at test time).

Run: ``nnbasics lab dropout [--quick]``; or :func:`train_dropout_model` / :func:`dropout_verdict`
directly.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..experiment import Experiment, Metrics
from ._tracking import accuracy_gap, train_tracked
from ._uncertainty import mc_dropout_stats

__all__ = ["CLAIM", "EXPERIMENT", "NAME", "TITLE", "VERDICT_RATE", "dropout_verdict", "run", "settings", "summarize",
           "train_dropout_model"]

NAME = "dropout"
TITLE = "Dropout against overfitting: the train/test gap against the dropout rate, and Monte-Carlo dropout"
CLAIM = ("A big network trained on little data overfits: it memorizes the training set and the test accuracy "
         "lags far behind. Dropout -- \"randomly set some neurons to zero in the forward pass\" "
         "(Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014) -- cures it: the train/test gap "
         "shrinks as the dropout rate grows.")
REFERENCES = (
    (("Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014). Dropout: a simple way to prevent neural "
      "networks from overfitting. JMLR 15."), "https://jmlr.org/papers/v15/srivastava14a.html"),
    (("Gal & Ghahramani (2016). Dropout as a Bayesian approximation: representing model uncertainty in deep "
      "learning. ICML."), "https://arxiv.org/abs/1506.02142"),
)

CONVENTION = ("nnbasics' convention: `p` is the probability of DROPPING a unit (as PyTorch and TF2; TF1's "
              "`keep_prob` is 1 - p). Dropout is *inverted*: during training the kept units are multiplied by "
              "1/(1 - p), so the expected activation is unchanged and `model.eval()` is the identity -- nothing "
              "is rescaled at test time.")

#: The rate the verdict compares with p = 0, fixed before the run (choosing the best-looking rate
#: after seeing the test numbers would favour dropout by chance).
VERDICT_RATE = 0.5

#: sizes of the two modes: the slice is small on purpose (the network must be able to memorize it); the
#: test set is large so that the test accuracy of one run is precise (sd ~0.01 at 2,000 images).
EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"n_train": 300, "n_test": 2000, "hidden": [256, 256], "epochs": 30, "lr": 1e-3, "batch_size": 32,
           "rates": [0.0, 0.25, 0.5, 0.75], "seeds": 4, "mc_T": 20, "every": 5},
    full={"n_train": 1000, "n_test": 10000, "hidden": [512, 512], "epochs": 80, "lr": 1e-3, "batch_size": 32,
          "rates": [0.0, 0.1, 0.3, 0.5, 0.7], "seeds": 4, "mc_T": 30, "every": 5})
settings = EXPERIMENT.settings


def train_dropout_model(*, p, X_train, y_train, X_test, y_test, hidden, epochs, lr, batch_size, seed, mc_T=0,
                        every=1, seed_index=0) -> dict:
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
        seed_index: which seed of the sweep this is (recorded, to pair runs across rates).

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
    out = {"p": float(p), "seed": int(seed), "seed_index": int(seed_index), "curves": curves, "gap": accuracy_gap(curves),
           "loss_gap": float(curves["test_loss"][-1] - curves["train_loss"][-1])}
    if mc_T and p > 0:
        out["mc"] = mc_dropout_stats(model, X_test, y_test, T=int(mc_T), rng=np.random.default_rng(mc_seq))
    return out


def summarize(results) -> dict:
    """Per dropout rate, over seeds: ``{p: {train_acc, test_acc, gap, ..., *_std, n}}``.

    Args:
        results: dicts from :func:`train_dropout_model`.

    Returns:
        dict keyed by p (sorted): the means of the final ``train_acc``, ``test_acc``,
        ``train_loss``, ``test_loss``, ``gap`` and ``loss_gap``; their sample standard deviations
        over seeds (``gap_std``, ``loss_gap_std``, ``test_acc_std``; 0 for one seed); ``n``; and
        the per-seed values in seed order (``gaps``, ``loss_gaps``, ``test_accs``).
    """
    by_p = {}
    for r in results:
        by_p.setdefault(float(r["p"]), []).append(r)
    out = {}
    for p in sorted(by_p):
        runs = sorted(by_p[p], key=lambda r: r.get("seed_index", 0))
        last = {k: [run["curves"][k][-1] for run in runs] for k in ("train_acc", "test_acc", "train_loss",
                                                                    "test_loss")}
        per = {"gaps": [run["gap"] for run in runs], "loss_gaps": [run["loss_gap"] for run in runs],
               "test_accs": last["test_acc"]}
        out[p] = {k: float(np.mean(v)) for k, v in last.items()}
        out[p].update(gap=float(np.mean(per["gaps"])), loss_gap=float(np.mean(per["loss_gaps"])), n=len(runs),
                      **{f"{k}_std": float(np.std(per[v], ddof=1)) if len(runs) > 1 else 0.0
                         for k, v in (("gap", "gaps"), ("loss_gap", "loss_gaps"), ("test_acc", "test_accs"))},
                      **per)
    return out


def dropout_verdict(summary: dict, *, rate: float = VERDICT_RATE):
    """Does dropout shrink the train/test gap, beyond the noise? Computed from :func:`summarize`'s numbers.

    Two parts, each by the lab's rule on the per-seed differences (p = 0 minus p = ``rate``,
    paired by seed): the accuracy gap shrinks, and the loss gap shrinks. Supported when both
    95% intervals lie above 0; not supported when either lies below; inconclusive otherwise
    (and with one seed). The sentence also says whether test accuracy improved.

    Args:
        summary: ``{p: {"gaps": [...], "loss_gaps": [...], "test_accs": [...]}}`` with p = 0 and
            p = ``rate`` present, one value per seed in the same seed order.
        rate: the dropout rate compared with p = 0.

    Returns:
        (supported: bool | None, because: str, decisions: dict of :class:`~nnbasics.lab.stats.Decision`)

    Example:
        >>> s = {0.0: {"gaps": [0.30, 0.32, 0.31], "loss_gaps": [1.0, 1.1, 1.2], "test_accs": [0.70, 0.68, 0.69]},
        ...      0.5: {"gaps": [0.10, 0.12, 0.09], "loss_gaps": [0.3, 0.2, 0.4], "test_accs": [0.80, 0.79, 0.81]}}
        >>> dropout_verdict(s)[0]
        True
    """
    for p in (0.0, rate):
        if p not in summary:
            raise ValueError(f"dropout_verdict: the summary needs p = {p:g} (the baseline and the rate compared).")
    base, drop = summary[0.0], summary[rate]
    d = {"gap": stats.decide(stats.paired(base["gaps"], drop["gaps"]), name="accuracy-gap reduction"),
         "loss_gap": stats.decide(stats.paired(base["loss_gaps"], drop["loss_gaps"]), name="loss-gap reduction"),
         "test_acc": stats.decide(stats.paired(drop["test_accs"], base["test_accs"]), name="test-accuracy gain")}
    supported = stats.all_of([d["gap"], d["loss_gap"]])
    lead = {True: "Dropout shrank the gap beyond the noise",
            False: "Dropout did not shrink the gap",
            None: "Inconclusive: the effect is within the noise of these seeds"}[supported]
    because = (f"{lead} (p = {rate:g} against p = 0): {d['gap'].sentence()}; {d['loss_gap'].sentence()}. "
               f"{ {True: 'Test accuracy rose', False: 'Test accuracy did NOT rise', None: 'Test accuracy'}[d['test_acc'].supported]}: "
               f"{d['test_acc'].sentence()}.")
    return supported, because, d


# ------------------------------------------------------------------ figures
def _curves_figure(results, rates):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    from ..plots import SMALL, integer_ticks, new_figure, series_style, sweep_colours

    fig, axes = new_figure(1, 2, width=9.0, height=3.8)
    colours = sweep_colours(len(rates))
    for i, (colour, p) in enumerate(zip(colours, rates)):
        c = next(r for r in results if r["p"] == p and r.get("seed_index", 0) == 0)["curves"]  # the first seed
        mark = {"marker": series_style(i)["marker"], "ms": 4}  # coinciding curves (train accuracy 1.0) stay visible
        axes[0, 0].plot(c["epoch"], c["train_acc"], color=colour, lw=1.6, **mark)
        axes[0, 0].plot(c["epoch"], c["test_acc"], color=colour, lw=1.6, ls="--", **mark)
        axes[0, 1].plot(c["epoch"], c["train_loss"], color=colour, lw=1.6, **mark)
        axes[0, 1].plot(c["epoch"], c["test_loss"], color=colour, lw=1.6, ls="--", **mark)
    axes[0, 0].set(xlabel="epoch", ylabel="accuracy (dropout off)", title="accuracy")
    axes[0, 1].set(xlabel="epoch", ylabel="cross-entropy (dropout off)", title="loss", yscale="log")
    key = [Line2D([], [], color="k", lw=1.6, label="training slice"),
           Line2D([], [], color="k", lw=1.6, ls="--", label="test set")]
    axes[0, 0].legend(handles=key, fontsize=SMALL, loc="lower right")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        integer_ticks(ax)  # epochs
    edges = np.arange(len(rates) + 1) - 0.5
    mappable = ScalarMappable(norm=BoundaryNorm(edges, len(rates)), cmap=ListedColormap(colours))
    fig.tight_layout()
    cb = fig.colorbar(mappable, ax=axes.ravel().tolist(), ticks=range(len(rates)), fraction=0.04, pad=0.02)
    cb.ax.set_yticklabels([f"{p:g}" for p in rates])
    cb.set_label("dropout rate p")
    return fig


def _gap_figure(summary, n_seeds):
    from ..plots import SMALL, new_figure, series_style

    rates = sorted(summary)
    fig, axes = new_figure(1, 2, width=9.0, height=3.8)
    ax = axes[0, 0]
    for i, (key, label) in enumerate((("train_acc", "train accuracy"), ("test_acc", "test accuracy"),
                                      ("gap", "gap (train - test)"))):
        style = series_style(i)
        err = None
        if key in ("gap", "test_acc"):
            err = [stats.estimate(summary[p]["gaps" if key == "gap" else "test_accs"]).half_width for p in rates]
        ax.errorbar(rates, [summary[p][key] for p in rates], yerr=err, capsize=3, label=label, **style)
    ax.set(xlabel="dropout rate p (probability of dropping a unit)", ylabel="accuracy after the last epoch",
           title="accuracy and its train/test gap", ylim=(0, 1.05))
    ax.set_xticks(rates)
    ax.legend(fontsize=SMALL)
    ax = axes[0, 1]
    ax.errorbar(rates, [summary[p]["loss_gap"] for p in rates],
                yerr=[stats.estimate(summary[p]["loss_gaps"]).half_width for p in rates], capsize=3,
                **series_style(3))
    ax.set(xlabel="dropout rate p", ylabel="test loss - train loss (nats)", title="loss gap")
    ax.set_xticks(rates)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _mc_figure(mc, p):
    from ..plots import CLASS_COLOURS, SMALL, new_figure

    ent, ok = np.asarray(mc["entropy"], np.float64), np.asarray(mc["correct"], bool)
    fig, axes = new_figure(width=6.0, height=3.8)
    ax = axes[0, 0]
    bins = np.linspace(0, max(float(ent.max()), 1e-3), 30)
    ax.hist(ent[ok], bins=bins, alpha=0.6, density=True, color=CLASS_COLOURS[0], label=f"correct ({int(ok.sum())})")
    ax.hist(ent[~ok], bins=bins, alpha=0.6, density=True, color=CLASS_COLOURS[1], hatch="//",
            label=f"misclassified ({int((~ok).sum())})")
    ax.set(xlabel="predictive entropy of the MC-dropout mean (nats)", ylabel="density",
           title=f"Monte-Carlo dropout, p = {p:g}, T = {mc['T']}")
    ax.legend(fontsize=SMALL)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the experiment
def _table(summary):
    def pm(p, key, fmt=".3f"):
        return stats.estimate(summary[p][key]).text(fmt)

    return [[f"{p:g}", summary[p]["train_acc"], pm(p, "test_accs"), pm(p, "gaps"), summary[p]["train_loss"],
             summary[p]["test_loss"], pm(p, "loss_gaps")] for p in summary]


def _measure(report, summary, decisions, rate) -> Metrics:
    """Every number of the report under its structured name: per rate, the headline gaps, the decisions."""
    m = Metrics(report)
    for p, s in summary.items():
        for k in ("train_acc", "test_acc", "gap", "loss_gap", "gap_std", "loss_gap_std", "test_acc_std"):
            m[f"p{p:g}", k] = s[k]
    m["verdict_rate"] = rate
    m.record("gap_p0", summary[0.0]["gap"], label="accuracy gap without dropout (train - test, mean)")
    m.record("gap_dropout", summary[rate]["gap"], label=f"accuracy gap with p = {rate:g} (mean)")
    m.record("loss_gap_p0", summary[0.0]["loss_gap"], label="loss gap without dropout (test - train, nats)")
    m.record("loss_gap_dropout", summary[rate]["loss_gap"], label=f"loss gap with p = {rate:g} (nats)")
    m.record("test_acc_p0", summary[0.0]["test_acc"], label="test accuracy without dropout (mean)")
    m.record("test_acc_dropout", summary[rate]["test_acc"], label=f"test accuracy with p = {rate:g} (mean)")
    for key, d in decisions.items():
        m["effect", key] = d.to_dict()
    m.record("gap_reduction", decisions["gap"].estimate.mean, label="accuracy-gap reduction (mean over seeds)")
    m.record("gap_reduction_ci95", decisions["gap"].estimate.half_width,
             label="accuracy-gap reduction: 95% interval half-width (the noise)")
    return m


def _mc_section(report, mc, rate):
    report.section("Monte-Carlo dropout: dropout kept on at test time",
                   f"The p = {rate:g} network of the first seed predicts each test image T = {mc['T']} times with "
                   "dropout ON and the class probabilities are averaged ([Gal & Ghahramani 2016]"
                   "(https://arxiv.org/abs/1506.02142)). The spread of the passes is the model's uncertainty: it "
                   "should be higher where the model is wrong.")
    report.figure(_mc_figure(mc, rate), "mc_dropout_entropy",
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
               "correct one (0.5 = no signal). One network: a description, not a comparison.")
    m = Metrics(report)
    for k in ("mc_accuracy", "eval_accuracy", "entropy_correct", "entropy_wrong", "std_correct", "std_wrong",
              "auroc_entropy", "auroc_eval_entropy", "n_wrong"):
        m["mc", k] = mc[k]
    higher = mc["entropy_wrong"] > mc["entropy_correct"]
    report.finding(f"MC dropout (p = {rate:g}, T = {mc['T']}): mean accuracy {mc['mc_accuracy']:.3f} vs "
                   f"{mc['eval_accuracy']:.3f} in eval mode; entropy {mc['entropy_wrong']:.3f} nats on errors vs "
                   f"{mc['entropy_correct']:.3f} on correct answers -- uncertainty is "
                   f"{'higher' if higher else 'NOT higher'} where the model is wrong (AUROC "
                   f"{mc['auroc_entropy']:.2f}).")


def _describe(report, cfg, data, rate):
    """The data note and the model, written before the results."""
    report.text(CONVENTION)
    report.data_note = (f"{data.note()} The training slice is small on purpose: {len(data.y_train)} class-balanced "
                        f"images, which the network can memorize; the {len(data.y_test):,} test images make one run's "
                        "test accuracy precise.")
    report.text(f"Model: MLP {int(np.prod(data.X_train.shape[1:]))} -> {' -> '.join(map(str, cfg['hidden']))} -> "
                f"{data.num_classes}, ReLU, Dropout(p) after each hidden layer; Adam lr {cfg['lr']:g}, batch "
                f"{cfg['batch_size']}, {cfg['epochs']} epochs; {cfg['seeds']} seeds, each giving every rate the same "
                f"initial weights and batch order. The verdict compares p = {rate:g} (fixed before the run) with "
                "p = 0, seed by seed.")
    report.config.update(cfg, verdict_rate=rate)


def _sweep(ctx, cfg, data, rate) -> list:
    """Every rate from every seed (the same weights and batch order for every rate of a seed); MC dropout on the
    first seed's p = ``rate`` network."""
    jobs = [{"p": p, "X_train": data.X_train, "y_train": data.y_train, "X_test": data.X_test, "y_test": data.y_test,
             "hidden": cfg["hidden"], "epochs": cfg["epochs"], "lr": cfg["lr"], "batch_size": cfg["batch_size"],
             "seed": ctx.seed_for("dropout", "run", r), "seed_index": r,
             "mc_T": cfg["mc_T"] if r == 0 and p == rate else 0, "every": cfg["every"]}
            for r in range(cfg["seeds"]) for p in cfg["rates"]]
    ctx.log(f"dropout: training {len(jobs)} networks ({len(cfg['rates'])} rates x {cfg['seeds']} seeds)")
    return ctx.map(train_dropout_model, jobs)


def _results_section(report, results, summary, n_seeds):
    report.section("The train/test gap against the dropout rate")
    report.figure(_curves_figure(results, sorted(summary)), "dropout_curves",
                  "Accuracy and loss on the training slice (solid) and the test set (dashed) during training, "
                  "dropout off for both, for the first seed; the colour is the dropout rate (colorbar).")
    report.figure(_gap_figure(summary, n_seeds), "dropout_gap",
                  f"After the last epoch, mean over {n_seeds} seeds: train and test accuracy and their gap (left), "
                  "and the loss gap (right), against the dropout rate p. Error bars: 95% intervals over seeds.")
    report.table(["p", "train acc", "test acc", "accuracy gap", "train loss", "test loss", "loss gap"],
                 _table(summary),
                 caption=f"After the last epoch, both sets evaluated with dropout off: means over {n_seeds} seeds, "
                         "± the 95% interval's half-width where the verdict uses the number.")


def _findings(report, summary, rate, supported, quick, n_train, n_seeds):
    s0 = summary[0.0]
    report.finding(f"Without dropout the network reaches {s0['train_acc']:.3f} training accuracy but "
                   f"{s0['test_acc']:.3f} test accuracy: gap {s0['gap']:.3f} (mean of {n_seeds} seeds).")
    if summary[rate]["train_acc"] >= 0.999 and s0["train_acc"] >= 0.999:
        report.finding(f"Training accuracy is {summary[rate]['train_acc']:.3f} with and without dropout here: the "
                       "accuracy gap measures the test accuracy alone; the loss gap also shows how much more "
                       "confident (and wrong) the memorizing network is on the test set.")
    if supported is None and quick:
        report.finding(f"Quick mode's {n_seeds} seeds on a {n_train}-image slice are too few to separate an "
                       "effect of this size from the noise; the full run (more data, a larger test set) decides it.")


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    cfg, report = EXPERIMENT.begin(ctx)
    rate = VERDICT_RATE
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    _describe(report, cfg, data, rate)
    results = _sweep(ctx, cfg, data, rate)                              # sweep
    summary = summarize(results)                                        # measure
    supported, because, decisions = dropout_verdict(summary, rate=rate)  # verdict
    _measure(report, summary, decisions, rate)                          # report
    _results_section(report, results, summary, cfg["seeds"])
    _mc_section(report, next(r for r in results if r["p"] == rate and r.get("mc"))["mc"], rate)
    _findings(report, summary, rate, supported, ctx.quick, len(data.y_train), cfg["seeds"])
    report.conclude(supported, because, rule=stats.rule_text(cfg["seeds"], quick=ctx.quick))
    return report
