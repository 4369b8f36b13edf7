"""SignalMonitor: per-layer, per-step activation statistics, gradient norms and update ratios through hooks."""

from __future__ import annotations

import math

import numpy as np

from .._validate import is_int
from ..nn.module import Module
from .findings import layer_findings
from .layers import first_tensor, layer_kind, resolve_layers, weight_params
from .norms import weight_grad_norm
from .stats import ActivationAccumulator, jsonable

__all__ = ["DEFAULT_RANGES", "SignalMonitor"]

#: Histogram range per kind; any other kind uses ``DEFAULT_RANGES["other"]``.
DEFAULT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "other": (-3.0, 3.0)}

FIELDS = ("act_mean", "act_std", "hist", "saturation", "dead_fraction", "grad_norm", "grad_ratio", "update_ratio",
          "count", "nonfinite")


class SignalMonitor:
    """Watch the signal flow through a model: activations forward, gradients backward, updates per step.

    Forward hooks on the watched layers accumulate, per step, each layer's output mean, std,
    histogram, saturation (sigmoid: output < 0.02 or > 0.98; tanh: |output| > 0.98) and
    dead-unit fraction (ReLU/ReLU6: units whose output is exactly 0 for every sample of the
    step's batches; a unit is a feature of an ``(N, F)`` output and a channel of an
    ``(N, C, ...)`` conv output, axis 1). Recurrent layers are watched through their first
    output (an LSTM's ``output``). Only histograms and running sums are kept: memory does not
    grow with the batch.

    :meth:`after_backward` reads each parameter layer's weight-gradient norm ||dL/dW|| and its
    ratio to the output layer's (the last parameter layer called); it also snapshots the
    weights, and :meth:`after_step` computes the update ratio ||W_new - W_old|| / ||W_old||
    (CS231n: about 1e-3 is healthy), closes the step and advances the step counter.

    Args:
        model: the Module to watch.
        modules: None (every leaf module with parameters and every activation module), or
            names / Modules / Module classes to watch.
        bins: number of histogram bins (fixed edges, the same at every step so histograms compare).
        every: record every ``every``-th step (0, k, 2k...); the others cost nothing.
        ranges: ``{kind: (lo, hi)}`` overriding :data:`DEFAULT_RANGES` (sigmoid (0, 1), tanh
            (-1, 1), others (-3, 3)); values beyond the range fall in the end bins.

    Usage::

        mon = SignalMonitor(model)
        with mon:                      # attach; hooks are removed on exit, also on exceptions
            for x, y in batches:
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                mon.after_backward()   # gradient norms, weight snapshot
                opt.step()
                mon.after_step()       # update ratios; next step
        print(mon.table()); print("\\n".join(mon.findings()))

    or ``fit(..., callbacks=[mon.callback()])``. For forward-only monitoring (e.g. activations at
    initialization) call ``after_step()`` after the forward passes to close the step.

    Example:
        >>> import numpy as np
        >>> from nnbasics.models.mlp import mlp
        >>> net = mlp(in_features=4, hidden=[8], out_features=2, activation="tanh", init="lecun", rng=0)
        >>> with SignalMonitor(net) as mon:
        ...     _ = net(np.ones((3, 4), np.float32))
        ...     mon.after_step()
        >>> mon.layers, mon.steps
        (['0', '1', '2'], [0])
        >>> int(mon.stats()[1].hist.sum())
        24
    """

    def __init__(self, model: Module, *, modules=None, bins: int = 40, every: int = 1, ranges=None):
        owner = "SignalMonitor"
        if not is_int(bins) or bins < 1:
            raise ValueError(f"{owner}: bins must be an int >= 1. Got {bins!r}.")
        if not is_int(every) or every < 1:
            raise ValueError(f"{owner}: every must be an int >= 1 (record every k-th step). Got {every!r}.")
        self.model = model
        self._layers = resolve_layers(model, modules, owner)
        self.bins = int(bins)
        self.every = int(every)
        self.ranges = dict(DEFAULT_RANGES)
        for k, r in (ranges or {}).items():
            lo, hi = (float(v) for v in r)
            if not lo < hi:
                raise ValueError(f"{owner}: ranges[{k!r}] must be (lo, hi) with lo < hi. Got {r!r}.")
            self.ranges[k] = (lo, hi)
        self._kinds = {n: layer_kind(m) for n, m in self._layers}
        self._param_layers = [n for n, m in self._layers if weight_params(m)]
        self._acc = {n: ActivationAccumulator(self._kinds[n], self._edges(self._kinds[n])) for n, _ in self._layers}
        self._handles = []
        self._order = []  # first-call order of the layers
        self.steps = []
        self._records = []  # one {name: LayerStats} per recorded step
        self.step = 0  # the step being accumulated
        self._paused = False
        self._grads = None
        self._snapshot = None

    # ---------------------------------------------------------------- attach
    def _edges(self, kind):
        lo, hi = self.ranges.get(kind, self.ranges["other"])
        return np.linspace(lo, hi, self.bins + 1)

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self):
        """Register the forward hooks (idempotent); returns self."""
        if not self._handles:
            for name, m in self._layers:
                self._handles.append(m.register_forward_hook(self._hook(name)))
        return self

    def detach(self):
        """Remove every hook this monitor registered (idempotent); recorded results stay."""
        handles, self._handles = self._handles, []
        for h in handles:
            h.remove()

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc):
        self.detach()
        return False

    def _recording(self) -> bool:
        return self.step % self.every == 0

    def _hook(self, name):
        acc = self._acc[name]

        def hook(module, args, out):
            if self._paused or not self._recording():
                return
            if name not in self._order:
                self._order.append(name)
            t = first_tensor(out)
            if t is not None:
                acc.add(t._array)
            return

        return hook

    # ---------------------------------------------------------------- steps
    def after_backward(self):
        """Read the weight-gradient norms and snapshot the weights (call after ``loss.backward()``)."""
        if not self._recording():
            return
        mods = dict(self._layers)
        self._grads = {n: weight_grad_norm(mods[n]) for n in self._param_layers}
        self._snapshot = {n: [p._array.copy() for p in weight_params(mods[n])] for n in self._param_layers}

    def after_step(self):
        """Compute the update ratios against the snapshot, close the step and advance the counter."""
        if self._recording():
            self._close_step()
        self.step += 1
        self._grads = self._snapshot = None

    def _close_step(self):
        mods = dict(self._layers)
        rec = {n: self._acc[n].result(n) for n, _ in self._layers}
        for acc in self._acc.values():
            acc.reset()
        if self._grads is not None:
            order = self.layers
            out_name = next((n for n in reversed(order) if n in self._grads and math.isfinite(self._grads[n])), None)
            out_norm = self._grads[out_name] if out_name is not None else math.nan
            for n, g in self._grads.items():
                rec[n].grad_norm = g
                if out_norm == 0.0:
                    rec[n].grad_ratio = math.nan if g == 0.0 else math.inf
                else:
                    rec[n].grad_ratio = g / out_norm
        if self._snapshot is not None:
            for n, old in self._snapshot.items():
                new = [p._array for p in weight_params(mods[n])]
                d2 = sum(float(np.sum((np.asarray(a, np.float64) - b) ** 2)) for a, b in zip(new, old))
                w2 = sum(float(np.sum(np.asarray(b, np.float64) ** 2)) for b in old)
                rec[n].update_ratio = (math.sqrt(d2) / math.sqrt(w2) if w2 > 0
                                       else (math.inf if d2 > 0 else math.nan))
        self.steps.append(self.step)
        self._records.append(rec)

    # ---------------------------------------------------------------- results
    @property
    def layers(self) -> list:
        """Watched layer names, in the order the model called them (uncalled ones last, in module order)."""
        names = [n for n, _ in self._layers]
        return list(self._order) + [n for n in names if n not in self._order]

    def kind(self, layer: str) -> str:
        return self._kinds[layer]

    def _index(self, step):
        if not self._records:
            raise ValueError("SignalMonitor: nothing recorded yet; run forward passes and call after_step() "
                             "(or train with fit(..., callbacks=[mon.callback()])).")
        try:
            return self._records[step]
        except (IndexError, TypeError):
            raise ValueError(f"SignalMonitor: step must index mon.steps ({len(self.steps)} recorded; -1 is the "
                             f"last). Got {step!r}.") from None

    def stats(self, step: int = -1) -> list:
        """``[LayerStats]`` of one recorded step, in :attr:`layers` order.

        Args:
            step: a position in :attr:`steps` (Python indexing: -1 is the last recorded step).
        """
        rec = self._index(step)
        return [rec[n] for n in self.layers]

    def series(self, field: str, layer: str) -> np.ndarray:
        """One field of one layer over the recorded steps: shape ``(len(steps),)``, or ``(len(steps), bins)`` for 'hist'."""
        if field not in FIELDS:
            raise ValueError(f"SignalMonitor.series: unknown field {field!r}; choose one of {', '.join(FIELDS)}.")
        if layer not in self._kinds:
            raise ValueError(f"SignalMonitor.series: unknown layer {layer!r}; watched layers: {self.layers}.")
        vals = [getattr(r[layer], field) for r in self._records]
        if field == "hist":
            return np.array(vals, dtype=np.int64).reshape(len(vals), self.bins)
        return np.array(vals, dtype=np.float64)

    def findings(self, step: int = -1) -> list:
        """Plain-language problems at one recorded step (vanishing/exploding gradients, saturation,
        dead ReLUs, update ratios far from 1e-3), each naming the layer and a remedy."""
        return layer_findings(self.stats(step))

    def table(self, step: int = -1) -> str:
        """Markdown table of one recorded step."""
        def f(x):
            return "" if isinstance(x, float) and math.isnan(x) else f"{x:.3g}"

        head = ("| layer | kind | mean | std | saturation | dead | grad norm | grad ratio | update ratio |\n"
                "|---|---|---|---|---|---|---|---|---|")
        rows = [f"| {s.name} | {s.kind} | {f(s.act_mean)} | {f(s.act_std)} | {f(s.saturation)} | "
                f"{f(s.dead_fraction)} | {f(s.grad_norm)} | {f(s.grad_ratio)} | {f(s.update_ratio)} |"
                for s in self.stats(step)]
        return "\n".join([head, *rows])

    def to_dict(self) -> dict:
        """JSON-safe summary: settings, layer names and kinds, steps, and every record (NaN -> None)."""
        return {
            "bins": self.bins,
            "every": self.every,
            "layers": self.layers,
            "kinds": {n: self._kinds[n] for n in self.layers},
            "edges": {n: jsonable(self._acc[n].edges) for n in self.layers},
            "steps": list(self.steps),
            "records": [{n: {k: v for k, v in rec[n].to_dict().items() if k not in ("name", "kind", "edges")}
                         for n in self.layers} for rec in self._records],
        }

    # ---------------------------------------------------------------- fit
    def callback(self):
        """A :class:`nnbasics.training.callbacks.Callback` that records inside ``fit``.

        Each training batch is one step: the weights are snapshotted at ``on_batch_begin``
        (they are the pre-step weights), and at ``on_batch_end`` the gradients (still held
        after the optimizer step; clipped if ``grad_clip_norm`` is set) and the update are
        read. Validation forwards are not recorded. The callback attaches the monitor at
        ``on_train_begin`` when it is not attached and detaches it at ``on_train_end``; use
        ``with mon:`` around ``fit`` to detach also when training raises.
        """
        from .callback import MonitorCallback

        return MonitorCallback(self)

    def _begin_batch(self):
        self._paused = False
        if self._recording():
            mods = dict(self._layers)
            self._snapshot = {n: [p._array.copy() for p in weight_params(mods[n])] for n in self._param_layers}

    def _end_batch(self):
        if self._recording():
            mods = dict(self._layers)
            self._grads = {n: weight_grad_norm(mods[n]) for n in self._param_layers}
        self.after_step()
        self._paused = True

    def __repr__(self) -> str:
        return (f"SignalMonitor({len(self._layers)} layers, bins={self.bins}, every={self.every}, "
                f"{len(self.steps)} steps recorded, {'attached' if self.attached else 'detached'})")
