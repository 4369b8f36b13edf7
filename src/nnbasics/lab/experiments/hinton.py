"""Experiment ``hinton``: Hinton's four reasons, measured in one study and one report.

Geoffrey Hinton's summary of why deep learning did not work before ~2006:

1. "Our labelled datasets were thousands of times too small."  -> experiment ``data``
2. "Our computers were millions of times too slow."             -> experiment ``speed``
3. "We initialized the weights in a stupid way."                -> experiment ``init``
4. "We used the wrong type of non-linearity."                   -> experiment ``activation``

This study runs the four experiments with the same context (quick or full, one seed, one
executor), through the registry, so each writes its own full report into a subfolder; the
study's report gathers their verdicts, headline numbers and key figures. Its headline is the
four verdicts themselves, each linked to its report, with the count ("3 of 4 supported");
the overall verdict (:func:`overall_verdict`) is supported when all four are, not supported
when at least two are refuted, inconclusive otherwise. A sub-experiment that crashes is
reported as such (its error in the table) and counts as inconclusive, so the study always
writes a report. Each sub-experiment decides its own verdict with the lab's rule for noisy
comparisons (:mod:`nnbasics.lab.stats`), stated in its report.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

from ..experiment import Experiment, Metrics
from ..report import Report

NAME = "hinton"
QUICK_SINGLE_THREAD_BLAS = False  # each sub-experiment gets its own BLAS policy from run_in_context
TITLE = "Hinton's four reasons, measured"
CLAIM = ("Deep learning did not work in the 1980s for four reasons: \"our labelled datasets were thousands of times "
         "too small; our computers were millions of times too slow; we initialized the weights in a stupid way; "
         "we used the wrong type of non-linearity\" (Geoffrey Hinton).")

EXPERIMENT = Experiment(NAME, TITLE, CLAIM)  # no settings of its own: each reason runs in this mode

#: (experiment, Hinton's words), in his order.
REASONS = (
    ("data", "Our labelled datasets were thousands of times too small."),
    ("speed", "Our computers were millions of times too slow."),
    ("init", "We initialized the weights in a stupid way."),
    ("activation", "We used the wrong type of non-linearity."),
)

#: Headline metrics shown per reason when the sub-report has them (else its first headline numbers).
PREFERRED_METRICS = {
    "data": ("test_acc_smallest", "test_acc_largest", "gap_smallest", "gap_largest", "imagenet_over_1980s"),
    "speed": ("speedup_factor", "matmul_gflops_nnbasics", "matmul_gflops_torch", "mlp_1m_epoch_hours_1986"),
    "init": ("deep.loss_ratio_mean.he", "deep.loss_ratio_mean.xavier", "deep.std_ratio.lecun", "deep.std_ratio_theory"),
    "activation": ("ratio_sigmoid_over_relu", "accuracy_mean.sigmoid", "accuracy_mean.relu"),
}
#: The figure of each sub-report shown in the study (else its first figure).
PREFERRED_FIGURES = {"data": ("learning_curve",), "speed": ("flops",), "init": ("deep_relu",),
                     "activation": ("grad_ratio_vs_depth", "accuracy_vs_depth")}


def overall_verdict(verdicts):
    """(supported, because) from the four sub-verdicts ("supported", "not supported", "inconclusive"/None).

    Supported when all four are supported; not supported when at least two are refuted;
    inconclusive otherwise (one refuted, or any inconclusive/failed).
    """
    verdicts = list(verdicts)
    n = len(verdicts)
    sup = sum(v == "supported" for v in verdicts)
    ref = sum(v == "not supported" for v in verdicts)
    because = f"{sup} of {n} reasons supported by the measurements, {ref} not supported, {n - sup - ref} inconclusive"
    if sup == n:
        return True, because
    if ref >= 2:
        return False, because
    return None, because


def _scalar_metrics(report, name, k=4):
    """``{key: (words, value)}``: the sub-report's preferred headline numbers (else its first ``k`` scalar ones)."""
    words = {key: label for label, _, key in report.headline_rows()}
    head = report.metrics
    keys = [key for key in PREFERRED_METRICS.get(name, ()) if key in head and not isinstance(head[key], (list, dict))]
    if not keys:
        keys = [key for _, v, key in report.headline_rows() if isinstance(v, (int, float)) and
                not isinstance(v, bool)][:k]
    return {key: (words.get(key) or key.replace("_", " "), head[key]) for key in keys}


def _key_figure(report, name):
    by_name = {f.name: f for f in report.figures}
    for want in PREFERRED_FIGURES.get(name, ()):
        if want in by_name:
            return by_name[want]
    return report.figures[0] if report.figures else None


def _reason_section(report, number, words, name, sub):
    report.section(f"{number}. {words}")
    report.text(f"Experiment [{name}]({name}/report.html) — {sub.title}. Verdict: **{sub.verdict or 'no verdict'}** "
                f"— {sub.because}")
    if sub.data_note:
        report.text(f"Data: {sub.data_note}")
    metrics = _scalar_metrics(sub, name)
    if metrics:
        report.table(["measured", "value"], [[w, v] for w, v in metrics.values()],
                     caption=f"Headline numbers of the {name} experiment.")
        for key, (w, v) in metrics.items():
            Metrics(report).record((name, key), v, label=f"{name}: {w}")
    fig = _key_figure(sub, name)
    if fig is not None:
        report.figure(fig.png, f"{name}_{fig.name}", f"From the {name} experiment: {fig.caption}")
    for f in sub.findings[:2]:
        report.finding(f"{name}: {f}")
    Metrics(report)[name, "verdict"] = sub.verdict


