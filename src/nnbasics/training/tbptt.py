"""Truncated backpropagation through time (TBPTT) and a character-level language-model trainer.

A long stream is folded into ``batch`` parallel streams (:func:`~nnbasics.data.text.batchify`)
and walked in windows of ``seq_len`` steps. The recurrent state is carried from one window
to the next (so the model conditions on everything it has read), but the graph is cut
between windows (:func:`~nnbasics.nn.rnn_utils.detach_state`), so each backward pass runs
through at most ``seq_len`` steps and memory stays bounded::

    state = None
    for x, y in bptt_chunks(streams, seq_len):
        logits, state = model(x, state)      # forward from the carried state
        loss = cross_entropy(logits, y)      # mean nats per character of this window
        loss.backward(); clip; step          # gradients reach back seq_len steps only
        state = detach_state(state)          # keep the values, drop the graph

Losses are in nats per character; perplexity is ``exp(loss)`` (the vocabulary size for a
uniform guess). ``bits per character = loss / ln 2``.

Example:
    >>> run = train_char_lm("hello world. " * 40, model={"model": "char-lstm", "hidden_size": 16,
    ...                     "embedding_dim": 8}, seq_len=8, batch_size=4, steps=20, rng=0)
    >>> run.history["val_loss"][-1] < run.history["val_loss"][0]
    True
"""

from __future__ import annotations

import base64
import hashlib
import math
import numbers
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..data.text import CharVocab, batchify, bptt_chunks, load_text, train_val_split
from ..functional import cross_entropy
from ..nn.module import Module
from ..nn.rnn_utils import detach_state
from ..optim import Adam
from ..optim.clip import clip_grad_norm_
from ..rng import as_generator
from ..tensor import Tensor, as_tensor
from .checkpoint_check import CheckpointError

__all__ = ["CharLMRun", "evaluate_stream", "load_char_lm", "tbptt_step", "train_char_lm"]


def _sequence_loss(logits, y):
    """Mean cross-entropy of ``(N, T, V)`` logits against ``(N, T)`` targets."""
    v = logits.shape[-1]
    return cross_entropy(logits.reshape(-1, v), as_tensor(np.ascontiguousarray(y).reshape(-1)))


def tbptt_step(model, x, y, state, optimizer, *, clip: float | None = None, loss_fn=None):
    """One truncated-BPTT update on a window: forward from ``state``, backward, clip, step, cut.

    Args:
        model: ``model(x, state) -> (output, new_state)``, e.g. :class:`~nnbasics.models.rnn.CharRNN`.
        x: the window's inputs, e.g. ``(N, T)`` ids (array or Tensor).
        y: the targets, e.g. ``(N, T)`` next ids.
        state: the state carried from the previous window (None at the start of a stream).
        optimizer: an ``nnbasics.optim`` optimizer over the model's parameters.
        clip: clip the global gradient 2-norm to this value (None: no clipping).
        loss_fn: ``loss_fn(output, y) -> scalar Tensor`` (default: mean cross-entropy over
            ``(N, T, V)`` logits).

    Returns:
        (loss, state, grad_norm): the loss value (float), the new state detached from the
        graph, and the gradient norm before clipping (float; NaN when ``clip`` is None).
    """
    loss_fn = _sequence_loss if loss_fn is None else loss_fn
    out, state = model(x if isinstance(x, Tensor) else as_tensor(np.asarray(x)), state)
    loss = loss_fn(out, y)
    optimizer.zero_grad()
    loss.backward()
    norm = float("nan")
    if clip is not None:
        norm = float(clip_grad_norm_(model.parameters(), clip).item())
    optimizer.step()
    return float(loss.item()), detach_state(state), norm


