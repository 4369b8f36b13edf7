"""What ``nnbasics run`` says when a script reaches a part of torch that nnbasics does not have.

Every such stop raises an :class:`UnsupportedTorchAPI` that names the torch API (``torch.fft.rfft``,
``torch.Tensor.cuda``...) and what to use instead; the runner adds the script's file and line
and exits with status 2. The subclasses keep Python's protocols working: a missing attribute is
an :class:`AttributeError` (so ``hasattr(torch.backends, "mps")`` and ``getattr(x, "y", None)``
behave), a missing module an :class:`ImportError` (so ``try: import torchtext except ImportError``
falls back as it would without the package), and a call nnbasics cannot honour (``.cuda()``,
a ``device="cuda"`` argument) a :class:`RuntimeError`, as torch raises without CUDA.

Example:
    >>> e = UnsupportedTorchAPI("torch.fft.rfft", "use numpy.fft.rfft on x.numpy()")
    >>> str(e)
    'torch.fft.rfft is not supported by nnbasics: use numpy.fft.rfft on x.numpy()'
"""

from __future__ import annotations

import functools
import json
import os

__all__ = [
    "HINTS",
    "NO_GPU",
    "UnsupportedTorchAPI",
    "is_torch_name",
    "missing_module_hint",
    "module_getattr",
    "placeholder_class",
    "public_name",
    "torch_api",
    "unsupported",
    "unsupported_call",
]

#: The answer for anything that needs a GPU.
NO_GPU = ("nnbasics computes on the CPU with NumPy and has no CUDA/MPS backend; drop .cuda()/.to('cuda') "
          "or keep the usual `device = 'cuda' if torch.cuda.is_available() else 'cpu'` (it picks 'cpu')")

#: Default advice when nothing more specific is known.
DEFAULT_HINT = ("nnbasics runs the beginner subset of PyTorch listed in docs/pytorch.md; write this step with "
                "the nnbasics API or NumPy (x.numpy()), or run the script under PyTorch")

#: Prefix of a torch API -> what to use instead (the longest matching prefix wins).
HINTS = {
    "torch.cuda": NO_GPU,
    "torch.accelerator": NO_GPU,
    "torch.mps": NO_GPU,
    "torch.xpu": NO_GPU,
    "torch.backends.cudnn": NO_GPU,
    "torch.backends.mps": NO_GPU,
    "torch.Tensor.cuda": NO_GPU,
    "torch.Tensor.pin_memory": "pinned memory is a CUDA transfer optimization; drop pin_memory() on the CPU",
    "torch.distributed": "nnbasics trains in one process; for several processes use nnbasics.training with a "
                         "Dask/Ray executor (docs/training.md)",
    "torch.multiprocessing": "nnbasics trains in one process; drop torch.multiprocessing (use num_workers=0)",
    "torch.jit": "TorchScript compiles torch graphs; nnbasics runs eager code only: call the module directly",
    "torch.compile": "torch.compile is a torch compiler; nnbasics runs eager code: call the model directly",
    "torch.fx": "graph tracing is torch-internal; nnbasics.onnx.export traces nnbasics models for ONNX",
    "torch.fft": "use numpy.fft on x.numpy() (no autograd through it)",
    "torch.linalg": "use numpy.linalg on x.numpy() (no autograd through it)",
    "torch.sparse": "nnbasics tensors are dense NumPy arrays; use a dense tensor",
    "torch.quantization": "nnbasics computes in float32/float64 only",
    "torch.ao": "nnbasics computes in float32/float64 only",
    "torch.amp": "mixed precision needs a GPU; nnbasics trains in float32",
    "torch.cuda.amp": "mixed precision needs a GPU; nnbasics trains in float32",
    "torch.hub": "nnbasics has no model hub; build the model with nnbasics.models or torch.nn layers",
    "torch.distributions": "sample with NumPy (np.random.default_rng) or nnbasics.randn/rand",
    "torch.utils.tensorboard": "nnbasics writes training history with nnbasics.training (History, callbacks); "
                               "print or plot the numbers instead",
    "torch.utils.checkpoint": "activation checkpointing is a memory optimization; call the module directly",
    "torchvision.models": "torchvision.models has the ResNet family (weights=None) here, and nnbasics.models its "
                          "own zoo (lenet5, lab-cnn, mlp...); pretrained torchvision weights are not available",
    "torchvision.io": "read images with PIL or matplotlib.image and convert with transforms.ToTensor()",
    "torchvision.ops": "detection ops (nms, roi_align) are not part of nnbasics",
    "torchtext": "nnbasics.data.text has character vocabularies and text loaders",
    "torchaudio": "nnbasics has no audio pipeline; load audio with another library into NumPy arrays",
}


class UnsupportedTorchAPI(Exception):
    """A torch API that nnbasics does not provide.

    Args:
        api: its public name (``torch.Tensor.cuda``).
        hint: what to use instead; default: the best match in :data:`HINTS`.
        kind: ``"attribute"``, ``"module"`` or ``"call"`` (for the message only).

    Attributes:
        api, hint, kind: as given.
    """

    def __init__(self, api: str, hint: str | None = None, kind: str = "attribute"):
        self.api = api
        self.hint = hint or best_hint(api)
        self.kind = kind
        super().__init__(f"{api} is not supported by nnbasics: {self.hint}")

    def __new__(cls, api="", hint=None, kind="attribute"):
        concrete = cls
        if cls is UnsupportedTorchAPI:
            concrete = {"module": _UnsupportedModule, "call": _UnsupportedCall}.get(kind, _UnsupportedAttribute)
        return Exception.__new__(concrete)

    def __reduce__(self):
        return (UnsupportedTorchAPI, (self.api, self.hint, self.kind))