def _part_text(name, sub):
    """One line for the headline: the sub-verdict's reason, shortened, and for speed why a CPU falls short."""
    if sub is None:
        return "failed (see the summary)"
    text = sub.because.split("; ")[0].rstrip(".")
    if name == "speed" and sub.verdict != "supported":
        from .speed import CPU_NOTE

        text += f". {CPU_NOTE}"
    return text


@dataclass
class _Outcome:
    """One reason's experiment as run: its report, or why it failed; its wall and CPU seconds."""

    name: str
    words: str
    sub: Report | None
    error: str  # "TypeError: message" when it failed
    note: str  # the exception as Python prints it
    wall: float
    cpu: float


def _sweep(ctx) -> list:
    """Run the four reasons' experiments with this context (a failure is reported, not raised)."""
    from ..registry import run_in_context

    out = []
    for name, words in ctx.progress(REASONS, total=len(REASONS), desc="hinton: four reasons"):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            sub, error, note = run_in_context(name, ctx), "", ""
        except Exception as e:  # noqa: BLE001 - reported in the table; the study still says what it measured
            ctx.log(f"hinton: {name} failed: {type(e).__name__}: {e}")
            sub, error = None, f"{type(e).__name__}: {e}"
            note = "".join(traceback.format_exception_only(type(e), e)).strip()
        out.append(_Outcome(name, words, sub, error, note, time.perf_counter() - t0, time.process_time() - c0))
    return out


def _reasons(report, outcomes) -> tuple:
    """Each reason's section (sub-reports attached); ``(summary rows, verdicts, failure notes, parts)``."""
    rows, verdicts, notes, parts = [], [], [], []
    for o in outcomes:
        label, sub = f"{len(parts) + 1}. {o.words}", o.sub
        if sub is None:
            verdicts.append(None)
            rows.append([o.words, o.name, f"failed: {o.error}", "inconclusive (failed)"])
            notes.append((o.name, o.note))
            parts.append({"label": label, "verdict": None, "because": _part_text(o.name, None)})
            continue
        report.add_subreport(o.name, sub)
        verdicts.append(sub.verdict)
        rows.append([o.words, f"[{o.name}]({o.name}/report.html)", sub.because or "(no reason given)",
                     sub.verdict or "no verdict"])
        parts.append({"label": label, "verdict": sub.verdict or "no verdict",
                      "because": f"({o.name}) {_part_text(o.name, sub).rstrip('.')}.", "link": f"{o.name}/report.html"})
        _reason_section(report, len(verdicts), o.words, o.name, sub)
    return rows, verdicts, notes, parts


def _summary(ctx, report, outcomes, rows, notes, verdicts, wall, cpu):
    """The summary table, the timings, the study's headline numbers and its data note."""
    report.section("Summary")
    report.table(["reason (Hinton)", "experiment", "measured", "verdict"], rows,
                 caption="One row per reason; each experiment's full report is in the subfolder of its name.")
    for name, text in notes:
        report.text(f"`{name}` failed: `{text}`")
    timing_rows = [[o.name, o.wall, o.cpu] for o in outcomes]
    report.table(["experiment", "wall s", "CPU s (this process)"], timing_rows + [["total", wall, cpu]],
                 caption=f"{ctx.mode.capitalize()} mode. Budgets on 2 cores: quick <= 60 s, full <= 15 minutes "
                         "(sweeps in pool workers add CPU time not counted here).")
    m = Metrics(report)
    m.record("supported_count", sum(v == "supported" for v in verdicts), label="reasons supported")
    m.record("not_supported_count", sum(v == "not supported" for v in verdicts), label="reasons not supported")
    m.record("total_wall_s", wall, label="the whole study's wall-clock time (s)")
    report.timings.update({f"{r[0]}_wall_s": round(r[1], 3) for r in timing_rows})
    ctx.data_note = ("Each reason's own data (see its section): " + "; ".join(
        f"{name}: {sub.data_note.split(' — ')[0].rstrip('.')}" for name, sub in report.subreports if sub.data_note)
                     if report.subreports else "")


def run(ctx) -> Report:
    """Run data, speed, init and activation with this context and compose their reports."""
    from ..html import format_value

    report = EXPERIMENT.report()
    report.text("Each of the four reasons is one lab experiment, run here with the same mode and seed; each "
                "writes its full report into a subfolder of this one (linked below). This page gathers their "
                "verdicts, headline numbers and one key figure each.")
    t_start, c_start = time.perf_counter(), time.process_time()
    outcomes = _sweep(ctx)                                                    # sweep
    wall, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    rows, verdicts, notes, parts = _reasons(report, outcomes)                 # measure
    supported, because = overall_verdict(verdicts)                            # verdict
    _summary(ctx, report, outcomes, rows, notes, verdicts, wall, cpu)        # report
    report.finding(f"Overall: {because}; the whole study took {format_value(wall)} s wall.")
    summary = ", ".join(f"{name} {v or 'failed'}" for (name, _), v in zip(REASONS, verdicts))
    report.conclude(supported, f"{because} ({summary}).", parts=parts,
                    rule="Each reason's verdict is decided in its own report, by the lab's rule for noisy numbers "
                         "(several seeds; supported only when the 95% interval of the effect lies beyond its "
                         "threshold). The study is supported when all four are, not supported when two or more "
                         "are refuted, and inconclusive otherwise.")
    return report
