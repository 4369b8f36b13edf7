"""``Module.summary``: a table of a model's layers, their output shapes and parameter counts."""

from __future__ import annotations

import numbers

from ..autograd import no_grad
from ..backend import xp
from ..tensor import Tensor, as_tensor

__all__ = ["format_shapes", "summary"]


def summary(module, input_shape, *, dtype=None, print_fn=print) -> str:
    """The table of :meth:`Module.summary <nnbasics.nn.Module.summary>` for ``module`` (see there)."""
    shapes = [input_shape] if all(isinstance(d, numbers.Integral) for d in input_shape) else list(input_shape)
    if dtype is None:
        first = next(module.parameters(), None)
        dtype = first.dtype if first is not None else xp.float32
    inputs = [as_tensor(xp.zeros(tuple(s), dtype=dtype)) for s in shapes]
    rows = _record_rows(module, inputs)
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    header = ("Layer (type)", "Output Shape", "Param #")
    w0 = max([len(header[0])] + [len(r[0]) for r in rows]) + 2
    w1 = max([len(header[1])] + [len(r[1]) for r in rows]) + 2
    w2 = max([len(header[2])] + [len(f"{r[2]:,}") for r in rows])
    width = w0 + w1 + w2
    lines = [f"{type(module).__name__} summary, input {format_shapes(inputs)}", "-" * width,
             f"{header[0]:<{w0}}{header[1]:<{w1}}{header[2]:>{w2}}", "=" * width]
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2},}" for a, b, c in rows]
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "-" * width]
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text


def _record_rows(module, inputs) -> list:
    """``[(name (type), output shape, own parameters)]`` of the leaf modules and those with parameters of their own,
    in call order: one forward pass under ``no_grad`` in eval mode (every module's mode restored)."""
    rows, handles = [], []
    names = {id(m): n for n, m in module.named_modules()}
    for m in module.modules():
        own = sum(p.numel() for p in m._parameters.values() if p is not None)
        if own or not any(True for _ in m.children()):

            def record(mod, args, out, own=own):
                name = names.get(id(mod)) or "(root)"
                rows.append((f"{name} ({type(mod).__name__})", format_shapes(out), own))

            handles.append(m.register_forward_hook(record))
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        with no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return rows


def format_shapes(out) -> str:
    """``(2, 3)``, ``[(2, 3), (2,)]``...: the shapes of a module's output, for the summary table."""
    if isinstance(out, Tensor):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):
        return "[" + ", ".join(format_shapes(o) for o in out) + "]"
    return type(out).__name__