def evaluate_stream(model, streams, seq_len: int, loss_fn=None) -> float:
    """Mean loss per predicted step over ``(batch, T)`` streams, state carried, no graph, eval mode.

    Every window's loss is weighted by its number of steps, so the result is the mean
    nats per character of the whole stream (``T - 1`` predictions per row). The model's
    train/eval mode is restored.
    """
    loss_fn = _sequence_loss if loss_fn is None else loss_fn
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            for x, y in bptt_chunks(streams, seq_len):
                out, state = model(as_tensor(x), state)
                total += float(loss_fn(out, y).item()) * y.size
                count += y.size
    finally:
        model.train(was_training)
    return total / count


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


def _optional_positive(value, name, kind=numbers.Integral):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(f"train_char_lm: {name} must be a positive {'int' if kind is numbers.Integral else 'number'} "
                         f"or None. Got {value!r}.")
    return value


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


def _json_floats(history):
    """The history with NaN (no training loss yet) as None, for JSON."""
    return {k: [None if isinstance(v, float) and math.isnan(v) else v for v in vs] for k, vs in history.items()}


def _nan_floats(history):
    """Undo :func:`_json_floats`: None back to NaN."""
    return {k: [math.nan if v is None else v for v in vs] for k, vs in history.items()}


def _encode_state(state):
    """The carried recurrent state (None, a Tensor or a tuple of them) as JSON: exact bytes in base64."""
    if state is None:
        return None
    parts = state if isinstance(state, (tuple, list)) else (state,)
    arrays = [np.ascontiguousarray(t._array) for t in parts]
    return {"tuple": isinstance(state, (tuple, list)),
            "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode()}
                       for a in arrays]}


def _decode_state(obj, path="checkpoint", net=None, batch_size=None):
    """The carried state saved by :func:`_encode_state`, checked: float32/64 arrays of the model's state shape."""
    if obj is None:
        return None
    bad = f"{path}: corrupt checkpoint metadata: the carried recurrent state"
    if not (isinstance(obj, dict) and isinstance(obj.get("tuple"), bool) and isinstance(obj.get("arrays"), list)
            and 1 <= len(obj["arrays"]) <= 2 and (len(obj["arrays"]) == 2) == obj["tuple"]):
        raise CheckpointError(f"{bad} must be {{'tuple': bool, 'arrays': [1 or 2 arrays]}}.")
    want = None
    if net is not None and all(isinstance(getattr(net, a, None), int) for a in ("num_layers", "hidden_size")):
        want = (net.num_layers, batch_size, net.hidden_size)
    arrays = []
    for a in obj["arrays"]:
        ok = (isinstance(a, dict) and a.get("dtype") in ("<f4", "<f8") and isinstance(a.get("shape"), list)
              and len(a["shape"]) == 3 and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 2**31
                                               for d in a["shape"]) and isinstance(a.get("base64"), str))
        if ok and want is not None and tuple(a["shape"]) != want:
            raise CheckpointError(f"{bad} has shape {tuple(a['shape'])}; the model carries {want}.")
        try:
            raw = base64.b64decode(a["base64"], validate=True) if ok else b""
        except ValueError:
            ok = False
        dt = np.dtype(a["dtype"]) if ok else None  # one of two plain float dtypes, never the file's own string
        if not ok or len(raw) != math.prod(a["shape"]) * dt.itemsize:
            raise CheckpointError(f"{bad} must be float32/float64 arrays (layers, batch, hidden) with their bytes.")
        arrays.append(np.frombuffer(raw, dtype=dt).reshape(a["shape"]).astype(dt.newbyteorder("=")))
    tensors = tuple(as_tensor(a) for a in arrays)
    return tensors if obj["tuple"] else tensors[0]


