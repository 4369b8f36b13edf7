"""Lab experiment ``ensemble``: K networks, averaged, against the best of them.

K MLPs are trained with :func:`nnbasics.training.train_ensemble` through the context's
executor, by two recipes from Hinton's lecture on combining networks ("make the models
differ"): **seeds** -- the members differ only in their seed (initial weights, batch
order), the CS231n recipe "train multiple independent models, average their results"; and
**bagging** -- each member also trains on its own bootstrap resample of the training set
(Breiman 1996), drawn from its seed. The ensemble of the first k members (k = 1..K) is scored
on the test set: averaged probabilities (soft voting) and majority vote, against the best
single member and the average member; the members' disagreement and the oracle accuracy
(some member is right) bound what combining can gain.

The verdict is computed on the bagging ensemble (the recipe that makes the members differ
most), from several independent **replicates** (each its own K members, from its own seeds):
the gain over the best member is measured per replicate and judged with the lab's rule
(:mod:`nnbasics.lab.stats`): supported when its 95% interval over replicates lies above 0.
The seeds-only ensemble (one replicate) is reported beside it with its own gain, because on
small generated images wide members from different seeds agree so closely that averaging
them gains little (measured: the ``seeds.*`` metrics).

Executor: quick mode trains the members in this process (``'serial'``) unless the context
names an executor: on 2 shared cores, spawning worker processes (each importing NumPy and
nnbasics, ~1-2 s) costs more than the few seconds of training it would overlap. Full mode uses
the context's executor (default: a local process pool, one member per core).

Run: ``nnbasics lab ensemble [--quick] [--executor process|serial|thread]``.
"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..experiment import Experiment, Metrics

__all__ = ["CLAIM", "EXPERIMENT", "NAME", "RECIPES", "TITLE", "bootstrap_trainer", "ensemble_verdict", "prefix_scores",
           "run", "settings"]

NAME = "ensemble"
TITLE = "Ensembles: the average of K networks against the best single network"
CLAIM = ("Combine several trained networks by averaging their predictions: the ensemble is more accurate "
         "than its best member, because the members' errors are partly independent and averaging cancels them "
         "(the lecture's second cure for overfitting, beside dropout; dropout itself is \"training a large "
         "ensemble of models that share parameters\", Srivastava et al. 2014). Tested here with members that "
         "differ by their seed and their bootstrap resample of the training data (bagging, Breiman 1996); the "
         "members that differ by seed alone are measured and reported beside them.")

#: the two ways the members are made to differ; the verdict is computed on ``"bagging"``.
RECIPES = ("seeds", "bagging")

REFERENCES = (
    ("Breiman (1996). Bagging predictors. Machine Learning 24.", "https://doi.org/10.1007/BF00058655"),
    (("Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014). Dropout: a simple way to prevent neural "
      "networks from overfitting. JMLR 15."), "https://jmlr.org/papers/v15/srivastava14a.html"),
)

#: ``replicates``: independent bagging ensembles (their spread is the noise the verdict is judged against).
EXPERIMENT = Experiment(
    NAME, TITLE, CLAIM, REFERENCES,
    quick={"n_train": 1600, "n_test": 4000, "members": 5, "replicates": 4, "hidden": [64], "epochs": 15, "lr": 2e-3,
           "batch_size": 32},
    full={"n_train": 10000, "n_test": 10000, "members": 6, "replicates": 3, "hidden": [256], "epochs": 8, "lr": 1e-3,
          "batch_size": 64})
settings = EXPERIMENT.settings


def bootstrap_trainer(model, train_arrays, validation_arrays, data_rng, settings):
    """A ``train_ensemble`` trainer for bagging: train on a bootstrap resample (n draws with replacement).

    The resample is drawn from the member's data stream (its seed), then training is
    :func:`train_ensemble`'s default (``fit`` with the given settings). Top-level, so process
    pools can pickle it.
    """
    from ...training.ensemble import default_trainer

    n = len(train_arrays[0])
    idx = data_rng.integers(0, n, size=n)
    return default_trainer(model, tuple(a[idx] for a in train_arrays), validation_arrays, data_rng, settings)


def _nll(probs, y):
    p = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.log(p).mean())


def prefix_scores(ensemble, X, y) -> list:
    """Score the ensemble of the first k members, for k = 1..K, on (X, y).

    Args:
        ensemble: a :class:`nnbasics.training.ensemble.Ensemble`.
        X, y: test inputs and integer labels.

    Returns:
        list of dicts, one per k: ``k``, ``mean_acc`` (averaged probabilities), ``vote_acc``
        (majority vote, ties to the highest mean probability), ``nll`` (test cross-entropy of the
        averaged probabilities), ``best_member_acc`` and ``mean_member_acc`` among the first k,
        ``pairwise_disagreement``, ``oracle_acc`` (from :meth:`Ensemble.report`).
    """
    from ...training.ensemble import Ensemble

    y = np.asarray(y)
    out = []
    for k in range(1, len(ensemble) + 1):
        members = list(ensemble.members)[:k]
        mean_ens = Ensemble(members, combine="mean")
        rep = mean_ens.report(X, y)
        vote = Ensemble(members, combine="vote").report(X, y)
        out.append({"k": k, "mean_acc": rep.ensemble_accuracy, "vote_acc": vote.ensemble_accuracy,
                    "nll": _nll(mean_ens.predict_proba(X), y), "best_member_acc": rep.best_member_accuracy,
                    "mean_member_acc": rep.mean_member_accuracy, "member_acc": list(rep.member_accuracy),
                    "pairwise_disagreement": rep.pairwise_disagreement, "oracle_acc": rep.oracle_accuracy})
    return out


def ensemble_verdict(gains, ensemble_acc=None, best_member_acc=None):
    """Is the K-member ensemble more accurate than its best member, beyond the noise?

    The best member is chosen by its *test* accuracy, which favours the single model (a
    selection it could not make without the test labels); the ensemble needs no such choice.

    Args:
        gains: per replicate, ensemble test accuracy minus its best member's.
        ensemble_acc, best_member_acc: the replicates' mean accuracies (for the sentence; optional).

    Returns:
        (supported: bool | None, because: str, decision: :class:`~nnbasics.lab.stats.Decision`):
        supported when the gains' 95% interval lies above 0, not supported when below 0,
        inconclusive otherwise (or with one replicate).

    Example:
        >>> ensemble_verdict([0.012, 0.009, 0.015, 0.011])[0], ensemble_verdict([-0.02, -0.025, -0.018])[0]
        (True, False)
    """
    g = np.asarray(gains, np.float64)
    if g.ndim != 1 or g.size == 0 or np.isnan(g).any():
        raise ValueError(f"ensemble_verdict: gains must be numbers, one per replicate; got {gains!r}.")
    d = stats.decide(g, name="gain over the best member", fmt=".4f", unit="replicates")
    accs = "" if ensemble_acc is None else (f"the ensemble scores {ensemble_acc:.4f} and its best member "
                                            f"{best_member_acc:.4f} (means over replicates); ")
    lead = {True: "The ensemble beats its best member", False: "The ensemble is worse than its best member",
            None: "Inconclusive: the ensemble and its best member are within the noise"}[d.supported]
    return d.supported, f"{lead}: {accs}{d.sentence()}.", d


def _curve_figure(scores_by_recipe, gains):
    from ..plots import SMALL, new_figure, series_style

    fig, axes = new_figure(2, 2, width=9.0, height=7.2)
    for ax, (recipe, scores) in zip(axes.ravel()[:2], scores_by_recipe.items()):
        ks = [s["k"] for s in scores]
        last = scores[-1]
        for i, (key, label) in enumerate((("mean_acc", "ensemble: mean of probabilities"),
                                          ("vote_acc", "ensemble: majority vote"),
                                          ("best_member_acc", "best of the first k members"),
                                          ("mean_member_acc", "average of the first k members"))):
            ax.plot(ks, [s[key] for s in scores], ms=5, label=label, **series_style(i))
        ax.scatter(np.arange(1, len(last["member_acc"]) + 1), last["member_acc"], color="k", marker="x", zorder=3,
                   label="member k alone")
        ax.set(xlabel="members k", ylabel="test accuracy", title=f"{recipe}: the first k members averaged")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=SMALL, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 1.0))
    ax = axes[1, 0]
    for i, (recipe, scores) in enumerate(scores_by_recipe.items()):
        ax.plot([s["k"] for s in scores], [s["nll"] for s in scores], ms=5, label=recipe, **series_style(i))
    ax.set(xlabel="members k", ylabel="test cross-entropy (nats)", title="test loss of the averaged probabilities")
    ax.set_xticks([s["k"] for s in scores])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL)
    ax = axes[1, 1]
    est = stats.estimate(gains)
    reps = np.arange(1, len(gains) + 1)
    ax.axhline(0, color="grey", lw=1)
    ax.plot(reps, 100 * np.asarray(gains), "o", color=series_style(0)["color"], label="one replicate")
    if est.n > 1:
        ax.errorbar([len(gains) + 1], [100 * est.mean], yerr=[100 * est.half_width], fmt="s", capsize=4,
                    color=series_style(1)["color"], label="mean, 95% interval")
    ax.set_xticks([*reps, len(gains) + 1])
    ax.set_xticklabels([str(r) for r in reps] + ["mean"])
    ax.set(xlabel="bagging replicate", ylabel="gain over the best member (points)",
           title="the verdict: gain per replicate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL)
    fig.tight_layout()
    return fig


def _train(ctx, cfg, spec, data, recipe, seeds, executor):
    from ...training import train_ensemble

    ctx.log(f"ensemble: training {len(seeds)} members ({recipe})")
    return train_ensemble(spec, (data.X_train, data.y_train), seeds=seeds, executor=executor, epochs=cfg["epochs"],
                          batch_size=cfg["batch_size"], lr=cfg["lr"], optimizer="adam",
                          trainer=bootstrap_trainer if recipe == "bagging" else None,
                          max_workers=getattr(ctx, "max_workers", None))


def _recipe_table(report, recipe, sc, note=""):
    report.table(["k", "mean-prob acc", "vote acc", "best member", "mean member", "NLL", "disagreement", "oracle"],
                 [[s["k"], f"{s['mean_acc']:.4f}", f"{s['vote_acc']:.4f}", f"{s['best_member_acc']:.4f}",
                   f"{s['mean_member_acc']:.4f}", f"{s['nll']:.4f}", f"{s['pairwise_disagreement']:.4f}",
                   f"{s['oracle_acc']:.4f}"] for s in sc],
                 caption=f"{recipe}{note}: the ensemble of the first k members. Disagreement: mean over member "
                         "pairs of the fraction of test images on which the two predict different labels. Oracle: "
                         "some member is right (an upper bound for any vote).")
    last = sc[-1]
    for key, value in (("ensemble_acc", last["mean_acc"]), ("vote_acc", last["vote_acc"]),
                       ("best_member_acc", last["best_member_acc"]), ("mean_member_acc", last["mean_member_acc"]),
                       ("gain_over_best", last["mean_acc"] - last["best_member_acc"]),
                       ("gain_over_mean", last["mean_acc"] - last["mean_member_acc"]),
                       ("ensemble_nll", last["nll"]), ("member_nll_k1", sc[0]["nll"]),
                       ("pairwise_disagreement", last["pairwise_disagreement"]),
                       ("oracle_acc", last["oracle_acc"]), ("member_acc", last["member_acc"]),
                       ("acc_by_k", [s["mean_acc"] for s in sc])):
        Metrics(report)[recipe, key] = value
    report.finding(f"{recipe}{note}: averaging {last['k']} members gives {last['mean_acc']:.4f} against the best "
                   f"member's {last['best_member_acc']:.4f} ({last['mean_acc'] - last['best_member_acc']:+.4f}) and "
                   f"the average member's {last['mean_member_acc']:.4f}; majority vote {last['vote_acc']:.4f}; "
                   f"pairwise disagreement {100 * last['pairwise_disagreement']:.1f}%, oracle "
                   f"{100 * last['oracle_acc']:.1f}%; test loss {sc[0]['nll']:.4f} (one member) -> {last['nll']:.4f}.")


def _headline(report, K, R, gains, decision, replicas, scores):
    """The verdict's numbers as metrics (the headline ones labelled)."""
    m = Metrics(report)
    m["members"], m["replicates"], m["replicate_gains"] = K, R, gains
    m["effect", "gain_over_best"] = decision.to_dict()
    m.record("ensemble_acc", float(np.mean([sc[-1]["mean_acc"] for sc in replicas])),
             label=f"bagging ensemble of {K}: test accuracy (mean of {R} replicates)")
    m.record("best_member_acc", float(np.mean([sc[-1]["best_member_acc"] for sc in replicas])),
             label="its best member: test accuracy (mean of replicates)")
    m.record("mean_member_acc", float(np.mean([sc[-1]["mean_member_acc"] for sc in replicas])),
             label="its average member: test accuracy")
    m.record("gain_over_best", decision.estimate.mean, label="gain over the best member (mean of replicates)")
    m.record("gain_over_best_ci95", decision.estimate.half_width,
             label="gain over the best member: 95% interval half-width (the noise)")
    m.record(("seeds", "gain"), scores["seeds"][-1]["mean_acc"] - scores["seeds"][-1]["best_member_acc"],
             label="seeds only (one ensemble): gain over its best member")


