"""The checkpoint format of :func:`~nnbasics.training.train_char_lm`, written and checked (internal).

A char-LM checkpoint is an ordinary :func:`~nnbasics.training.save_checkpoint` file (weights,
Adam's state, the model's spec, the random stream ``"train_char_lm"``) whose ``extra`` says what
the run needs to go on exactly where it stopped::

    {"kind": "char-lm", "vocab": {"chars": ...}, "step": 1200, "history": {...lists...},
     "resume": {"epoch": 3, "start": 17, "chunks": 42, "best": 1.83, "state": {...},
                "text_sha256": ..., "seq_len": 100, "batch_size": 32, "val_fraction": 0.1,
                "random_offset": true}}

``resume`` is the position in the text (the epoch, its starting offset, the windows done), the
best validation loss, the carried recurrent state (exact bytes in base64) and the data layout a
resume must repeat. Everything read back is checked before anything is loaded
(:class:`~nnbasics.training.CheckpointError` names what is wrong).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os

import numpy as np

from ..tensor import as_tensor
from .checkpoint_check import CheckpointError

__all__ = ["HISTORY_KEYS", "check_extra", "checkpoint_data", "decode_state", "encode_state", "nan_floats",
           "read_resume_metadata", "text_digest"]

HISTORY_KEYS = ("step", "epoch", "time_s", "train_loss", "val_loss", "val_perplexity")


def text_digest(text) -> str:
    """SHA-256 of the text's UTF-8 bytes: a resume must train on the same text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_floats(history):
    """The history with NaN (no training loss yet) as None, for JSON."""
    return {k: [None if isinstance(v, float) and math.isnan(v) else v for v in vs] for k, vs in history.items()}


def nan_floats(history):
    """Undo :func:`_json_floats`: None back to NaN."""
    return {k: [math.nan if v is None else v for v in vs] for k, vs in history.items()}


def encode_state(state):
    """The carried recurrent state (None, a Tensor or a tuple of them) as JSON: exact bytes in base64."""
    if state is None:
        return None
    parts = state if isinstance(state, (tuple, list)) else (state,)
    arrays = [np.ascontiguousarray(t._array) for t in parts]
    return {"tuple": isinstance(state, (tuple, list)),
            "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode()}
                       for a in arrays]}


def _decode_array(a, bad, want):
    """One saved array: float32/64 ``(layers, batch, hidden)`` with exactly its bytes."""
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
    return np.frombuffer(raw, dtype=dt).reshape(a["shape"]).astype(dt.newbyteorder("="))


def decode_state(obj, path="checkpoint", net=None, batch_size=None):
    """The carried state saved by :func:`encode_state`, checked: float32/64 arrays of the model's state shape."""
    if obj is None:
        return None
    bad = f"{path}: corrupt checkpoint metadata: the carried recurrent state"
    if not (isinstance(obj, dict) and isinstance(obj.get("tuple"), bool) and isinstance(obj.get("arrays"), list)
            and 1 <= len(obj["arrays"]) <= 2 and (len(obj["arrays"]) == 2) == obj["tuple"]):
        raise CheckpointError(f"{bad} must be {{'tuple': bool, 'arrays': [1 or 2 arrays]}}.")
    want = None
    if net is not None and all(isinstance(getattr(net, a, None), int) for a in ("num_layers", "hidden_size")):
        want = (net.num_layers, batch_size, net.hidden_size)
    tensors = tuple(as_tensor(_decode_array(a, bad, want)) for a in obj["arrays"])
    return tensors if obj["tuple"] else tensors[0]


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**53


def _number(v) -> bool:
    return v is None or isinstance(v, float) or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**1000)


def check_extra(path, extra, resumable: bool) -> dict:
    """The ``extra`` train_char_lm writes, checked: the vocabulary, the step, the history and the resume point."""
    def bad(what):
        raise CheckpointError(f"{path}: corrupt checkpoint metadata: {what}.")

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
    keys = HISTORY_KEYS
    if not (isinstance(hist, dict) and set(hist) == set(keys) and all(isinstance(hist[k], list) for k in keys)
            and len({len(hist[k]) for k in keys}) == 1 and all(_number(v) for k in keys for v in hist[k])):
        bad(f"extra['history'] must hold equal-length lists of numbers under {', '.join(keys)}")
    point = extra.get("resume")
    if not (_count(extra.get("step")) and isinstance(point, dict) and _count(point.get("epoch"))
            and (point.get("start") is None or _count(point["start"])) and _count(point.get("chunks"))
            and _number(point.get("best")) and point.get("best") is not None):
        bad("the resume point (step, epoch, start, chunks, best) must be integers >= 0 and a number")
    return extra


def checkpoint_data(model, optimizer, vocab, history, step, epoch, rng, resume_point) -> bytes:
    """The bytes of a resumable char-LM checkpoint (weights, Adam, streams; vocab, step, history, resume point)."""
    from .checkpoint import checkpoint_bytes

    extra = {"kind": "char-lm", "vocab": vocab.to_dict(), "step": step, "history": _json_floats(history),
             "resume": resume_point}
    return checkpoint_bytes(model, optimizer, epoch=epoch, rng_states={"train_char_lm": rng}, extra=extra)


def read_resume_metadata(resume, config) -> dict:
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
    check_extra(f"train_char_lm: {os.fspath(resume)}", extra, resumable=True)
    if point.get("text_sha256") != config["text_sha256"]:
        raise ValueError(f"train_char_lm: the text differs from the one {os.fspath(resume)} was trained on, so the "
                         "run cannot resume. To fine-tune on a new text, load the model with load_char_lm and pass "
                         "it as model= (with vocab=).")
    diff = {k: (point.get(k), v) for k, v in config.items() if k != "text_sha256" and point.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}={saved!r} (given {given!r})" for k, (saved, given) in diff.items())
        raise ValueError(f"train_char_lm: resume needs the settings the checkpoint was trained with: {listed}.")
    return meta