def _check_extra(path, extra, resumable: bool) -> dict:
    """The ``extra`` train_char_lm writes, checked: the vocabulary, the step, the history and the resume point."""
    def bad(what):
        raise CheckpointError(f"{path}: corrupt checkpoint metadata: {what}.")

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**53

    def number(v):
        return v is None or isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**1000)

    if not isinstance(extra, dict) or extra.get("kind") != "char-lm":
        raise CheckpointError(f"{path} was not written by train_char_lm (no 'char-lm' metadata); use "
                              "nnbasics.training.load_checkpoint for other checkpoints.")
    vocab = extra.get("vocab")
    if not (isinstance(vocab, dict) and isinstance(vocab.get("chars"), str) and vocab["chars"]
            and len(set(vocab["chars"])) == len(vocab["chars"])):
        bad("extra['vocab'] must be {'chars': a non-empty string of distinct characters}")
    if not resumable:
        return extra
    hist = extra.get("history")
    keys = ("step", "epoch", "time_s", "train_loss", "val_loss", "val_perplexity")
    if not (isinstance(hist, dict) and set(hist) == set(keys) and all(isinstance(hist[k], list) for k in keys)
            and len({len(hist[k]) for k in keys}) == 1 and all(number(v) for k in keys for v in hist[k])):
        bad(f"extra['history'] must hold equal-length lists of numbers under {', '.join(keys)}")
    point = extra.get("resume")
    if not (count(extra.get("step")) and isinstance(point, dict) and count(point.get("epoch"))
            and (point.get("start") is None or count(point["start"])) and count(point.get("chunks"))
            and number(point.get("best")) and point.get("best") is not None):
        bad("the resume point (step, epoch, start, chunks, best) must be integers >= 0 and a number")
    return extra


