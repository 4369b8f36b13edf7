"""``nnbasics run --xray``: watch every model a script trains and write a lab-style report.

A model is "trained" when an optimizer is given its parameters: when the script builds an
optimizer, :class:`XRay` finds the Modules that own those parameters and attaches a
:class:`~nnbasics.diagnostics.SignalMonitor` to each top-level one (a Module that is not a
submodule of another). Every ``optimizer.step()`` is one training step: just before it the
monitor reads the weight gradients (``loss.backward()`` has run), just after it the
update-to-weight ratios. Forward passes count toward the step they precede, except those run
without gradients or in ``eval()`` mode (evaluation). Records are thinned to at most
``max_records`` steps (every 2nd, 4th... step) so a long run costs bounded memory.

When the script ends -- normally, with an exception or on Ctrl-C -- :meth:`XRay.finish` writes
``report.html``, ``report.md``, ``metrics.json``, the figures and ``output.txt`` (everything the
script printed) into the output folder (default ``runs/xray/<script name>``) and prints where.
The verdict says whether the signal flowed healthily through every watched model at the first and
the last recorded step (no vanishing/exploding gradient, saturation, dead ReLUs or update ratios far from
1e-3); the findings say where it did not, in plain words.
"""

from __future__ import annotations

import gc
import io
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..autograd import is_grad_enabled
from ..diagnostics import SignalMonitor
from ..nn.module import Module
from . import observe

__all__ = ["XRay"]

_MAX_OUTPUT = 2_000_000  # characters of printed output kept (the tail)


class _Monitor(SignalMonitor):
    """A SignalMonitor that skips evaluation forwards and thins its records to a bound."""

    def __init__(self, model, *, every=1, max_records=400):
        super().__init__(model, every=every)
        self.max_records = int(max_records)
        self.adaptive = True

    def _hook(self, name):
        record = super()._hook(name)
        model = self.model

        def hook(module, args, out):
            if not is_grad_enabled() or not model.training:
                return None
            return record(module, args, out)

        return hook

    def thin(self) -> None:
        """Keep every other recorded step (``every`` doubles) once more than ``max_records`` are held."""
        if not self.adaptive or len(self.steps) <= self.max_records:
            return
        self.every *= 2
        keep = [i for i, s in enumerate(self.steps) if s % self.every == 0]
        self.steps = [self.steps[i] for i in keep]
        self._records = [self._records[i] for i in keep]


class _Tee(io.TextIOBase):
    """Write to the real stream and keep the tail of everything written."""

    def __init__(self, stream):
        self.stream, self.parts, self.size = stream, [], 0

    def write(self, s):
        self.stream.write(s)
        self.parts.append(s)
        self.size += len(s)
        if self.size > 2 * _MAX_OUTPUT:
            text = "".join(self.parts)[-_MAX_OUTPUT:]
            self.parts, self.size = [text], len(text)
        return len(s)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")

    def fileno(self):
        return self.stream.fileno()

    def text(self) -> str:
        return "".join(self.parts)[-_MAX_OUTPUT:]


class XRay:
    """Attach monitors to the models a script trains; write the report when it ends.

    Args:
        script: the script's path (names the report).
        output: the report folder (default ``runs/xray/<script stem>``).
        every: record every k-th step (default: every step, thinned to ``max_records``).
        max_records: the most recorded steps kept per model.
    """

    def __init__(self, script, output=None, every=None, max_records=400):
        self.script = os.fspath(script)
        self.output = Path(output) if output else Path("runs") / "xray" / Path(self.script).stem
        self.every = every
        self.max_records = max_records
        self.monitors = []  # [(model, monitor)]
        self.optimizers = {}  # id(opt) -> [monitor]
        self.steps = 0
        self._tee = None
        self._t0 = None

    # -------------------------------------------------------------- hooks
    def start(self) -> None:
        """Listen to optimizers and start keeping the script's printed output."""
        self._t0 = time.perf_counter()
        self._tee = _Tee(sys.stdout)
        sys.stdout = self._tee
        observe.add(self)

    def optimizer_created(self, opt) -> None:
        params = {id(p) for group in opt.param_groups for p in group["params"]}
        mons = []
        for model in _top_level_owners(params):
            mon = next((m for mdl, m in self.monitors if mdl is model), None)
            if mon is None:
                try:
                    mon = _Monitor(model, every=self.every or 1, max_records=self.max_records)
                except ValueError:  # nothing to watch in it (no parameter layer or activation)
                    continue
                mon.adaptive = self.every is None
                mon.attach()
                self.monitors.append((model, mon))
            mons.append(mon)
        self.optimizers[id(opt)] = mons

    def before_step(self, opt) -> None:
        for mon in self.optimizers.get(id(opt), ()):
            mon.after_backward()

    def after_step(self, opt) -> None:
        self.steps += 1
        for mon in self.optimizers.get(id(opt), ()):
            mon.after_step()
            mon.thin()

    # -------------------------------------------------------------- finish
    def finish(self, status: int, error: str | None = None):
        """Detach, write the report and print its path; returns the path of report.html (None if it failed)."""
        observe.remove(self)
        out_text = ""
        if self._tee is not None:
            out_text = self._tee.text()
            if sys.stdout is self._tee:
                sys.stdout = self._tee.stream
        for _, mon in self.monitors:
            mon.detach()
        wall = time.perf_counter() - (self._t0 or time.perf_counter())
        try:
            from .xray_report import build_report

            report = build_report(self, status, error, out_text, wall)
            path = report.write(self.output)
            (self.output / "output.txt").write_text(out_text, encoding="utf-8")
        except Exception as e:  # noqa: BLE001 - the script's own result must not be lost to a report failure
            sys.stderr.write(f"nnbasics run --xray: could not write the report to {self.output}: "
                             f"{type(e).__name__}: {e}\n")
            return None
        sys.stderr.write(f"nnbasics run --xray: report written to {path}\n")
        return path

    def model_name(self, model) -> str:
        """The script's variable name for ``model`` (``model``, ``net``...), else its class name."""
        main = sys.modules.get("__main__")
        for name, value in (vars(main).items() if main is not None else ()):
            if value is model and not name.startswith("_"):
                return name
        return type(model).__name__


def _top_level_owners(param_ids: set) -> list:
    """The Modules alive now that own some of ``param_ids`` and are not submodules of another such Module."""
    owners = []
    for obj in gc.get_objects():
        # NOTE: type(), not isinstance(): isinstance reads obj.__class__, which some foreign objects in
        # the heap (torch's deprecated aliases) answer with a warning.
        if issubclass(type(obj), Module):
            try:
                owns = any(id(p) in param_ids for p in obj.parameters())
            except Exception:  # noqa: BLE001 - a half-built module in the heap is skipped
                owns = False
            if owns:
                owners.append(obj)
    inner = set()
    for m in owners:
        for sub in m.modules():
            if sub is not m:
                inner.add(id(sub))
    tops = [m for m in owners if id(m) not in inner]
    return sorted(tops, key=lambda m: -sum(int(np.prod(p.shape)) for p in m.parameters()))


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)

