"""Diagnostics: see why a network trains or not — signal propagation, gradient flow, init, gradients.

* :class:`SignalMonitor` — hooks recording per layer and per step the activation mean, std,
  histogram, saturation and dead-ReLU fraction, the weight-gradient norm and its ratio to the
  output layer's, and the update-to-weight ratio; ``mon.callback()`` for ``fit``.
* :func:`gradient_norms`, :func:`gradient_ratio` — the vanishing/exploding meter in one call.
* :func:`init_report` — predicted vs measured activation and gradient variance at initialization.
* :func:`gradcheck_model` — float64 central differences against backprop, per layer.
* :mod:`~nnbasics.diagnostics.findings` — the plain-language sentences and their thresholds.

Importing does nothing (no hooks are attached until ``attach()`` / ``with``).
"""

from . import findings
from .gradcheck_model import GradcheckReport, GradcheckRow, gradcheck_model
from .init_report import InitReport, InitRow, init_report
from .layers import layer_kind
from .monitor import SignalMonitor
from .norms import gradient_norms, gradient_ratio
from .stats import LayerStats

__all__ = [
    "GradcheckReport",
    "GradcheckRow",
    "InitReport",
    "InitRow",
    "LayerStats",
    "SignalMonitor",
    "findings",
    "gradcheck_model",
    "gradient_norms",
    "gradient_ratio",
    "init_report",
    "layer_kind",
]
