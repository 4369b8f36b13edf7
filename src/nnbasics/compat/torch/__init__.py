"""A ``torch``-compatible namespace over nnbasics, for running unmodified PyTorch scripts.

``nnbasics run SCRIPT.py`` resolves ``import torch`` to this package (and ``import torchvision``
to :mod:`nnbasics.compat.torchvision`) inside that process only; see :mod:`nnbasics.compat`.
It can also be imported directly: ``import nnbasics.compat.torch as torch``.

What is here, laid out as in torch: tensors (``torch.Tensor`` is nnbasics' :class:`~nnbasics.Tensor`,
whose constructor is torch's; dtypes are NumPy's; ``torch.device`` is :class:`nnbasics.device`, one ``cpu``), constructors and free functions with torch's signatures,
``torch.nn`` (+ ``functional``, ``init``, ``utils``), ``torch.optim`` (+ ``lr_scheduler``),
``torch.utils.data``, ``torch.autograd`` (``Variable``, ``Function``, ``grad``), ``torch.cuda``
and ``torch.backends`` (absent), the global generator (``manual_seed``), ``save``/``load``
(safetensors) and ``torch.onnx.export``. Any other torch name raises
:class:`~nnbasics.compat.unsupported.UnsupportedTorchAPI` saying what to use instead.

Importing this package does nothing beyond defining names (no seeding, no I/O).
"""

# NOTE: this package is a namespace: every import below is re-exported as torch.<name>.
# ruff: noqa: F401
import builtins

from ...autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ...tensor import Tensor
from ..unsupported import module_getattr
from . import _functions, _random, accelerator, autograd, backends, cuda, nn, onnx, optim, utils
from ._creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from ._dtypes import (
    DTYPES,
    LEGACY_TYPES,
    Size,
    device,
    dtype,
    finfo,
    get_default_dtype,
    iinfo,
    is_floating_point,
    is_tensor,
    set_default_dtype,
    unsupported_dtype_names,
)
from ._functions import inference_mode
from ._random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .autograd import Variable
from .serialization import load, save

globals().update(DTYPES)
globals().update(LEGACY_TYPES)
globals().update(_functions.MIRRORS)
globals().update({name: getattr(_functions, name) for name in _functions.PUBLIC})

__version__ = "2.13.0+nnbasics"

def numel(input) -> int:
    """Number of elements of ``input``."""
    # NOTE: int, float and bool are torch's dtypes in this module; the builtins are reached by name.
    return builtins.int((input if isinstance(input, Tensor) else as_tensor(input)).numel())


def typename(obj) -> str:
    from ._dtypes import legacy_type_name

    return legacy_type_name(obj.dtype) if isinstance(obj, Tensor) else type(obj).__name__


def use_deterministic_algorithms(mode=True, *, warn_only=False) -> None:
    """Accepted: nnbasics is deterministic for a given seed and thread count."""


def are_deterministic_algorithms_enabled() -> bool:
    return True


def set_float32_matmul_precision(precision) -> None:
    """Accepted: matmuls are NumPy's float32 BLAS calls."""


def compile(model=None, **kwargs):
    """``torch.compile``: returns the model unchanged (nnbasics runs eagerly; the results are the same)."""
    if model is None:
        return lambda m: m
    return model


_HINTS = {name: "nnbasics holds bool, integer and float16/32/64 tensors; use torch.float32"
          for name in unsupported_dtype_names()}
_module_getattr = module_getattr(__name__, _HINTS)


def __getattr__(name):
    if name == "default_generator":
        return _random.default_generator()
    return _module_getattr(name)