class _UnsupportedAttribute(UnsupportedTorchAPI, AttributeError):
    """A missing attribute: ``hasattr`` answers False and ``getattr(obj, name, default)`` gives the default."""


class _UnsupportedModule(UnsupportedTorchAPI, ImportError):
    """A missing module: ``except ImportError`` fallbacks work."""


class _UnsupportedCall(UnsupportedTorchAPI, RuntimeError):
    """A call nnbasics cannot honour (``.cuda()``), a RuntimeError as torch raises without CUDA."""


def best_hint(api: str) -> str:
    """The :data:`HINTS` entry with the longest prefix of ``api`` (at a dot), else :data:`DEFAULT_HINT`."""
    best, best_len = DEFAULT_HINT, -1
    for prefix, hint in HINTS.items():
        if (api == prefix or api.startswith(prefix + ".")) and len(prefix) > best_len:
            best, best_len = hint, len(prefix)
    return best


def public_name(module_name: str) -> str:
    """``nnbasics.compat.torch.nn.functional`` -> ``torch.nn.functional``."""
    prefix = "nnbasics.compat."
    return module_name.removeprefix(prefix)


def missing_module_hint(fullname: str) -> str:
    return best_hint(fullname)


def unsupported(api: str, hint: str | None = None) -> UnsupportedTorchAPI:
    """An attribute-style :class:`UnsupportedTorchAPI` (raise it)."""
    return UnsupportedTorchAPI(api, hint, kind="attribute")


def unsupported_call(api: str, hint: str | None = None) -> UnsupportedTorchAPI:
    """A call-style :class:`UnsupportedTorchAPI` (a RuntimeError; raise it)."""
    return UnsupportedTorchAPI(api, hint, kind="call")


@functools.lru_cache(maxsize=1)
def torch_api() -> dict:
    """The public names of real torch 2.13 / torchvision 0.28 (``torch_api.json``, see bench/torch_api_names.py)."""
    path = os.path.join(os.path.dirname(__file__), "torch_api.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {"modules": {k: frozenset(v) for k, v in data["modules"].items()},
            "classes": {k: frozenset(v) for k, v in data["classes"].items()}}


def is_torch_name(owner: str, name: str) -> bool | None:
    """Whether real torch has ``owner.name`` (owner a module like ``torch.nn`` or a class like ``torch.Tensor``).

    Returns None when ``owner`` is not in the list (unknown either way).
    """
    api = torch_api()
    names = api["modules"].get(owner, api["classes"].get(owner))
    return None if names is None else name in names


def placeholder_class(api: str, base, hint: str | None = None):
    """A stand-in for a torch class nnbasics lacks: it can be named and subclassed, and raises when built.

    Real torch has the class, so a script may reference it without using it (``class
    TransformerModel(nn.Transformer)`` in a file that trains an LSTM); the class statement must
    then work, and only constructing one stops the script, at that line.

    Args:
        api: the torch name (``torch.nn.Transformer``).
        base: the nnbasics class it derives from (``nnbasics.nn.Module``), for ``isinstance`` checks.
        hint: what to use instead.
    """
    def __init__(self, *args, **kwargs):
        raise UnsupportedTorchAPI(api, hint or best_hint(api), kind="call")

    module, _, name = api.rpartition(".")
    return type(name, (base,), {"__init__": __init__, "__module__": module, "__qualname__": name,
                                "__doc__": f"{api}: not provided by nnbasics (building one raises)."})


def module_getattr(module_name: str, hints: dict | None = None, placeholder_base=None):
    """A module-level ``__getattr__``: torch's names nnbasics lacks raise :class:`UnsupportedTorchAPI`.

    A name real torch has too (``torch.fft``) is "not supported by nnbasics" with advice; a name
    torch does not have either (``torch.zeross``, a typo) gets the plain AttributeError torch would
    raise. Dunder names always get a plain AttributeError (the import system probes ``__path__``).

    With ``placeholder_base`` (``torch.nn``), a capitalized torch name (a class) gives a
    :func:`placeholder_class` instead, which raises only when built.

    Args:
        module_name: the compat module's ``__name__``.
        hints: ``{attribute: advice}`` specific to this module.
        placeholder_base: the base class of placeholders, or None for no placeholders.
    """
    public = public_name(module_name)
    hints = dict(hints or {})
    made = {}

    def __getattr__(name):
        if (name.startswith("__") and name.endswith("__")) or \
                (name not in hints and is_torch_name(public, name) is False):
            raise AttributeError(f"module {public!r} has no attribute {name!r}")
        if placeholder_base is not None and name[:1].isupper() and is_torch_name(public, name):
            if name not in made:
                made[name] = placeholder_class(f"{public}.{name}", placeholder_base, hints.get(name))
            return made[name]
        raise UnsupportedTorchAPI(f"{public}.{name}", hints.get(name), kind="attribute")

    return __getattr__
