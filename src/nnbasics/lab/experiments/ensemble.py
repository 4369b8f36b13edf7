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
most); the seeds-only ensemble is reported beside it with its own gain, because on small
generated images wide members from different seeds agree so closely that averaging them
gains little (measured: the ``seeds.*`` metrics).

Executor: quick mode trains the members in this process (``'serial'``) unless the context
names an executor: on 2 shared cores, spawning worker processes (each importing NumPy and
nnbasics, ~1-2 s) costs more than the few seconds of training it would overlap. Full mode uses
the context's executor (default: a local process pool, one member per core).

Run: ``nnbasics lab ensemble [--quick] [--executor process|serial|thread]``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CLAIM", "NAME", "RECIPES", "TITLE", "bootstrap_trainer", "ensemble_verdict", "prefix_scores", "run",
           "settings"]

NAME = "ensemble"
TITLE = "Ensembles: the average of K networks against the best single network"
CLAIM = ("Combine several trained networks by averaging their predictions: the ensemble is at least as good "
         "as its best member, because the members' errors are partly independent and averaging cancels them "
         "(the lecture's second cure for overfitting, beside dropout; dropout itself is \"training a large "
         "ensemble of models that share parameters\", Srivastava et al. 2014). Tested here with members that "
         "differ by their seed and their bootstrap resample of the training data (bagging, Breiman 1996); the "
         "members that differ by seed alone are measured and reported beside them.")

#: the two ways the members are made to differ; the verdict is computed on ``"bagging"``.
RECIPES = ("seeds", "bagging")

_SETTINGS = {
    True: {"n_train": 1600, "n_test": 4000, "members": 5, "hidden": [64], "epochs": 15, "lr": 2e-3,
           "batch_size": 32},
    False: {"n_train": 10000, "n_test": 10000, "members": 8, "hidden": [256], "epochs": 8, "lr": 1e-3,
            "batch_size": 64},
}


def bootstrap_trainer(model, train_arrays, validation_arrays, data_rng, settings):
    """A ``train_ensemble`` trainer for bagging: train on a bootstrap resample (n draws with replacement).

    The resample is drawn from the member's data stream (its seed), then training is
    :func:`train_ensemble`'s default (``fit`` with the given settings). Top-level, so process
    pools can pickle it.
    """
    from ...training.ensemble import _default_trainer

    n = len(train_arrays[0])
    idx = data_rng.integers(0, n, size=n)
    return _default_trainer(model, tuple(a[idx] for a in train_arrays), validation_arrays, data_rng, settings)


def settings(quick: bool) -> dict:
    """The experiment's sizes for quick (True) or full (False) mode (a copy)."""
    s = _SETTINGS[bool(quick)]
    return {k: list(v) if isinstance(v, list) else v for k, v in s.items()}


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


def ensemble_verdict(ensemble_acc: float, best_member_acc: float, mean_member_acc: float | None = None):
    """Is the K-member ensemble at least as good as its best member? Computed from the accuracies.

    The best member is chosen by its *test* accuracy, which favours the single model (a
    selection it could not make without the test labels); the ensemble needs no such choice.

    Args:
        ensemble_acc: test accuracy of the averaged K members.
        best_member_acc: the best member's test accuracy.
        mean_member_acc: the average member's (for the sentence; optional).

    Returns:
        (supported: bool, because: str)

    Example:
        >>> ensemble_verdict(0.85, 0.82)[0], ensemble_verdict(0.80, 0.82)[0]
        (True, False)
    """
    if any(not isinstance(v, (int, float)) or math.isnan(v) for v in (ensemble_acc, best_member_acc)):
        raise ValueError(f"ensemble_verdict: accuracies must be numbers; got {ensemble_acc!r}, {best_member_acc!r}.")
    gain = ensemble_acc - best_member_acc
    mean = "" if mean_member_acc is None else f", the average member {mean_member_acc:.4f}"
    text = (f"the ensemble scores {ensemble_acc:.4f}, its best member {best_member_acc:.4f}{mean} "
            f"(gain over the best {gain:+.4f}, {100 * gain:+.2f} points).")
    if gain >= 0:
        return True, "The ensemble is at least as good as its best member: " + text
    return False, "The ensemble is worse than its best member: " + text


