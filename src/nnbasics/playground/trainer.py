"""One training run of the playground: the library's networks, optimizers and losses, stepped on demand.

A :class:`Run` holds the data, K member networks (K = 1 unless the setup asks for an
ensemble), one optimizer and one batch stream per member, the step counter and the history.
It is not thread-safe: the session calls it under its lock.

Determinism: member m's initial weights come from ``default_rng([seed, 1, m])`` and its
batch order from ``default_rng([seed, 2, m])`` (a fresh permutation of the training set per
epoch, full batches only), so the same setup gives the same weights, batches and losses, step
for step. The history is recorded at steps 0, e, 2e... (e starts at :data:`FIRST_EVERY` and doubles whenever the history
would pass :data:`MAX_POINTS` points), so it does not depend on how fast the machine is; the
train curves are measured on up to :data:`EVAL_TRAIN` training samples, the test curves on up to
:data:`EVAL_TEST` test samples.

Where a NaN or Inf first appears: after every step the loss, the gradients and the updated
weights are checked (cheap). At the first non-finite value the step is replayed from the
same weights and dropout masks under :func:`nnbasics.detect_anomaly`, which names the op
and the layer; the run halts with that report (:attr:`Run.nan`) until it is reset.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..anomaly import AnomalyError, detect_anomaly
from ..autograd import no_grad
from ..creation import as_tensor
from ..optim import schedules
from ..training.ensemble import Ensemble
from .network import block_of, build_member, network_spec, set_dropout

__all__ = ["EVAL_TEST", "EVAL_TRAIN", "FIRST_EVERY", "MAX_POINTS", "BatchStream", "Run", "lr_at", "make_optimizer"]

#: Most points kept per history series; past it, every other point is dropped and e doubles.
MAX_POINTS = 600
#: The curves are measured on at most this many training / test samples, evenly spread over each set
#: (class-major sets keep every class): recording is then cheap enough to happen often.
EVAL_TRAIN, EVAL_TEST = 512, 1000
#: Steps between history points at the start: 1 for points and tables, 8 for images (an image
#: net's evaluation costs many training steps).
FIRST_EVERY = {"2d": 1, "table": 1, "image": 8}
_HISTORY = ("step", "loss", "metric", "test_loss", "test_metric", "lr")


class BatchStream:
    """Minibatch indices: a new permutation of ``range(n)`` from ``rng`` per epoch, full batches only.

    A batch size above ``n`` is full-batch training (every sample, in permuted order).
    """

    def __init__(self, n: int, rng: np.random.Generator):
        self.n, self.rng = int(n), rng
        self.perm, self.pos, self.epoch = None, 0, 0

    def next(self, batch_size: int) -> np.ndarray:
        b = min(int(batch_size), self.n)
        if self.perm is None or self.pos + b > self.n:
            self.perm, self.pos = self.rng.permutation(self.n), 0
            self.epoch += 1
        idx = self.perm[self.pos:self.pos + b]
        self.pos += b
        return idx


def make_optimizer(cfg: dict, params):
    """The setup's optimizer over ``params`` (``l2`` is each optimizer's ``weight_decay``: an L2 penalty for SGD,
    Adam, RMSprop and Adagrad; AdamW's decoupled decay)."""
    from .. import optim

    name, lr, wd = cfg["optimizer"], cfg["lr"], cfg["l2"]
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        m = cfg["momentum"] if name == "momentum" or cfg["momentum"] > 0 else 0.9
        return optim.SGD(params, lr=lr, momentum=m, weight_decay=wd, nesterov=(name == "nesterov"))
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}[name]
    return cls(params, lr=lr, weight_decay=wd)


def lr_at(cfg: dict, step: int) -> float:
    """The learning rate at ``step`` under the setup's schedule (closed forms of :mod:`nnbasics.optim.schedules`).

    T = ``schedule_steps``: step halves the rate every T steps; exponential divides it by 10
    every T steps; cosine anneals it to 0 over T steps; warmup rises linearly from 1% over T steps.
    """
    lr, T, kind = cfg["lr"], cfg["schedule_steps"], cfg["schedule"]
    if kind == "step":
        return schedules.step_lr(step, lr, step_size=T, gamma=0.5)
    if kind == "exponential":
        return schedules.exponential_lr(step, lr, gamma=0.1 ** (1.0 / T))
    if kind == "cosine":
        return schedules.cosine_annealing_lr(min(step, T), lr, T_max=T)
    if kind == "warmup":
        return schedules.linear_warmup(step, lr, warmup_steps=T, start_factor=0.01)
    return lr


