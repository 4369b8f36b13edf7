"""LayerStats (one layer at one step) and the bounded-memory accumulator the monitor's hooks feed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .layers import DEAD_KINDS, SATURATING_KINDS

__all__ = ["SIGMOID_SAT", "TANH_SAT", "ActivationAccumulator", "LayerStats", "jsonable"]

#: A sigmoid unit is saturated when its output is < 0.02 or > 0.98 (sigma'(z) < 0.0196, 8% of its peak 0.25).
SIGMOID_SAT = (0.02, 0.98)
#: A tanh unit is saturated when |output| > 0.98 (tanh'(z) = 1 - y^2 < 0.04).
TANH_SAT = 0.98


@dataclass
class LayerStats:
    """What the monitor recorded for one layer at one step (NaN where a field does not apply).

    Attributes:
        name, kind: the layer's module name and kind (``'linear'``, ``'relu'``...).
        act_mean, act_std: mean and standard deviation of the layer's output over all its elements.
        hist, edges: histogram counts (``bins`` ints) over fixed ``edges`` (``bins + 1`` floats);
            values beyond the edges are counted in the first/last bin, so ``hist.sum()`` is the
            number of finite output elements.
        saturation: sigmoid/tanh layers: fraction of outputs in the flat tails (see the module constants).
        dead_fraction: ReLU layers: fraction of units (features; channels for conv outputs) whose
            output is 0 for every sample (and position) of the step's batches.
        grad_norm: parameter layers: ||dL/dW||_2 of the weight gradient.
        grad_ratio: grad_norm / the output layer's grad_norm.
        update_ratio: parameter layers: ||W_after - W_before|| / ||W_before|| across the optimizer step.
        count, nonfinite: output elements seen, and how many of them were NaN/inf.
    """

    name: str
    kind: str
    act_mean: float = math.nan
    act_std: float = math.nan
    hist: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    saturation: float = math.nan
    dead_fraction: float = math.nan
    grad_norm: float = math.nan
    grad_ratio: float = math.nan
    update_ratio: float = math.nan
    count: int = 0
    nonfinite: int = 0

    def to_dict(self) -> dict:
        """JSON-safe dict: arrays as lists, non-finite floats as None."""
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


def jsonable(v):
    """``v`` with arrays turned into lists and NaN/inf floats into None (``json.dumps`` accepts the result)."""
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


class ActivationAccumulator:
    """Running moments, histogram, saturation and per-unit liveness of one layer's outputs in one step.

    Memory is O(bins + units), whatever the batch size or the number of forward calls.
    """

    def __init__(self, kind: str, edges: np.ndarray):
        self.kind = kind
        self.edges = edges
        self.bins = len(edges) - 1
        self.reset()

    def reset(self):
        self.count = 0
        self.nonfinite = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.hist = np.zeros(self.bins, np.int64)
        self.saturated = 0
        self.alive = None  # (units,) bool: the unit was nonzero somewhere

    def add(self, a: np.ndarray):
        a = np.asarray(a)
        finite = np.isfinite(a)
        n_bad = int(a.size - np.count_nonzero(finite))
        v = a[finite] if n_bad else a.reshape(-1)
        if not np.issubdtype(v.dtype, np.floating):
            v = v.astype(np.float64)
        self.nonfinite += n_bad
        self.count += int(v.size)
        self.total += float(v.sum(dtype=np.float64))
        self.total_sq += float(np.einsum("i,i->", v, v, dtype=np.float64))  # no float64 copy of v
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        t = np.subtract(v, v.dtype.type(lo))  # (n,) bin coordinate, in v's precision
        t *= v.dtype.type(self.bins / (hi - lo))
        np.clip(t, 0, self.bins - 0.5, out=t)  # NOTE: out-of-range values go to the end bins
        self.hist += np.bincount(t.astype(np.intp), minlength=self.bins)
        if self.kind == "sigmoid":
            self.saturated += int(np.count_nonzero((v < SIGMOID_SAT[0]) | (v > SIGMOID_SAT[1])))
        elif self.kind == "tanh":
            self.saturated += int(np.count_nonzero(np.abs(v) > TANH_SAT))
        if self.kind in DEAD_KINDS and a.ndim >= 1:
            # units: axis 1 (features of (N, F), channels of (N, C, ...)); a 1-D output's units are its elements
            axes = tuple(i for i in range(a.ndim) if i != (1 if a.ndim >= 2 else 0))
            alive = np.any(a != 0, axis=axes) if axes else a != 0
            if self.alive is None or self.alive.shape != alive.shape:
                self.alive = alive if self.alive is None else np.zeros(0, bool)
            else:
                self.alive |= alive

    def result(self, name: str) -> LayerStats:
        s = LayerStats(name=name, kind=self.kind, hist=self.hist.copy(), edges=self.edges.copy(),
                       count=self.count, nonfinite=self.nonfinite)
        if self.count:
            mean = self.total / self.count
            s.act_mean = mean
            s.act_std = math.sqrt(max(self.total_sq / self.count - mean * mean, 0.0))
            if self.kind in SATURATING_KINDS:
                s.saturation = self.saturated / self.count
        if self.kind in DEAD_KINDS and self.alive is not None and self.alive.size:
            s.dead_fraction = float(1.0 - np.count_nonzero(self.alive) / self.alive.size)
        return s