def _setup(ctx, cfg, report, data) -> tuple:
    """``(spec, seeds, bagging seeds, executor)``; the setup described in the report."""
    K, R = cfg["members"], cfg["replicates"]
    report.data_note = ctx.data_note
    report.config.update(cfg)
    executor = getattr(ctx, "executor", None)
    executor_note = executor if isinstance(executor, str) else type(executor).__name__
    if executor is None:
        executor, executor_note = ("serial", "serial (quick mode: no process start-up)") if ctx.quick else (
            None, "local process pool")
    in_features = list(data.X_train.shape[1:]) if data.X_train.ndim > 2 else int(data.X_train.shape[1])
    spec = {"model": "mlp", "in_features": in_features, "hidden": cfg["hidden"],
            "out_features": int(data.num_classes), "activation": "relu"}
    seeds = [ctx.seed_for("ensemble", "member", i) for i in range(K)]
    bag_seeds = seeds + [ctx.seed_for("ensemble", "replicate", r, "member", i) for r in range(1, R) for i in range(K)]
    report.text(f"Members: MLPs {spec['in_features']} -> {' -> '.join(map(str, cfg['hidden']))} -> "
                f"{spec['out_features']} (ReLU), trained alike (Adam lr {cfg['lr']:g}, batch {cfg['batch_size']}, "
                f"{cfg['epochs']} epochs), each from its own seed; executor: {executor_note}. Bagging: {R} "
                f"independent ensembles (replicates) of {K} members; seeds only: one ensemble of {K} members with the "
                "first replicate's seeds, without resampling.")
    return spec, seeds, bag_seeds, executor