def _spread(n, k):
    """At most ``k`` indices evenly spread over ``range(n)`` (all of them when n <= k)."""
    return np.arange(n) if n <= k else np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _finite_grads(params) -> bool:
    return all(p.grad is None or bool(np.isfinite(p.grad.numpy()).all()) for p in params)


def _finite_params(params) -> bool:
    return all(bool(np.isfinite(p.detach().numpy()).all()) for p in params)


class Run:
    """A network (or an ensemble) training on the data, one step at a time.

    Args:
        cfg: a normalized setup.
        data: the :class:`~nnbasics.playground.datasets.PlayData`.

    Attributes:
        models, optimizers, streams: one per member.
        step (int): optimizer steps taken (per member).
        history (dict): ``step, loss, metric, test_loss, test_metric, lr`` lists (the metric is
            accuracy, or R^2 for regression; an ensemble's loss is its members' mean, its metric the vote's).
        nan (dict | None): where the first NaN/Inf appeared; the run is halted while set.
        last_step_stats: the SignalMonitor's LayerStats of the last diagnosed step.
    """

    def __init__(self, cfg: dict, data):
        self.cfg, self.data = cfg, data
        self.reset()

    # ------------------------------------------------------------------ setup
    def reset(self):
        """Back to the seeded start: new networks, optimizers and batch streams, empty history."""
        cfg, data = self.cfg, self.data
        self.spec = network_spec(cfg, data.input_shape, data.n_classes)
        self.blocks = block_of(self.spec)
        self.models = [build_member(self.spec, cfg["seed"], m) for m in range(cfg["members"])]
        self.optimizers = [make_optimizer(cfg, m.parameters()) for m in self.models]
        self.streams = [BatchStream(len(data.y_train), np.random.default_rng([cfg["seed"], 2, m]))
                        for m in range(cfg["members"])]
        self.ensemble = Ensemble(self.models, combine="vote") if cfg["members"] > 1 else None
        self.step, self.every = 0, FIRST_EVERY[data.kind]
        self._eval = [_spread(len(data.y_train), EVAL_TRAIN), _spread(len(data.y_test), EVAL_TEST)]
        self.history = {k: [] for k in _HISTORY}
        self.nan = None
        self.last_step_stats = None
        self.member_metrics = None
        if data.task == "classification":
            self._onehot = np.eye(data.n_classes, dtype=np.float32)
        self._record()
        self.start_loss = self.history["loss"][0]

    def apply(self, cfg: dict):
        """Apply a live change (learning rate, schedule, optimizer, batch size, L2, dropout, loss, speed)."""
        old, self.cfg = self.cfg, cfg
        for m in self.models:
            set_dropout(m, cfg)
        if old["optimizer"] != cfg["optimizer"]:
            self.optimizers = [make_optimizer(cfg, m.parameters()) for m in self.models]
            return
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["weight_decay"] = cfg["l2"]
                if "momentum" in group and cfg["optimizer"] in ("momentum", "nesterov"):
                    group["momentum"] = cfg["momentum"]

    # ------------------------------------------------------------------ loss
    def _targets(self, y):
        return y if self.data.task == "regression" or self.cfg["loss"] == "cross_entropy" else self._onehot[y]

    def loss(self, out, y):
        """The setup's loss of outputs ``out`` (N, k) against targets ``y`` (class ids or (N, 1) values)."""
        if self.data.task == "regression" or self.cfg["loss"] == "mse":
            return F.mse_loss(out, as_tensor(self._targets(y)))
        return F.cross_entropy(out, as_tensor(y))

    def _metric(self, out, y) -> float:
        if self.data.task == "regression":
            ss = float(((y - y.mean()) ** 2).sum())
            return 1.0 - float(((out - y) ** 2).sum()) / ss if ss > 0 else math.nan
        return float((out.argmax(1) == y).mean())

    # ------------------------------------------------------------------ steps
    def train(self, steps: int, monitor=None) -> int:
        """Take up to ``steps`` steps (every member); the first one under ``monitor`` (a SignalMonitor on member 0).

        Returns:
            the steps completed (fewer when a NaN/Inf halts the run; ``nan["step"]`` is the one that failed).
        """
        taken = 0
        for _ in range(steps):
            if self.nan is not None:
                break
            for i in range(len(self.models)):
                if not self._step_member(i, monitor if (taken == 0 and i == 0) else None):
                    break
            if self.nan is not None:
                break  # the failed step is not counted (its weights were not updated)
            self.step += 1
            taken += 1
            if self.step % self.every == 0:
                self._record()
        return taken

    def _batch(self, i):
        idx = self.streams[i].next(self.cfg["batch_size"])
        return as_tensor(self.data.X_train[idx]), self.data.y_train[idx]

    def _dropout_states(self, model):
        return [(m, m.rng.bit_generator.state) for m in model.modules() if type(m).__name__ == "Dropout" and m.p > 0]

    def _step_member(self, i, monitor) -> bool:
        model, opt = self.models[i], self.optimizers[i]
        xb, yb = self._batch(i)
        states = self._dropout_states(model)
        params = list(model.parameters())
        with np.errstate(all="ignore"):
            opt.zero_grad()
            loss = self.loss(model(xb), yb)
            loss.backward()
            value = float(loss.item())
            if not math.isfinite(value) or not _finite_grads(params):
                self._locate(i, xb, yb, states, "loss" if not math.isfinite(value) else "gradient")
                return False
            if monitor is not None:
                monitor.after_backward()
            lr = lr_at(self.cfg, self.step)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            if monitor is not None:
                monitor.after_step()
                self.last_step_stats = monitor.stats(-1)
            if not _finite_params(params):
                bad = next(n for n, p in model.named_parameters() if not np.isfinite(p.detach().numpy()).all())
                self._halt(i, "update", op=f"{type(opt).__name__}.step", phase="update",
                           layer=f"parameter {bad!r}", block=self.blocks.get(bad.split(".")[0], ""),
                           message=f"the optimizer's update made parameter {bad!r} non-finite (lr {lr:g}): "
                                   "the learning rate is too high for these gradients.")
                return False
        return True

    def _locate(self, i, xb, yb, states, where):
        """Replay member i's step under detect_anomaly to name the op and layer; halt the run."""
        model = self.models[i]
        for m, state in states:
            m.rng.bit_generator.state = state
        saved = [p.grad for p in model.parameters()]
        try:
            with np.errstate(all="ignore"), detect_anomaly():
                model.zero_grad()
                self.loss(model(xb), yb).backward()
        except AnomalyError as e:
            path = e.module or ""
            name = path.split("'")[1] if path.count("'") >= 2 else ""
            self._halt(i, where, op=e.op, phase=e.phase, layer=path or "outside the layers (the loss)",
                       block=self.blocks.get(name.split(".")[0], "loss" if not path else ""),
                       message=str(e).splitlines()[0])
            return
        finally:
            for p, g in zip(model.parameters(), saved):
                p.grad = g
        self._halt(i, where, op="?", phase="?", layer="?", block="",
                   message=f"the {where} became non-finite, but replaying the step did not reproduce it.")

    def _halt(self, i, where, **info):
        self.nan = {"step": self.step + 1, "member": i, "where": where, **info}  # the (step + 1)-th update

    # ------------------------------------------------------------------ history
    def predict(self, X, member=None) -> np.ndarray:
        """Outputs (N, k) of member ``member``, or the combined prediction (ensemble: vote fractions), in eval mode."""
        X = np.asarray(X, np.float32)
        if self.ensemble is not None and member is None:
            return self.ensemble.predict_proba(X)
        model = self.models[member or 0]
        model.eval()
        try:
            with no_grad(), np.errstate(all="ignore"):
                return model(as_tensor(X)).numpy()
        finally:
            model.train()

    def evaluate(self, X, y):
        """(loss, metric) on ``(X, y)``: a member's own, or an ensemble's (mean member loss, vote's metric)."""
        losses, outs = [], []
        for m in range(len(self.models)):
            out = self.predict(X, m)
            outs.append(out)
            with no_grad(), np.errstate(all="ignore"):
                losses.append(float(self.loss(as_tensor(out), y).item()))
        if self.ensemble is None:
            return losses[0], self._metric(outs[0], y)
        self.member_metrics = [self._metric(o, y) for o in outs]
        return float(np.mean(losses)), float((self.ensemble.predict(np.asarray(X, np.float32)) == y).mean())

    def _record(self):
        d, (tr, te) = self.data, self._eval
        loss, metric = self.evaluate(d.X_train[tr], d.y_train[tr])
        test_loss, test_metric = self.evaluate(d.X_test[te], d.y_test[te])
        h = self.history
        for k, v in zip(_HISTORY, (self.step, loss, metric, test_loss, test_metric, lr_at(self.cfg, self.step))):
            h[k].append(v)
        if len(h["step"]) > MAX_POINTS:
            keep = [j for j, s in enumerate(h["step"]) if s % (2 * self.every) == 0]
            for k in _HISTORY:
                h[k] = [h[k][j] for j in keep]
            self.every *= 2

    @property
    def epoch(self) -> float:
        """Epochs of member 0 (fractional)."""
        return self.step * min(self.cfg["batch_size"], len(self.data.y_train)) / len(self.data.y_train)