def _text_digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checkpoint(model, optimizer, vocab, history, step, epoch, rng, resume_point) -> bytes:
    """The bytes of a resumable char-LM checkpoint (weights, Adam, streams; vocab, step, history, resume point)."""
    from .checkpoint import checkpoint_bytes

    extra = {"kind": "char-lm", "vocab": vocab.to_dict(), "step": step, "history": _json_floats(history),
             "resume": resume_point}
    return checkpoint_bytes(model, optimizer, epoch=epoch, rng_states={"train_char_lm": rng}, extra=extra)


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
    extra = _check_extra(f"load_char_lm: {os.fspath(path)}", plan.checkpoint.extra, resumable=False)
    vocab = CharVocab.from_dict(extra["vocab"])
    size = (getattr(plan.checkpoint.model, "spec", None) or {}).get("vocab_size")
    if size is not None and size != len(vocab):
        raise CheckpointError(f"load_char_lm: {os.fspath(path)}: its vocabulary has {len(vocab)} characters but the "
                              f"model scores {size}; the checkpoint is damaged.")
    ckpt = plan.apply()
    ckpt.model.eval()
    return ckpt.model, vocab, ckpt


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
    if (text is None) == (path is None):
        raise ValueError("train_char_lm: give exactly one of text= (a string) or path= (a text file).")
    if path is not None:
        text = load_text(path)
    if not isinstance(text, str) or not text:
        raise ValueError(f"train_char_lm: text must be a non-empty string. Got {type(text).__name__} "
                         f"of length {len(text) if hasattr(text, '__len__') else '?'}.")
    steps = _optional_positive(steps, "steps")
    epochs = _optional_positive(epochs, "epochs")
    time_budget_s = _optional_positive(time_budget_s, "time_budget_s", numbers.Real)
    eval_every = _optional_positive(eval_every, "eval_every")
    eval_chars = _optional_positive(eval_chars, "eval_chars")
    _optional_positive(seq_len, "seq_len")
    _optional_positive(batch_size, "batch_size")
    if steps is None and epochs is None and time_budget_s is None:
        raise ValueError("train_char_lm: give at least one stopping rule: steps=, epochs= or time_budget_s=.")
    if not (isinstance(lr, numbers.Real) and lr > 0):
        raise ValueError(f"train_char_lm: lr must be > 0, e.g. 2e-3. Got {lr!r}.")
    if clip is not None and not (isinstance(clip, numbers.Real) and clip > 0):
        raise ValueError(f"train_char_lm: clip must be > 0 or None. Got {clip!r}.")
    if progress is False:
        progress = None
    if progress is True:
        progress = _StepReport(steps, eval_every)
    elif progress is not None and not callable(progress):
        raise TypeError(f"train_char_lm: progress must be None, False, True or a callable. Got "
                        f"{type(progress).__name__}.")

    g = as_generator(rng)
    if isinstance(model, Module) and vocab is None and resume is None:
        raise ValueError("train_char_lm: a ready-made model needs its vocab= (the CharVocab it was built for).")
    if vocab is not None and not isinstance(vocab, CharVocab):
        raise TypeError(f"train_char_lm: vocab must be a CharVocab. Got {type(vocab).__name__}.")
    config = {"text_sha256": _text_digest(text), "seq_len": int(seq_len), "batch_size": int(batch_size),
              "val_fraction": float(val_fraction), "random_offset": bool(random_offset)}
    meta = None
    if resume is not None:
        meta = _resume_metadata(resume, config)
        saved_vocab = CharVocab.from_dict(meta["extra"]["vocab"])
        if vocab is not None and vocab != saved_vocab:
            raise ValueError(f"train_char_lm: vocab= differs from the checkpoint's vocabulary {saved_vocab!r}; "
                             "leave vocab out to resume.")
        vocab = saved_vocab
        unknown = sorted(set(text) - set(vocab.chars))
        if unknown:  # the text's digest matched: the saved vocabulary itself is damaged
            raise CheckpointError(f"train_char_lm: {os.fspath(resume)}: the saved vocabulary lacks characters of "
                                  f"the text it was trained on ({unknown[:10]!r}); the checkpoint is damaged.")
    vocab = CharVocab.from_text(text) if vocab is None else vocab
    ids = vocab.encode(text)
    train_ids, val_ids = train_val_split(ids, val_fraction)
    if len(val_ids) == 0:
        val_ids = train_ids
    train_streams = batchify(train_ids, batch_size)
    val_batch = max(1, min(batch_size, len(val_ids) // max(2, seq_len + 1)))
    val_streams = batchify(val_ids, val_batch)
    quick_val = val_streams
    if eval_chars is not None and eval_chars < val_streams.size:
        quick_val = val_streams[:, : max(2, eval_chars // val_batch)]

    net = _build(model, vocab, g)
    optimizer = Adam(net.parameters(), lr=lr)
    history = {k: [] for k in ("step", "epoch", "time_s", "train_loss", "val_loss", "val_perplexity")}
    run = CharLMRun(model=net, vocab=vocab, optimizer=optimizer, history=history)
    best = math.inf
    recent = []
    step, epoch, stop = 0, 0, ""
    state = None
    # the epoch in progress: its starting offset and the windows done (None between epochs)
    where = {"start": None, "chunks": 0}
    pending = False
    elapsed = 0.0
    if resume is not None:
        from .checkpoint import load_checkpoint

        extra = meta["extra"]
        point = extra["resume"]
        state = _decode_state(point.get("state"), os.fspath(resume), net, batch_size)  # checked before loading
        if point["start"] is not None and point["start"] >= max(1, min(seq_len, train_streams.shape[1] - 1)):
            raise CheckpointError(f"train_char_lm: {os.fspath(resume)}: corrupt resume point: the epoch's start "
                                  f"offset {point['start']} is past the first window (seq_len {seq_len}).")
        load_checkpoint(resume, net, optimizer, generators={"train_char_lm": g})
        history.update(_nan_floats(extra["history"]))
        step, epoch = int(extra["step"]), int(point["epoch"])
        best = float(point["best"])
        elapsed = float(history["time_s"][-1]) if history["time_s"] else 0.0
        if point["start"] is not None:
            where = {"start": int(point["start"]), "chunks": int(point["chunks"])}
            pending = True
    t0 = time.perf_counter() - elapsed

    def evaluate(step, epoch, streams):
        nonlocal best
        val = evaluate_stream(net, streams, seq_len)
        rec = {"step": step, "epoch": epoch, "time_s": time.perf_counter() - t0,
               "train_loss": float(np.mean(recent)) if recent else float("nan"),
               "val_loss": val, "val_perplexity": math.exp(min(val, 700.0))}
        recent.clear()
        for k, v in rec.items():
            history[k].append(v)
        best_before, best = best, min(best, val)
        if checkpoint_dir is not None or on_checkpoint is not None:
            point = {"epoch": epoch, "start": where["start"], "chunks": where["chunks"], "best": best,
                     "state": _encode_state(state), **config}
            data = _checkpoint(net, optimizer, vocab, history, step, epoch, g, point)
            names = ["last"] + (["best"] if val < best_before else [])
            if on_checkpoint is not None:
                on_checkpoint({f"{n}.safetensors": data for n in names}, dict(rec))
            else:
                from ..io.safetensors import atomic_write_bytes

                os.makedirs(checkpoint_dir, exist_ok=True)
                for n in names:
                    path = atomic_write_bytes(os.path.join(checkpoint_dir, f"{n}.safetensors"), data)
                    if path not in run.checkpoints:
                        run.checkpoints.append(path)
        if progress is not None:
            progress(dict(rec))

    net.train()
    if resume is None:
        evaluate(0, 0, quick_val)
    if steps is not None and step >= steps:
        stop = "steps"
    elif time_budget_s is not None and elapsed >= time_budget_s:
        stop = "time_budget"
    while not stop:
        if pending:  # resuming inside an epoch: same offset, skip the windows already trained on
            pending = False
        else:
            epoch += 1
            max_start = min(seq_len, train_streams.shape[1] - 1)
            start = int(g.integers(0, max_start)) if random_offset and max_start > 1 else 0
            where = {"start": start, "chunks": 0}
            state = None
        done = where["chunks"]
        for i, (x, y) in enumerate(bptt_chunks(train_streams, seq_len, start=where["start"])):
            if i < done:
                continue
            loss, state, _ = tbptt_step(net, x, y, state, optimizer, clip=clip)
            where["chunks"] = i + 1
            recent.append(loss)
            step += 1
            if isinstance(progress, _StepReport):
                progress.step(step, recent)
            if steps is not None and step >= steps:
                stop = "steps"
            elif time_budget_s is not None and time.perf_counter() - t0 >= time_budget_s:
                stop = "time_budget"
            if stop:
                break
            if step % eval_every == 0:
                evaluate(step, epoch, quick_val)
        if not stop and epochs is not None and epoch >= epochs:
            stop = "epochs"
    evaluate(step, epoch, val_streams)
    if isinstance(progress, _StepReport):
        progress.close()
    run.steps, run.seconds, run.stopped_by = step, time.perf_counter() - t0, stop
    return run


def _resume_metadata(resume, config):
    """The checkpoint's metadata, after checking it is a resumable char-LM checkpoint of the same data layout."""
    from .checkpoint import read_checkpoint_metadata

    if not isinstance(resume, (str, os.PathLike)):
        raise TypeError(f"train_char_lm: resume must be a checkpoint path (checkpoint_dir/last.safetensors). "
                        f"Got {type(resume).__name__}.")
    meta = read_checkpoint_metadata(resume)
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    point = extra.get("resume")
    if extra.get("kind") != "char-lm" or not isinstance(point, dict):
        raise CheckpointError(f"train_char_lm: {os.fspath(resume)} is not a resumable checkpoint of train_char_lm "
                              "(no resume point in its metadata).")
    _check_extra(f"train_char_lm: {os.fspath(resume)}", extra, resumable=True)
    if point.get("text_sha256") != config["text_sha256"]:
        raise ValueError(f"train_char_lm: the text differs from the one {os.fspath(resume)} was trained on, so the "
                         "run cannot resume. To fine-tune on a new text, load the model with load_char_lm and pass "
                         "it as model= (with vocab=).")
    diff = {k: (point.get(k), v) for k, v in config.items() if k != "text_sha256" and point.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}={saved!r} (given {given!r})" for k, (saved, given) in diff.items())
        raise ValueError(f"train_char_lm: resume needs the settings the checkpoint was trained with: {listed}.")
    return meta


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