def _scores(bag, plain, K, R, X_te, y_te) -> tuple:
    """``(replicas, scores, gains)``: each bagging replicate's prefix scores, the first replicate's and the
    seeds-only ensemble's, and each replicate's gain over its best member."""
    from ...training.ensemble import Ensemble

    members = list(bag.members)
    replicas = [prefix_scores(Ensemble(members[r * K:(r + 1) * K]), X_te, y_te) for r in range(R)]
    scores = {"bagging": replicas[0], "seeds": prefix_scores(plain, X_te, y_te)}
    return replicas, scores, [sc[-1]["mean_acc"] - sc[-1]["best_member_acc"] for sc in replicas]


def _write(report, K, R, replicas, scores, gains, decision):
    """Figure, tables, headline numbers and findings."""
    ens_mean = float(np.mean([sc[-1]["mean_acc"] for sc in replicas]))
    best_mean = float(np.mean([sc[-1]["best_member_acc"] for sc in replicas]))
    report.section("Accuracy of 1...K members against the best single member")
    report.figure(_curve_figure(scores, gains), "ensemble_members",
                  "Top: test accuracy of the average of the first k members (mean of probabilities and majority "
                  "vote), the best and the average single member among them, and each member alone (x), for the "
                  "first bagging replicate and for members that differ only in their seed. Bottom left: the "
                  "averaged prediction's test loss. Bottom right: what the verdict uses, the gain of each bagging "
                  f"replicate's {K}-member ensemble over its best member, with their mean and 95% interval.")
    _recipe_table(report, "bagging", scores["bagging"], " (replicate 1)")
    _recipe_table(report, "seeds", scores["seeds"])
    report.table(["replicate", "ensemble acc", "best member acc", "gain (points)"],
                 [[r + 1, f"{sc[-1]['mean_acc']:.4f}", f"{sc[-1]['best_member_acc']:.4f}", f"{100 * g:+.2f}"]
                  for r, (sc, g) in enumerate(zip(replicas, gains))]
                 + [["mean ± 95% half-width", f"{ens_mean:.4f}", f"{best_mean:.4f}",
                     stats.estimate(100 * np.asarray(gains)).text(".2f", signed=True)]],
                 caption=f"Bagging: {R} independent ensembles of {K} members; the verdict reads the last column.")
    _headline(report, K, R, gains, decision, replicas, scores)
    seeds_last, main = scores["seeds"][-1], scores["bagging"][-1]
    if seeds_last["mean_acc"] < seeds_last["best_member_acc"]:
        report.finding("Members that differ only in their seed agree so closely here that their average does not "
                       "beat the luckiest of them: the gain from ensembling is as large as the members' diversity "
                       "(disagreement above), which is why the lecture asks for members that differ.")
    if main["mean_acc"] < seeds_last["best_member_acc"]:
        report.finding(f"Bagging buys diversity with accuracy: each bagged member trains on ~63% distinct images, so "
                       f"the bagged ensemble ({main['mean_acc']:.4f}) beats its own members but not the best member "
                       f"trained on all the data ({seeds_last['best_member_acc']:.4f}).")


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    cfg, report = EXPERIMENT.begin(ctx)
    K, R = cfg["members"], cfg["replicates"]
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    spec, seeds, bag_seeds, executor = _setup(ctx, cfg, report, data)
    bag = _train(ctx, cfg, spec, data, "bagging", bag_seeds, executor)              # sweep
    plain = _train(ctx, cfg, spec, data, "seeds", seeds, executor)
    replicas, scores, gains = _scores(bag, plain, K, R, data.X_test, data.y_test)  # measure
    supported, because, decision = ensemble_verdict(                                # verdict
        gains, float(np.mean([sc[-1]["mean_acc"] for sc in replicas])),
        float(np.mean([sc[-1]["best_member_acc"] for sc in replicas])))
    _write(report, K, R, replicas, scores, gains, decision)                         # report
    seeds_last = scores["seeds"][-1]
    report.conclude(supported, f"{because} (Bagging, {R} replicates of {K} members. Seeds only, one ensemble, not "
                               f"judged: {seeds_last['mean_acc']:.4f} vs its best member "
                               f"{seeds_last['best_member_acc']:.4f}.)",
                    rule=stats.rule_text(R, quick=ctx.quick, paired_arms=False, unit="replicate")
                    + " Each replicate's gain compares its ensemble with its own best member.")
    return report
