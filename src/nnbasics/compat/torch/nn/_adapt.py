"""Thin subclasses that give nnbasics layers torch's constructor: the global generator, ``device=``, ``inplace=``.

nnbasics' layers take torch's arguments plus an explicit ``rng``; torch's draw their initial weights
(and dropout masks) from the global generator and accept ``device=`` and, for activations and
dropout, ``inplace=``. :func:`adapt` makes ``torch.nn.X``: a subclass of ``nnbasics.nn.X`` with the
same name whose ``__init__``

* passes ``rng=`` the global generator (:mod:`..._random`, seeded by ``torch.manual_seed``) unless
  the caller gave one;
* accepts ``device=`` and ``dtype=`` also positionally after the layer's own arguments, as torch's
  ``(..., device=None, dtype=None)`` signatures allow;
* accepts ``device=`` (None or CPU; a GPU raises the no-GPU message) and, where torch has it but
  the nnbasics class does not, ``inplace=`` (positionally too, e.g. ``nn.ReLU(True)``), computing
  out of place then: ``y = relu(x)`` gives torch's ``y`` and the input ``x`` is left as it was.

Nothing else changes: parameters, state-dict keys, forward and repr are nnbasics', and the
instances are ``nnbasics.nn.X`` instances for diagnostics, ONNX export and the lab.

Example:
    >>> import nnbasics.nn as nbnn
    >>> ReLU = adapt(nbnn.ReLU, inplace_at=0)
    >>> m = ReLU(True)
    >>> isinstance(m, nbnn.ReLU), type(m).__name__
    (True, 'ReLU')
"""

from __future__ import annotations

import functools
import inspect

from .. import _random
from .._dtypes import check_device, resolve_dtype

__all__ = ["adapt"]


def adapt(cls, *, inplace_at=None, public=None, mixin=None):
    """A ``torch.nn`` flavour of the nnbasics layer ``cls``.

    Args:
        cls: an ``nnbasics.nn`` Module class.
        inplace_at: position of torch's ``inplace`` argument among the positional arguments
            (``nn.LeakyReLU(0.2, True)``: 1), or None when torch's class has none.
        public: the public name for messages (default ``torch.nn.<name>``).
        mixin: a class put before ``cls`` in the bases (e.g. :class:`.packed_rnn.PackedInput`).

    Returns:
        the subclass (same ``__name__``, ``__qualname__`` and docstring).
    """
    params = inspect.signature(cls.__init__).parameters
    n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params.values()) - 1  # self
    takes_rng = "rng" in params
    takes_dtype = "dtype" in params
    if "inplace" in params:  # nnbasics' own class has torch's inplace: nothing to adapt
        inplace_at = None
    api = public or f"torch.nn.{cls.__name__}"
    base_init = cls.__init__

    @functools.wraps(base_init)
    def __init__(self, *args, device=None, **kwargs):
        if takes_dtype and 0 < len(args) - n_positional <= 2:
            # NOTE: torch's factory modules end their positional parameters with (device, dtype):
            # a subclass may pass them on as super().__init__(in_f, out_f, bias, device, dtype)
            extra, args = args[n_positional:], args[:n_positional]
            device = extra[0] if device is None else device
            if len(extra) == 2 and kwargs.get("dtype") is None:
                kwargs["dtype"] = extra[1]
        check_device(device, api)
        if inplace_at is not None:
            if len(args) > inplace_at:
                args = args[:inplace_at] + args[inplace_at + 1:]
            kwargs.pop("inplace", None)
        if takes_rng and kwargs.get("rng") is None:
            kwargs["rng"] = _random.generator()
        if takes_dtype and kwargs.get("dtype") is not None:
            kwargs["dtype"] = resolve_dtype(kwargs["dtype"], api)
        base_init(self, *args, **kwargs)

    attrs = {"__init__": __init__, "__doc__": cls.__doc__, "__module__": "torch.nn",
             "__qualname__": cls.__qualname__, "_nnbasics_class": cls}
    return type(cls.__name__, (mixin, cls) if mixin is not None else (cls,), attrs)
