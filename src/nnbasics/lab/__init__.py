"""The lab: every claim of the lecture as an experiment with a report.

``nnbasics lab <name> [--quick]`` or :func:`run_experiment` runs one experiment module from
:mod:`nnbasics.lab.experiments`; it measures, draws figures and writes a self-contained
report (:class:`Report`) saying whether the measurement supports the claim. Importing this
package imports NumPy only; matplotlib and tqdm are imported when a report is drawn.

Example:
    >>> from nnbasics.lab import run_experiment
    >>> report = run_experiment("perceptron", quick=True, progress=False)  # doctest: +SKIP
    >>> report.verdict  # doctest: +SKIP
    'supported'
"""

from .context import LabContext
from .data import LabData
from .registry import EXPERIMENTS, list_experiments, load_experiment, run_experiment
from .report import Report

__all__ = ["EXPERIMENTS", "LabContext", "LabData", "Report", "list_experiments", "load_experiment",
           "run_experiment"]
