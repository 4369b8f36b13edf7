"""What every lab experiment shares: who it is and its settings (:class:`Experiment`), and its metrics' names
(:class:`Metrics`).

An experiment module declares itself once::

    EXPERIMENT = Experiment(
        name="dropout", title="Dropout against overfitting...", claim="A big network ... overfits...",
        references=(("Srivastava et al. (2014). Dropout...", "https://jmlr.org/..."),),
        quick={"n_train": 300, "epochs": 30, ...}, full={"n_train": 1000, "epochs": 80, ...})
    NAME, TITLE, CLAIM = EXPERIMENT.name, EXPERIMENT.title, EXPERIMENT.claim  # what the registry lists
    settings = EXPERIMENT.settings

and its ``run(ctx)`` reads as *sweep -> measure -> verdict -> report*::

    def run(ctx):
        cfg, report = EXPERIMENT.begin(ctx)      # this mode's settings; a Report with title, claim, papers
        results = _sweep(ctx, cfg, ...)          # train and probe (ctx.map: processes, threads or Dask)
        m = _measure(report, results, cfg)       # every number, recorded once under a structured name
        supported, because, decisions = verdict(...)
        _write(report, cfg, m, decisions)        # text, figures, tables, findings
        report.conclude(supported, because, rule=stats.rule_text(...))
        return report

A metric is named by its parts -- ``m["accuracy", "relu", 20] = 0.93`` -- and read back by the same
parts (``m["accuracy", "relu", 20]``): the dotted key of ``metrics.json`` (``"accuracy.relu.20"``)
is built in one place, :meth:`Metrics.key`, never written out as an f-string and parsed again.

Example:
    >>> from nnbasics.lab.report import Report
    >>> m = Metrics(Report("demo", "A demo", "A claim."))
    >>> m["accuracy", "relu", 20] = 0.93
    >>> m.record(("loss_ratio", "he"), 0.41, label="He: final / initial loss")
    >>> m["accuracy", "relu", 20], sorted(m.report.metrics)
    (0.93, ['accuracy.relu.20', 'loss_ratio.he'])
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass, field

__all__ = ["Experiment", "Metrics"]


@dataclass(frozen=True)
class Experiment:
    """An experiment's identity and settings.

    Attributes:
        name: the registry's name (``nnbasics lab NAME``) and the report's.
        title, claim: the report's title and the claim it tests.
        references: ``(citation, url)`` pairs of the papers it cites.
        quick, full: the settings of ``--quick`` mode and of the full study.
    """

    name: str
    title: str
    claim: str
    references: tuple = ()
    quick: dict = field(default_factory=dict)
    full: dict = field(default_factory=dict)

    def settings(self, quick: bool) -> dict:
        """The settings of quick (True) or full (False) mode: a copy the caller may change."""
        return copy.deepcopy(self.quick if quick else self.full)

    def report(self):
        """A new :class:`~nnbasics.lab.report.Report` with this experiment's title, claim and references."""
        from .report import Report

        report = Report(self.name, self.title, self.claim)
        for citation, url in self.references:
            report.reference(citation, url)
        return report

    def begin(self, ctx) -> tuple:
        """The opening of ``run(ctx)``: ``(settings of ctx's mode, the Report)``."""
        return self.settings(ctx.quick), self.report()


class Metrics:
    """A report's metrics under structured names: ``m[part, part, ...]`` is the metric ``"part.part..."``.

    Parts are strings, ints or floats (a float as ``f"{x:g}"``: 0.5 -> ``"0.5"``, 20.0 -> ``"20"``).
    Values go to :meth:`Report.metric <nnbasics.lab.report.Report.metric>` (NumPy values become
    Python ones, non-finite floats None) and are read back as the report holds them.

    Args:
        report: the :class:`~nnbasics.lab.report.Report` the metrics belong to.
    """

    def __init__(self, report):
        self.report = report

    @staticmethod
    def key(parts) -> str:
        """The dotted ``metrics.json`` key of ``parts`` (a tuple of parts, or one part)."""
        parts = parts if isinstance(parts, tuple) else (parts,)
        out = []
        for p in parts:
            if isinstance(p, bool) or not isinstance(p, (str, numbers.Real)) or p == "":
                raise TypeError(f"Metrics: a metric name's parts are strings, ints or floats; got {p!r} in {parts!r}.")
            out.append(p if isinstance(p, str) else f"{p:g}" if isinstance(p, float) else str(int(p)))
        return ".".join(out)

    def record(self, parts, value, label: str | None = None) -> None:
        """Record ``value`` under ``parts``; a ``label`` (the number in words) makes it a headline number."""
        self.report.metric(self.key(parts), value, label=label)

    def __setitem__(self, parts, value) -> None:
        self.record(parts, value)

    def __getitem__(self, parts):
        return self.report.metrics[self.key(parts)]

    def __contains__(self, parts) -> bool:
        return self.key(parts) in self.report.metrics