def _curve_figure(scores_by_recipe):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scores_by_recipe) + 1, figsize=(5.5 * (len(scores_by_recipe) + 1), 4))
    for ax, (recipe, scores) in zip(axes, scores_by_recipe.items()):
        ks = [s["k"] for s in scores]
        last = scores[-1]
        ax.plot(ks, [s["mean_acc"] for s in scores], "o-", label="ensemble: mean of probabilities")
        ax.plot(ks, [s["vote_acc"] for s in scores], "s--", label="ensemble: majority vote")
        ax.plot(ks, [s["best_member_acc"] for s in scores], ":", color="C3", label="best of the first k members")
        ax.plot(ks, [s["mean_member_acc"] for s in scores], ":", color="C7", label="average of the first k members")
        ax.scatter(np.arange(1, len(last["member_acc"]) + 1), last["member_acc"], color="k", marker="x", zorder=3,
                   label="member k alone")
        ax.set(xlabel="members k", ylabel="test accuracy", title=f"{recipe}: the first k members, averaged")
        ax.set_xticks(ks)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[-1]
    for recipe, scores in scores_by_recipe.items():
        ax.plot([s["k"] for s in scores], [s["nll"] for s in scores], "o-", label=recipe)
    ax.set(xlabel="members k", ylabel="test cross-entropy (nats)", title="test loss of the averaged probabilities")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def run(ctx):
    """Run the experiment in ``ctx`` (a :class:`nnbasics.lab.LabContext`); return the Report."""
    from ...training import train_ensemble
    from ..report import Report

    cfg = settings(ctx.quick)
    report = Report(NAME, TITLE, CLAIM)
    data = ctx.images(n_train=cfg["n_train"], n_test=cfg["n_test"])
    X_tr, y_tr, X_te, y_te = data.X_train, data.y_train, data.X_test, data.y_test
    report.data_note = ctx.data_note
    report.config.update(cfg)
    executor = getattr(ctx, "executor", None)
    executor_note = executor if isinstance(executor, str) else type(executor).__name__
    if executor is None:
        executor, executor_note = ("serial", "serial (quick mode: no process start-up)") if ctx.quick else (
            None, "local process pool")
    in_features = list(X_tr.shape[1:]) if X_tr.ndim > 2 else int(X_tr.shape[1])
    spec = {"model": "mlp", "in_features": in_features, "hidden": cfg["hidden"],
            "out_features": int(data.num_classes), "activation": "relu"}
    seeds = [ctx.seed_for("ensemble", "member", i) for i in range(cfg["members"])]
    report.text(f"Members: {cfg['members']} MLPs {spec['in_features']} -> {' -> '.join(map(str, cfg['hidden']))} -> "
                f"{spec['out_features']} (ReLU), trained alike (Adam lr {cfg['lr']:g}, batch {cfg['batch_size']}, "
                f"{cfg['epochs']} epochs) from different seeds {seeds}; executor: {executor_note}.")
    scores = {}
    for recipe in RECIPES:
        ctx.log(f"ensemble: training {cfg['members']} members ({recipe})")
        ens = train_ensemble(spec, (X_tr, y_tr), seeds=seeds, executor=executor, epochs=cfg["epochs"],
                             batch_size=cfg["batch_size"], lr=cfg["lr"], optimizer="adam",
                             trainer=bootstrap_trainer if recipe == "bagging" else None,
                             max_workers=getattr(ctx, "max_workers", None))
        scores[recipe] = prefix_scores(ens, X_te, y_te)
    K = scores["bagging"][-1]["k"]

    report.section("Accuracy of 1...K members against the best single member")
    report.figure(_curve_figure(scores), "ensemble_members",
                  "Test accuracy of the average of the first k members (mean of probabilities and majority vote), "
                  "the best and the average single member among them and each member alone (x), for members that "
                  "differ only in their seed and for bagged members; right: the averaged prediction's test loss.")
    for recipe, sc in scores.items():
        report.table(["k", "mean-prob acc", "vote acc", "best member", "mean member", "NLL", "disagreement", "oracle"],
                     [[s["k"], f"{s['mean_acc']:.4f}", f"{s['vote_acc']:.4f}", f"{s['best_member_acc']:.4f}",
                       f"{s['mean_member_acc']:.4f}", f"{s['nll']:.4f}", f"{s['pairwise_disagreement']:.4f}",
                       f"{s['oracle_acc']:.4f}"] for s in sc],
                     caption=f"{recipe}: the ensemble of the first k members. Disagreement: mean over member pairs "
                             "of the fraction of test images on which the two predict different labels. Oracle: "
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
            report.metric(f"{recipe}.{key}", value)
        report.finding(f"{recipe}: averaging {K} members gives {last['mean_acc']:.4f} against the best member's "
                       f"{last['best_member_acc']:.4f} ({last['mean_acc'] - last['best_member_acc']:+.4f}) and the "
                       f"average member's {last['mean_member_acc']:.4f}; majority vote {last['vote_acc']:.4f}; "
                       f"pairwise disagreement {100 * last['pairwise_disagreement']:.1f}%, oracle "
                       f"{100 * last['oracle_acc']:.1f}%; test loss {sc[0]['nll']:.4f} (one member) -> "
                       f"{last['nll']:.4f}.")
    main = scores["bagging"][-1]
    report.metric("members", K)
    for key in ("ensemble_acc", "best_member_acc", "mean_member_acc", "gain_over_best"):
        report.metric(key, report.metrics[f"bagging.{key}"])
    seeds_last = scores["seeds"][-1]
    if seeds_last["mean_acc"] < seeds_last["best_member_acc"]:
        report.finding("Members that differ only in their seed agree so closely here that their average does not "
                       "beat the luckiest of them: the gain from ensembling is as large as the members' diversity "
                       "(disagreement above), which is why the lecture asks for members that differ.")
    if main["mean_acc"] < seeds_last["best_member_acc"]:
        report.finding(f"Bagging buys diversity with accuracy: each bagged member trains on ~63% distinct images, so "
                       f"the bagged ensemble ({main['mean_acc']:.4f}) beats its own members but not the best member "
                       f"trained on all the data ({seeds_last['best_member_acc']:.4f}).")
    supported, because = ensemble_verdict(main["mean_acc"], main["best_member_acc"], main["mean_member_acc"])
    seeds_gain = seeds_last["mean_acc"] - seeds_last["best_member_acc"]
    report.conclude(supported, f"{because} (Bagging ensemble of {K}. Seeds only: {seeds_last['mean_acc']:.4f} vs best "
                               f"member {seeds_last['best_member_acc']:.4f}, {seeds_gain:+.4f}.)")
    return report
