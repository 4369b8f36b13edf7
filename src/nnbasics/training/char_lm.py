"""A character-level language model trained with truncated BPTT through ``fit``: :func:`train_char_lm`.

The text's tail is held out for validation; the rest is folded into parallel streams and
trained on by :func:`~nnbasics.training.fit` with :class:`~nnbasics.training.tbptt.TruncatedBPTT`
as its data (windows in order, the recurrent state carried) and Adam. What is particular to a
language model -- counting optimizer steps, the stopping rules (steps, epochs, a time budget),
validation every ``eval_every`` steps, the history and the resumable checkpoints -- is one
callback of fit, :class:`_RunLog`. The checkpoint format is :mod:`._char_lm_checkpoint`'s.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_positive_int, check_real
from ..data.text import CharVocab, batchify, load_text, train_val_split
from ..nn.module import Module
from ..optim import Adam
from ..rng import as_generator
from . import _char_lm_checkpoint as ckpt_format
from .callbacks import Callback
from .checkpoint_check import CheckpointError
from .fit import fit
from .tbptt import TruncatedBPTT, evaluate_stream, sequence_loss

__all__ = ["CharLMRun", "load_char_lm", "train_char_lm"]

#: fit's ``epochs`` when no epoch limit is given: the run ends by its step or time limit.
_NO_EPOCH_LIMIT = 2**62


@dataclass
class CharLMRun:
    """What :func:`train_char_lm` returns.

    Attributes:
        model: the trained model (``model.spec`` says how to rebuild it).
        vocab: its :class:`~nnbasics.data.text.CharVocab`.
        optimizer: the optimizer (to continue training).
        history: lists, one entry per evaluation: ``step``, ``epoch``, ``time_s`` (wall time
            since the start, evaluations included), ``train_loss`` (mean over the steps since
            the previous evaluation; NaN at step 0), ``val_loss`` and ``val_perplexity``
            (nats/char and ``exp`` of it, on the validation stream; the training stream when
            ``val_fraction`` is 0).
        steps: optimizer steps taken.
        seconds: total wall time.
        stopped_by: ``"steps"``, ``"epochs"`` or ``"time_budget"``.
        checkpoints: the files written, each once (empty without ``checkpoint_dir``).
    """

    model: Module
    vocab: CharVocab
    optimizer: object
    history: dict = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    checkpoints: list = field(default_factory=list)

    @property
    def val_loss(self) -> float:
        """The final validation loss (nats/char)."""
        return self.history["val_loss"][-1]

    @property
    def val_perplexity(self) -> float:
        return self.history["val_perplexity"][-1]


def train_char_lm(text: str | None = None, *, path=None, model="char-lstm", vocab: CharVocab | None = None,
                  seq_len: int = 100, batch_size: int = 32, steps: int | None = None, epochs: int | None = None,
                  lr: float = 2e-3, clip: float | None = 5.0, val_fraction: float = 0.1,
                  time_budget_s: float | None = None, eval_every: int = 100, eval_chars: int | None = None,
                  random_offset: bool = True, rng=0, checkpoint_dir=None, resume=None, progress=None,
                  on_checkpoint=None) -> CharLMRun:
    """Train a character-level language model on a text with truncated BPTT and Adam.

    The text's last ``val_fraction`` is held out for validation; the rest is folded into
    ``batch_size`` streams and walked in windows of ``seq_len`` with the state carried across
    windows and reset at each epoch. Each epoch starts at a random offset below ``seq_len``
    (``random_offset``) so windows do not always cut the text at the same characters.

    Training stops at the first of ``steps`` optimizer steps, ``epochs`` passes, or
    ``time_budget_s`` seconds (checked after every step; at least one must be given). The
    validation loss is measured at step 0, every ``eval_every`` steps and at the end.

    Args:
        text: the training text; or give ``path``.
        path: a UTF-8 text file to read instead (see :func:`~nnbasics.data.text.load_text`).
        model: a registered name (``"char-lstm"``, ``"char-gru"``, ``"char-rnn"``), a spec dict
            (``{"model": "char-lstm", "hidden_size": 128}``; ``vocab_size`` is filled in), or a
            ready Module (then give ``vocab``).
        vocab: the vocabulary (default: the text's characters; on ``resume``, the checkpoint's).
        seq_len: BPTT window length.
        batch_size: parallel streams.
        steps, epochs, time_budget_s: stopping rules, counted from the start of the run (a
            resumed run continues the count: ``steps=2000`` after a checkpoint at step 1200
            trains 800 more; the time budget includes the time before the checkpoint).
        lr: Adam learning rate (on ``resume`` the optimizer's saved state, its lr included, is used).
        clip: global gradient-norm clipping (None: off).
        val_fraction: the held-out tail's share, in [0, 1).
        eval_every: steps between evaluations.
        eval_chars: evaluate periodic checks on the first this many validation characters only
            (faster); the final evaluation uses the whole validation text.
        random_offset: draw each epoch's starting offset from ``rng``.
        rng: Generator, int seed or None (initialization, dropout, offsets).
        checkpoint_dir: write ``last.safetensors`` at every evaluation and ``best.safetensors``
            when the validation loss improves, with ``nnbasics.training.save_checkpoint``
            (weights, Adam state, spec, random streams, and in ``extra``: vocab, step, history and
            the resume point -- epoch, its offset, windows done, the carried state); read them
            back with :func:`load_char_lm`.
        resume: a checkpoint written by this function (``checkpoint_dir/last.safetensors``) to
            continue from: weights, optimizer, random streams, step, history, the position in the
            epoch and the carried recurrent state are restored, so the run continues exactly as
            if it had not stopped (same losses and weights; only wall times differ). Give the same
            text, ``seq_len``, ``batch_size``, ``val_fraction`` and ``random_offset`` (checked).
        on_checkpoint: instead of writing ``checkpoint_dir``, call ``on_checkpoint(files, record)`` at
            every evaluation with ``files = {"last.safetensors": bytes}`` (and ``"best.safetensors"``
            when the validation loss improved) and the evaluation record, e.g. to save a whole run
            folder as one transaction (``nnbasics train-lm`` does).
        progress: None or False (silent); True: a live bar of the steps with the running training
            loss on a terminal (plain lines every ``eval_every // 10`` steps elsewhere) and one line
            per evaluation (see :class:`~nnbasics.training.progress.Progress`); or a callable taking
            the evaluation record (a dict).

    Returns:
        CharLMRun: the model, vocab, optimizer and history (losses in nats/char).

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> kw = dict(model={"model": "char-gru", "hidden_size": 8}, seq_len=8, batch_size=2, eval_every=2, rng=0)
        >>> first = train_char_lm("abcab" * 20, steps=2, checkpoint_dir=d, **kw)
        >>> more = train_char_lm("abcab" * 20, steps=4, resume=d + "/last.safetensors", **kw)
        >>> more.history["step"]
        [0, 2, 4]
    """
    text = _read_text(text, path)
    limits, progress = _check_args(steps, epochs, time_budget_s, eval_every, eval_chars, seq_len, batch_size, lr,
                                   clip, progress)
    g = as_generator(rng)
    if isinstance(model, Module) and vocab is None and resume is None:
        raise ValueError("train_char_lm: a ready-made model needs its vocab= (the CharVocab it was built for).")
    if vocab is not None and not isinstance(vocab, CharVocab):
        raise TypeError(f"train_char_lm: vocab must be a CharVocab. Got {type(vocab).__name__}.")
    config = {"text_sha256": ckpt_format.text_digest(text), "seq_len": int(seq_len), "batch_size": int(batch_size),
              "val_fraction": float(val_fraction), "random_offset": bool(random_offset)}
    meta = None
    if resume is not None:
        meta = ckpt_format.read_resume_metadata(resume, config)
        vocab = _saved_vocab(meta, vocab, text, resume)
    vocab = CharVocab.from_text(text) if vocab is None else vocab
    data = _Streams.split(vocab.encode(text), val_fraction, batch_size, seq_len, eval_chars)
    net = _build(model, vocab, g)
    optimizer = Adam(net.parameters(), lr=lr)
    run = CharLMRun(model=net, vocab=vocab, optimizer=optimizer,
                    history={k: [] for k in ckpt_format.HISTORY_KEYS})
    windows = TruncatedBPTT(data.train, seq_len, random_offset=random_offset, rng=g)
    log = _RunLog(run, windows, data, limits, eval_every, config,
                  _Saver(run, checkpoint_dir, on_checkpoint, g), progress)
    first_epoch = log.resume(meta, resume, batch_size) if resume is not None else log.begin()
    net.train()
    if not log.stopped_by:
        last_epoch = _NO_EPOCH_LIMIT if epochs is None else epochs
        if windows.continuing:  # the epoch in progress is always finished
            last_epoch = max(last_epoch, first_epoch + 1)
        fit(windows.carry(net), windows, epochs=last_epoch, optimizer=optimizer, loss=sequence_loss, metrics=(),
            callbacks=[log], progress=False, grad_clip_norm=clip, initial_epoch=first_epoch)
    log.finish()
    return run


def _read_text(text, path) -> str:
    if (text is None) == (path is None):
        raise ValueError("train_char_lm: give exactly one of text= (a string) or path= (a text file).")
    if path is not None:
        text = load_text(path)
    if not isinstance(text, str) or not text:
        raise ValueError(f"train_char_lm: text must be a non-empty string. Got {type(text).__name__} "
                         f"of length {len(text) if hasattr(text, '__len__') else '?'}.")
    return text


@dataclass
class _Limits:
    """The stopping rules: ``steps`` optimizer steps, ``epochs`` passes, ``seconds`` of wall time (None: no limit)."""

    steps: int | None
    epochs: int | None
    seconds: float | None

    def reached(self, step: int, seconds: float) -> str:
        """``"steps"`` or ``"time_budget"`` once a limit is reached (checked after every step), else ``""``."""
        if self.steps is not None and step >= self.steps:
            return "steps"
        if self.seconds is not None and seconds >= self.seconds:
            return "time_budget"
        return ""


def _check_args(steps, epochs, time_budget_s, eval_every, eval_chars, seq_len, batch_size, lr, clip,
                progress) -> tuple:
    """``(limits, progress reporter or None)`` from train_char_lm's arguments, every number checked."""
    limits = _Limits(check_positive_int(steps, "train_char_lm: steps", optional=True),
                     check_positive_int(epochs, "train_char_lm: epochs", optional=True),
                     check_real(time_budget_s, "train_char_lm: time_budget_s", low=0, low_open=True, optional=True))
    for name, value in (("eval_every", eval_every), ("eval_chars", eval_chars), ("seq_len", seq_len),
                        ("batch_size", batch_size)):
        check_positive_int(value, f"train_char_lm: {name}", optional=True)
    if limits.steps is None and limits.epochs is None and limits.seconds is None:
        raise ValueError("train_char_lm: give at least one stopping rule: steps=, epochs= or time_budget_s=.")
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"train_char_lm: lr must be > 0, e.g. 2e-3. Got {lr!r}.")
    if clip is not None and not (isinstance(clip, numbers.Real) and clip > 0):
        raise ValueError(f"train_char_lm: clip must be > 0 or None. Got {clip!r}.")
    if progress is True:
        return limits, _StepReport(limits.steps, eval_every)
    if progress is not None and progress is not False and not callable(progress):
        raise TypeError(f"train_char_lm: progress must be None, False, True or a callable. Got "
                        f"{type(progress).__name__}.")
    return limits, (progress or None)


def _saved_vocab(meta, vocab, text, resume) -> CharVocab:
    """The checkpoint's vocabulary (``vocab=`` must equal it), covering every character of the text."""
    saved = CharVocab.from_dict(meta["extra"]["vocab"])
    if vocab is not None and vocab != saved:
        raise ValueError(f"train_char_lm: vocab= differs from the checkpoint's vocabulary {saved!r}; "
                         "leave vocab out to resume.")
    unknown = sorted(set(text) - set(saved.chars))
    if unknown:  # the text's digest matched: the saved vocabulary itself is damaged
        raise CheckpointError(f"train_char_lm: {os.fspath(resume)}: the saved vocabulary lacks characters of "
                              f"the text it was trained on ({unknown[:10]!r}); the checkpoint is damaged.")
    return saved


@dataclass
class _Streams:
    """The text as ``(batch, T)`` streams: ``train``, ``val`` (the held-out tail) and ``quick_val`` (its start)."""

    train: np.ndarray
    val: np.ndarray
    quick_val: np.ndarray

    @classmethod
    def split(cls, ids, val_fraction, batch_size, seq_len, eval_chars) -> _Streams:
        train_ids, val_ids = train_val_split(ids, val_fraction)
        if len(val_ids) == 0:
            val_ids = train_ids
        train = batchify(train_ids, batch_size)
        val_batch = max(1, min(batch_size, len(val_ids) // max(2, seq_len + 1)))
        val = batchify(val_ids, val_batch)
        quick = val
        if eval_chars is not None and eval_chars < val.size:
            quick = val[:, : max(2, eval_chars // val_batch)]
        return cls(train, val, quick)


def _build(model, vocab, rng):
    from ..models.registry import build_model

    if isinstance(model, Module):
        return model
    if isinstance(model, str):
        model = {"model": model}
    if not isinstance(model, dict):
        raise TypeError(f"train_char_lm: model must be a registered name (e.g. 'char-lstm'), a spec dict "
                        f"{{'model': ..., **kwargs}} or a Module. Got {type(model).__name__}.")
    spec = dict(model)
    if "vocab_size" in spec and spec["vocab_size"] != len(vocab):
        raise ValueError(f"train_char_lm: the spec's vocab_size={spec['vocab_size']} differs from the text's "
                         f"{len(vocab)} characters; leave vocab_size out and it is filled in.")
    spec["vocab_size"] = len(vocab)
    return build_model(spec, rng=rng)


class _RunLog(Callback):
    """train_char_lm's run inside fit: count the steps, stop by the limits, evaluate, record, save and report.

    Evaluations come at step 0 (:meth:`begin`), after every ``eval_every`` steps unless the run
    stops there, and at the end on the whole validation text (:meth:`finish`).
    """

    def __init__(self, run, windows, data, limits, eval_every, config, saver, report):
        self.run, self.windows, self.data, self.limits = run, windows, data, limits
        self.eval_every, self.config, self.saver, self.report = eval_every, config, saver, report
        self.step, self.epoch, self.best, self.recent, self.stopped_by = 0, 0, math.inf, [], ""
        self.t0 = time.perf_counter()

    def begin(self) -> int:
        """A fresh run: the evaluation at step 0; fit starts at its epoch 0."""
        self.evaluate(self.data.quick_val)
        self.stopped_by = self.limits.reached(self.step, 0.0)
        return 0

    def resume(self, meta, path, batch_size) -> int:
        """Go on from the checkpoint ``path`` (its metadata ``meta`` checked): fit's first epoch."""
        from .checkpoint import load_checkpoint

        extra, point, where = meta["extra"], meta["extra"]["resume"], os.fspath(path)
        state = ckpt_format.decode_state(point.get("state"), where, self.run.model, batch_size)  # before loading
        if point["start"] is not None and point["start"] >= max(1, min(self.windows.seq_len,
                                                                       self.data.train.shape[1] - 1)):
            raise CheckpointError(f"train_char_lm: {where}: corrupt resume point: the epoch's start "
                                  f"offset {point['start']} is past the first window (seq_len {self.windows.seq_len}).")
        load_checkpoint(path, self.run.model, self.run.optimizer, generators={"train_char_lm": self.windows.generator})
        self.run.history.update(ckpt_format.nan_floats(extra["history"]))
        self.step, self.epoch, self.best = int(extra["step"]), int(point["epoch"]), float(point["best"])
        elapsed = float(self.run.history["time_s"][-1]) if self.run.history["time_s"] else 0.0
        self.t0 = time.perf_counter() - elapsed
        self.stopped_by = self.limits.reached(self.step, elapsed)
        if point["start"] is not None and self.windows.continue_epoch(int(point["start"]), int(point["chunks"]),
                                                                      state):
            return self.epoch - 1  # fit's epoch e is the text's epoch e + 1
        return self.epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1  # the text's epochs count from 1 (0: before training)

    def on_batch_end(self, batch, logs=None):
        self.step += 1
        self.recent.append(logs["batch_loss"])
        if isinstance(self.report, _StepReport):
            self.report.step(self.step, self.recent)
        self.stopped_by = self.limits.reached(self.step, time.perf_counter() - self.t0)
        if self.stopped_by:
            self.context.stop_training = self.context.abort_epoch = True  # at once, inside the epoch
        elif self.step % self.eval_every == 0:
            self.evaluate(self.data.quick_val)

    def finish(self) -> None:
        """The last evaluation, on the whole validation text; the run's totals."""
        self.stopped_by = self.stopped_by or "epochs"
        self.evaluate(self.data.val)
        if isinstance(self.report, _StepReport):
            self.report.close()
        run = self.run
        run.steps, run.seconds, run.stopped_by = self.step, time.perf_counter() - self.t0, self.stopped_by

    def evaluate(self, streams) -> None:
        """Validate, append the record to the history, save the checkpoints, report."""
        val = evaluate_stream(self.run.model, streams, self.windows.seq_len)
        rec = {"step": self.step, "epoch": self.epoch, "time_s": time.perf_counter() - self.t0,
               "train_loss": float(np.mean(self.recent)) if self.recent else float("nan"),
               "val_loss": val, "val_perplexity": math.exp(min(val, 700.0))}
        self.recent.clear()
        for k, v in rec.items():
            self.run.history[k].append(v)
        improved, self.best = val < self.best, min(self.best, val)
        if self.saver.wanted:
            w = self.windows
            point = {"epoch": self.epoch, "start": w.start, "chunks": w.done, "best": self.best,
                     "state": ckpt_format.encode_state(w.state), **self.config}
            self.saver(self.step, self.epoch, point, improved, rec)
        if self.report is not None:
            self.report(dict(rec))


class _Saver:
    """``last.safetensors`` at every evaluation, ``best.safetensors`` when it improved: into ``checkpoint_dir``, or
    handed to ``on_checkpoint(files, record)``."""

    def __init__(self, run, checkpoint_dir, on_checkpoint, rng):
        self.run, self.dir, self.on_checkpoint, self.rng = run, checkpoint_dir, on_checkpoint, rng
        self.wanted = checkpoint_dir is not None or on_checkpoint is not None

    def __call__(self, step, epoch, point, improved, rec) -> None:
        run = self.run
        data = ckpt_format.checkpoint_data(run.model, run.optimizer, run.vocab, run.history, step, epoch, self.rng,
                                           point)
        names = ["last"] + (["best"] if improved else [])
        if self.on_checkpoint is not None:
            self.on_checkpoint({f"{n}.safetensors": data for n in names}, dict(rec))
            return
        from ..io.safetensors import atomic_write_bytes

        os.makedirs(self.dir, exist_ok=True)
        for n in names:
            path = atomic_write_bytes(os.path.join(self.dir, f"{n}.safetensors"), data)
            if path not in run.checkpoints:
                run.checkpoints.append(path)


def load_char_lm(path, model=None, optimizer=None):
    """Load a character LM saved by :func:`train_char_lm` (``checkpoint_dir/best.safetensors`` or ``last``).

    Args:
        path: the checkpoint file.
        model: a Module to load into; None rebuilds it from the recorded spec.
        optimizer: optionally, an optimizer over ``model.parameters()`` to restore.

    Returns:
        (model, vocab, checkpoint): the model in eval mode, its
        :class:`~nnbasics.data.text.CharVocab`, and the full
        :class:`~nnbasics.training.checkpoint.Checkpoint` (``extra["history"]``, ``extra["step"]``).

    Example:
        >>> model, vocab, _ = load_char_lm("runs/shakespeare/best.safetensors")  # doctest: +SKIP
        >>> print(sample(model, vocab, "ROMEO:", 200, temperature=0.8, rng=0))  # doctest: +SKIP
    """
    from .checkpoint import prepare_checkpoint

    plan = prepare_checkpoint(path, model, optimizer)
    extra = ckpt_format.check_extra(f"load_char_lm: {os.fspath(path)}", plan.checkpoint.extra, resumable=False)
    vocab = CharVocab.from_dict(extra["vocab"])
    size = (getattr(plan.checkpoint.model, "spec", None) or {}).get("vocab_size")
    if size is not None and size != len(vocab):
        raise CheckpointError(f"load_char_lm: {os.fspath(path)}: its vocabulary has {len(vocab)} characters but the "
                              f"model scores {size}; the checkpoint is damaged.")
    ckpt = plan.apply()
    ckpt.model.eval()
    return ckpt.model, vocab, ckpt


def _format_record(rec) -> str:
    """One evaluation as a line; before the first step there is no training loss yet ("-", not "nan")."""
    train = "-     " if math.isnan(rec["train_loss"]) else f"{rec['train_loss']:.4f}"
    return (f"step {rec['step']:>6}  epoch {rec['epoch']:>3}  {rec['time_s']:8.1f} s  train {train}  "
            f"val {rec['val_loss']:.4f} nats/char  ppl {rec['val_perplexity']:.2f}")


class _StepReport:
    """``progress=True``: a bar of the steps (running training loss) and a line per evaluation on stdout."""

    def __init__(self, steps, eval_every):
        import sys

        from .progress import Progress

        self._bar = Progress(total=steps, desc="train", unit="step", file=sys.stderr, leave=False,
                             every=max(1, eval_every // 10))

    def step(self, step, recent):
        self._bar.update(1, {"loss": float(np.mean(recent))} if recent else None)

    def __call__(self, rec):
        import sys

        self._bar.write(_format_record(rec), file=sys.stdout)

    def close(self):
        self._bar.close()
