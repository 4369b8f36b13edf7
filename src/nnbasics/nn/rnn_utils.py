"""Helpers for recurrent nets: padding variable-length batches, masks, the last valid step, cutting state.

``pad_sequence`` follows ``torch.nn.utils.rnn.pad_sequence``. The rest have no exact torch
twin (torch packs sequences instead); they are the small pieces that many-to-one models
and truncated BPTT need:

* :func:`lengths_to_mask` -- ``True`` at the valid steps of a right-padded batch;
* :func:`last_step` -- the output at each sequence's last valid step (many-to-one);
* :func:`masked_mean` -- the mean output over each sequence's valid steps;
* :func:`mask_targets` -- per-step targets with the padded steps set to ``ignore_index``, so
  ``cross_entropy`` skips them (many-to-many losses on padded batches);
* :func:`detach_state` -- cut the graph between BPTT chunks, keeping the state's values.

A unidirectional RNN run over a right-padded batch computes the valid steps exactly as if
each sequence ran alone (padding comes after them), so ``last_step`` and ``masked_mean``
give padding-independent results. For per-step losses, set padded targets to
``ignore_index`` (-100) with :func:`mask_targets`: ``cross_entropy`` then averages over the
valid steps only, and padded steps get no gradient -- that is the masking in the loss.

Example:
    >>> import nnbasics as nb
    >>> batch = pad_sequence([nb.ones(3, 2), nb.ones(1, 2)], batch_first=True)
    >>> batch.shape
    (2, 3, 2)
    >>> lengths_to_mask([3, 1]).tolist()
    [[True, True, True], [True, False, False]]
"""

from __future__ import annotations

import numpy as np

from .. import ops
from .._validate import is_int
from ..tensor import Tensor, as_tensor

