"""One batch through the model before any work: a shape mistake becomes one message naming the layer.

A model that does not fit its data (a spec whose first ``in_features`` is wrong, a CNN given
2-D points) fails in its first forward pass, deep inside a layer. :func:`check_fits` runs that
pass on the first batch in eval mode under ``no_grad`` (no dropout draw, no batch-norm update:
nothing about the model or its random streams changes) and, if a layer raises, reports which
layer, the shape it was given and the shape it expects, and the data's sample shape.
"""

from __future__ import annotations

import numbers

from ._options import UsageError

__all__ = ["check_fits", "describe_shape"]


def describe_shape(shape) -> str:
    """``(32, 2)`` -> ``"(32, 2)"``; a tuple of shapes (several inputs) -> ``"(32, 2) and (32,)"``."""
    if all(isinstance(d, numbers.Integral) for d in shape):
        return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    return " and ".join(describe_shape(s) for s in shape)


def _shapes(args) -> tuple:
    out = [tuple(a.shape) for a in args if hasattr(a, "shape")]
    return out[0] if len(out) == 1 else tuple(out)


def check_fits(model, X, y=None, *, loss="cross_entropy", what="the data", fix="", labels=None):
    """Run ``model`` on ``X`` (one batch; and ``loss`` against ``y`` if given); raise UsageError on a mismatch.

    Args:
        model: the Module.
        X: one batch of inputs ``(N, *sample shape)`` (array).
        y: the batch's targets, or None to check the forward pass only.
        loss: the training loss name (checked against the outputs and ``y``).
        what: how the message names the data (``"spiral (train)"``).
        fix: a hint appended to the message (e.g. which flag or spec key to change).
        labels: all the training labels (default ``y``): the outputs must score their largest class.

    Raises:
        UsageError: "the model does not fit DATA: layer '0' (Linear) was given (32, 2) -- Linear(3, 8)
            expected input of shape (*, 3) ...".
    """
    import numpy as np

    from ..autograd import no_grad
    from ..tensor import Tensor, as_tensor
    from ..training.fit import resolve_loss

    names = {id(m): n for n, m in model.named_modules()}
    stack, handles = [], []

    def enter(module, args):
        stack.append((module, _shapes(args)))

    def leave(module, args, out):
        if stack and stack[-1][0] is module:
            stack.pop()

    for m in model.modules():
        handles.append(m.register_forward_pre_hook(enter))
        handles.append(m.register_forward_hook(leave))
    modes = [(m, m.training) for m in model.modules()]
    sample = describe_shape(X.shape[1:])
    try:
        model.eval()
        with no_grad():
            out = model(as_tensor(np.asarray(X)))
            if y is not None and loss is not None:
                stack.clear()
                _check_loss(out, y, y if labels is None else labels, loss, resolve_loss, Tensor)
    except (ValueError, TypeError, IndexError) as e:
        if stack:
            module, given = stack[-1]
            name = names.get(id(module)) or "(the model)"
            where = f"layer {name!r} ({type(module).__name__}) was given {describe_shape(given)}: {e}"
        else:
            where = f"the loss: {e}"
        hint = f" {fix}" if fix else ""
        raise UsageError(f"the model does not fit {what} (one sample: {sample}): {where}{hint}") from None
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)


def _check_loss(out, y, labels, loss, resolve_loss, Tensor):
    """The loss of the outputs against the targets (raises what the training loop would)."""
    import numpy as np

    from ..tensor import as_tensor

    labels = np.asarray(labels)
    if hasattr(out, "shape") and len(out.shape) == 2 and labels.dtype.kind in "iu":
        n_out, top = int(out.shape[1]), int(labels.max()) if labels.size else 0
        if n_out > 1 and top >= n_out:
            raise ValueError(f"the model scores {n_out} classes but the labels go up to {top}; its last layer "
                             f"needs {top + 1} outputs")
    resolve_loss(loss)(out, as_tensor(np.asarray(y)))