__all__ = ["detach_state", "last_step", "lengths_to_mask", "mask_targets", "masked_mean", "pad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths into one padded tensor (differentiable).

    Args:
        sequences: a list of tensors (or arrays) of shape ``(L_i, *)``; ``*`` must agree.
        batch_first: output ``(B, T, *)`` instead of ``(T, B, *)``.
        padding_value: the value of the padded positions.
        padding_side: ``"right"`` (pad after each sequence, the default) or ``"left"``.

    Shape:
        ``(L_i, *)`` each -> ``(T, B, *)`` or ``(B, T, *)`` with ``T = max L_i``.

    Returns:
        Tensor: gradients flow back to every sequence that requires grad.

    Example:
        >>> import nnbasics as nb
        >>> pad_sequence([nb.tensor([1, 2, 3]), nb.tensor([4])], batch_first=True).tolist()
        [[1, 2, 3], [4, 0, 0]]
    """
    if isinstance(sequences, Tensor) or not isinstance(sequences, (list, tuple)):
        raise TypeError(f"pad_sequence: expected a list of tensors. Got {type(sequences).__name__}.")
    if not sequences:
        raise ValueError("pad_sequence: the list of sequences is empty.")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left'. Got {padding_side!r}.")
    seqs = [as_tensor(s) for s in sequences]
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: every sequence needs shape (L_i, *) with the same trailing shape; sequence 0 has "
                f"{tuple(seqs[0].shape)}, sequence {i} has {tuple(s.shape)}."
            )
    t = max(s.shape[0] for s in seqs)
    rest = ((0, 0),) * len(trailing)
    padded = []
    for s in seqs:
        n = t - s.shape[0]
        if n == 0:
            padded.append(s)
        else:
            width = ((0, n),) if padding_side == "right" else ((n, 0),)
            padded.append(ops.pad(s, width + rest, value=padding_value))
    return ops.stack(padded, dim=0 if batch_first else 1)


def _lengths(lengths, owner, batch=None, max_len=None) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{owner}: lengths must be a 1-D sequence of ints, one per batch entry. "
                         f"Got shape {arr.shape}, dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if batch is not None and arr.shape[0] != batch:
        raise ValueError(f"{owner}: got {arr.shape[0]} lengths for a batch of {batch}; give one length per sequence.")
    if arr.size and arr.min() < 1:
        raise ValueError(f"{owner}: every length must be >= 1. Got {arr.tolist()}.")
    if max_len is not None and arr.size and arr.max() > max_len:
        raise ValueError(f"{owner}: a length of {int(arr.max())} exceeds the {max_len} time steps of the batch.")
    return arr


def lengths_to_mask(lengths, max_len: int | None = None) -> Tensor:
    """A boolean ``(B, T)`` mask, ``True`` at the valid (unpadded) steps of a right-padded batch.

    Args:
        lengths: ``(B,)`` ints >= 1.
        max_len: T (default ``max(lengths)``).

    Returns:
        Tensor: bool, ``mask[b, t] = t < lengths[b]``. Transpose it for time-first data.
    """
    if max_len is not None and (not is_int(max_len) or max_len < 1):
        raise ValueError(f"lengths_to_mask: max_len must be a positive int. Got {max_len!r}.")
    arr = _lengths(lengths, "lengths_to_mask", max_len=max_len)
    t = int(arr.max()) if max_len is None else int(max_len)
    return as_tensor(np.arange(t)[None, :] < arr[:, None])


def _time_batch_axes(output, batch_first, owner):
    if not isinstance(output, Tensor):
        raise TypeError(f"{owner}: output must be a Tensor. Got {type(output).__name__}.")
    if output.ndim < 2:
        raise ValueError(f"{owner}: output must be (T, B, *) or, with batch_first=True, (B, T, *). "
                         f"Got shape {tuple(output.shape)}.")
    return (1, 0) if batch_first else (0, 1)


def last_step(output, lengths, batch_first: bool = False) -> Tensor:
    """The output at each sequence's last valid step: ``out[b] = output[lengths[b] - 1, b]``.

    Use it for many-to-one models on right-padded batches (differentiable: the gradient
    reaches only the selected steps).

    Args:
        output: ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``), e.g. an RNN's output.
        lengths: ``(B,)`` valid lengths, each in [1, T].
        batch_first: the layout of ``output``.

    Returns:
        Tensor: ``(B, *)``.

    Example:
        >>> import nnbasics as nb
        >>> out = nb.arange(6).reshape(3, 2)  # (T=3, B=2)
        >>> last_step(out, [3, 1]).tolist()
        [4, 1]
    """
    t_ax, b_ax = _time_batch_axes(output, batch_first, "last_step")
    batch, steps = output.shape[b_ax], output.shape[t_ax]
    idx = _lengths(lengths, "last_step", batch=batch, max_len=steps) - 1
    if isinstance(lengths, Tensor):
        idx = lengths - 1  # the same values, computed by an op: an ONNX export reads them from the input
    rows = np.arange(batch)
    return output[rows, idx] if batch_first else output[idx, rows]


def masked_mean(output, lengths, batch_first: bool = False) -> Tensor:
    """The mean of ``output`` over each sequence's valid steps (padding excluded).

    Args:
        output: ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``).
        lengths: ``(B,)`` valid lengths, each in [1, T].

    Returns:
        Tensor: ``(B, *)``.
    """
    t_ax, b_ax = _time_batch_axes(output, batch_first, "masked_mean")
    batch, steps = output.shape[b_ax], output.shape[t_ax]
    arr = _lengths(lengths, "masked_mean", batch=batch, max_len=steps)
    # ops on a lengths Tensor (not on its values): an ONNX export then reads them from the input
    lens = lengths.long() if isinstance(lengths, Tensor) else as_tensor(arr)
    mask = ops.compare(as_tensor(np.arange(steps)).reshape(1, steps), lens.reshape(batch, 1), "lt")  # (B, T)
    mask = mask.astype(output.dtype)
    if not batch_first:
        mask = mask.transpose(0, 1)  # (T, B)
    mask = mask.reshape(mask.shape + (1,) * (output.ndim - 2))
    denom = lens.astype(output.dtype).reshape((batch,) + (1,) * (output.ndim - 2))
    return (output * mask).sum(dim=t_ax) / denom


def mask_targets(targets, lengths, batch_first: bool = False, ignore_index: int = -100) -> Tensor:
    """Per-step class targets of a right-padded batch with every padded step set to ``ignore_index``.

    ``cross_entropy(logits.reshape(-1, C), mask_targets(y, lengths).reshape(-1))`` is then the
    mean loss over the valid steps only (padded steps add nothing and get no gradient),
    whatever value the padding had.

    Args:
        targets: ``(T, B)`` (or ``(B, T)`` with ``batch_first``) integer class ids.
        lengths: ``(B,)`` valid lengths, each in [1, T].
        batch_first: the layout of ``targets``.
        ignore_index: the label ``cross_entropy`` skips (its default, -100).

    Returns:
        Tensor: int64, same shape, a copy.

    Example:
        >>> mask_targets([[1, 2, 0], [3, 0, 0]], [2, 1], batch_first=True).tolist()
        [[1, 2, -100], [3, -100, -100]]
    """
    y = np.asarray(targets)
    if y.ndim != 2 or (y.size and y.dtype.kind not in "iu"):
        raise ValueError(f"mask_targets: targets must be (T, B) (or (B, T) with batch_first=True) integer class "
                         f"ids. Got shape {y.shape}, dtype {y.dtype}.")
    if not is_int(ignore_index):
        raise TypeError(f"mask_targets: ignore_index must be an int. Got {ignore_index!r}.")
    t_ax, b_ax = (1, 0) if batch_first else (0, 1)
    arr = _lengths(lengths, "mask_targets", batch=y.shape[b_ax], max_len=y.shape[t_ax])
    valid = np.arange(y.shape[t_ax])[None, :] < arr[:, None]  # (B, T)
    if not batch_first:
        valid = valid.T
    return as_tensor(np.where(valid, y, int(ignore_index)).astype(np.int64))


def detach_state(state):
    """Cut the graph behind a recurrent state, keeping its values (truncated BPTT).

    Args:
        state: a Tensor, None, or a (nested) tuple/list of them, e.g. ``h`` or ``(h, c)``.

    Returns:
        the same structure, each Tensor replaced by ``t.detach()``.

    Example:
        >>> import nnbasics as nb
        >>> h = nb.ones(2, requires_grad=True) * 2
        >>> detach_state((h, None))[0].requires_grad
        False
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, None or a tuple/list of them. Got {type(state).__name__}.")
