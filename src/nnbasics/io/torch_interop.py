"""PyTorch interop: weights both ways (state dicts and safetensors files), and the twin torch module.

nnbasics layers already use PyTorch's state-dict keys and layouts (``0.weight`` of a
``Sequential``, ``weight_ih_l0_reverse`` of an LSTM, ``num_batches_tracked`` of a batch
norm...), so moving weights is a matter of converting arrays and checking that they fit:

* export: :func:`to_torch_state_dict` (name -> ndarray, float32 weights, int64
  ``num_batches_tracked``) and :func:`save_torch_safetensors`, a plain safetensors file with
  the torch keys and nothing else, which ``safetensors.torch.load_file`` +
  ``torch_model.load_state_dict(..., strict=True)`` reads;
* import: :func:`load_torch_state_dict` (torch tensors or NumPy arrays; torch itself is never
  imported for NumPy input), :func:`load_safetensors` (a file from
  ``safetensors.torch.save_file`` or :func:`save_torch_safetensors`) and
  :func:`load_torch_file` (a ``torch.save`` file, read with ``torch.load(weights_only=True)``,
  so no pickled code runs; needs torch);
* :func:`to_torch`: the equivalent ``torch.nn`` module, weights copied, same train/eval mode.

Every mismatch raises :class:`TorchInteropError` naming the key, both shapes or dtypes, and
what to do. Loading never runs code from a file.

Example:
    >>> import os, tempfile
    >>> import nnbasics.nn as nn
    >>> from nnbasics.io import save_torch_safetensors, load_safetensors
    >>> net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=0))
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> _ = save_torch_safetensors(net, path)
    >>> twin = nn.Sequential(nn.Linear(3, 4, rng=1), nn.ReLU(), nn.Linear(4, 2, rng=1))
    >>> _ = load_safetensors(twin, path)
    >>> bool((twin[2].bias == net[2].bias).all())
    True
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict

import numpy as np

from ..nn.module import IncompatibleKeys, Module, StateDictError
from ..tensor import Tensor
from .safetensors import load_file, save_file

__all__ = [
    "TorchInteropError",
    "load_safetensors",
    "load_torch_file",
    "load_torch_state_dict",
    "save_torch_safetensors",
    "to_torch",
    "to_torch_state_dict",
]

# prefixes that wrappers add to every key: DataParallel/DDP and torch.compile
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


class TorchInteropError(StateDictError):
    """Weights do not fit a model (missing/unexpected keys, shapes, dtypes), or a module has no torch twin.

    A ValueError and a RuntimeError (as :class:`~nnbasics.nn.module.StateDictError`).
    """


def _check_model(model, what):
    if not isinstance(model, Module):
        raise TypeError(f"{what}: expected an nnbasics Module as the model. Got {type(model).__name__}.")


# ------------------------------------------------------------------ export
def to_torch_state_dict(model) -> OrderedDict:
    """The model's weights as PyTorch expects them: torch key -> NumPy array (a copy).

    Keys and layouts are the model's own state-dict keys, which are PyTorch's. Arrays are
    C-contiguous copies in the model's dtypes: float32 weights (float64 if the model was
    converted with ``.double()``) and int64 0-d ``num_batches_tracked``, as torch stores them.
    Tied weights appear under every name, as in ``torch.nn.Module.state_dict``.

    Args:
        model: an nnbasics Module.

    Returns:
        OrderedDict[str, np.ndarray], in PyTorch's key order.

    Example:
        >>> import nnbasics.nn as nn
        >>> {k: v.dtype.name for k, v in to_torch_state_dict(nn.BatchNorm1d(3)).items()}
        {'weight': 'float32', 'bias': 'float32', 'running_mean': 'float32', 'running_var': 'float32', \
'num_batches_tracked': 'int64'}
    """
    _check_model(model, "to_torch_state_dict")
    return OrderedDict((k, np.array(v._array, order="C", copy=True)) for k, v in model.state_dict().items())


def save_torch_safetensors(model, path, *, metadata: dict | None = None) -> str:
    """Write the model's weights to a plain safetensors file with PyTorch's keys, atomically.

    The file holds the state dict and nothing else (no nesting, no optimizer state), so in
    PyTorch ``model.load_state_dict(safetensors.torch.load_file(path), strict=True)`` loads it
    into the equivalent ``torch.nn`` module (see :func:`to_torch`).

    Args:
        model: an nnbasics Module.
        path: destination file (its directory must exist); ``.safetensors`` by convention.
        metadata: optional str -> str pairs for the header; ``"format": "pt"`` is added
            (what ``transformers`` and ``safetensors.torch`` write) unless given.

    Returns:
        str: the path written.
    """
    _check_model(model, "save_torch_safetensors")
    meta = {"format": "pt"}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"save_torch_safetensors: metadata must be a dict of str -> str. Got {type(metadata).__name__}.")
        meta.update(metadata)
    path = os.fspath(path)
    save_file(dict(to_torch_state_dict(model)), path, metadata=meta)
    return path


# ------------------------------------------------------------------ import
def _as_numpy(value, key, what):
    """A state-dict value as an ndarray: Tensor, ndarray, NumPy scalar or torch tensor (duck-typed, no import)."""
    if isinstance(value, Tensor):
        return value._array
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):  # a torch tensor
        dt = str(getattr(value, "dtype", ""))
        try:
            t = value.detach().cpu()
            if dt in ("torch.bfloat16", "torch.float8_e4m3fn", "torch.float8_e5m2"):  # NumPy has no such dtype
                t = t.float()
            return t.numpy()
        except Exception as e:  # noqa: BLE001 - torch raises NotImplementedError, RuntimeError, TypeError...
            layout = getattr(value, "layout", "")
            raise TorchInteropError(
                f"{what}: cannot read the torch tensor for {key!r} ({dt}, {layout}, device "
                f"{getattr(value, 'device', '?')}) as NumPy values: {type(e).__name__}: {str(e)[:200]}. Save dense "
                "CPU tensors: torch_model.to('cpu') (a sparse one with .to_dense())."
            ) from None
    if isinstance(value, dict):
        raise TypeError(
            f"{what}: the value for {key!r} is a dict, not an array: this looks like a checkpoint that nests the "
            f"state dict. Pass the inner dict instead (e.g. ckpt[{key!r}])."
        )
    raise TypeError(
        f"{what}: the value for {key!r} is a {type(value).__name__}; expected a torch tensor or a NumPy array."
    )


def _hint_prefix(keys, own):
    for p in _WRAPPER_PREFIXES:
        if keys and all(k.startswith(p) for k in keys) and any(k[len(p):] in own for k in keys):
            return (f" Every key starts with {p!r} (added by DataParallel/DistributedDataParallel or "
                    f"torch.compile): strip it, e.g. {{k.removeprefix({p!r}): v for k, v in sd.items()}}.")
    return ""


def _check_dtype(key, arr, target, what):
    kind, tkind = arr.dtype.kind, target.dtype.kind
    if kind not in "biuf":
        return f"{key!r}: dtype {arr.dtype} is not numeric (the model holds {target.dtype})"
    if tkind == "f" and kind == "b":
        return f"{key!r}: a bool array for a {target.dtype} weight; convert it to float first"
    if tkind in "iu" and kind == "f" and not np.array_equal(arr, np.round(arr)):
        return (f"{key!r}: float values for the integer buffer ({target.dtype}) that are not whole numbers; "
                "save it as int64 as torch does")
    return None


def load_torch_state_dict(model, state_dict, *, strict: bool = True):
    """Copy a PyTorch state dict (torch tensors or NumPy arrays) into an nnbasics model, in place.

    Values are converted with ``.detach().cpu().numpy()`` (bfloat16 via float32) when they are
    torch tensors; torch is not imported otherwise. Each value is cast to the dtype of the
    parameter or buffer it fills (float64 weights into a float32 model become float32, as
    ``torch.nn.Module.load_state_dict`` does). Everything is checked before anything is
    copied: on an error the model is unchanged.

    Args:
        model: the nnbasics model, built with the same architecture and sizes as the source.
        state_dict: mapping key -> torch tensor / ndarray / nnbasics Tensor, e.g.
            ``torch_model.state_dict()`` or ``safetensors.torch.load_file(path)``.
        strict: require the keys to match exactly (missing and unexpected keys are errors).
            Shapes and dtypes must always fit.

    Returns:
        IncompatibleKeys(missing_keys, unexpected_keys), both empty when ``strict``.

    Raises:
        TypeError: ``state_dict`` is not a mapping or a value is not an array.
        TorchInteropError: listing every missing or unexpected key, every shape mismatch
            (key, the file's shape and the model's) and every unusable dtype, with what to do.
    """
    what = "load_torch_state_dict"
    _check_model(model, what)
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(
            f"{what}: expected a mapping of torch keys to tensors (torch_model.state_dict() or "
            f"safetensors.torch.load_file(path)). Got {type(state_dict).__name__}."
        )
    own = model.state_dict()
    keys = list(state_dict.keys())
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{what}: keys must be strings. Got {bad[:3]!r}.")
    meta = [k for k in keys if getattr(state_dict[k], "is_meta", False) is True]
    if meta:  # NOTE: torch raises a bare NotImplementedError when asked for their values
        raise TorchInteropError(
            f"{what}: {len(meta)} tensor(s) are on the 'meta' device, with a shape but no values: "
            f"{', '.join(map(repr, meta[:5]))}{' ...' if len(meta) > 5 else ''}. The model was built without "
            "weights (device='meta', or loaded with assign=True from such a model); materialize them first "
            "(torch_model.to_empty(device='cpu') then initialize or load real weights) and save again."
        )
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in keys if k not in own]
    arrays, problems = OrderedDict(), []
    for k, target in own.items():
        if k not in state_dict:
            continue
        arr = _as_numpy(state_dict[k], k, what)
        if arr.shape != target.shape:
            problems.append(f"{k!r}: the state dict has shape {arr.shape}, the model {tuple(target.shape)}")
            continue
        msg = _check_dtype(k, arr, target, what)
        if msg:
            problems.append(msg)
            continue
        arrays[k] = arr
    if problems or (strict and (missing or unexpected)):
        lines = [f"{what}: the state dict does not fit {type(model).__name__}:"]
        if strict and missing:
            lines.append(f"  missing keys ({len(missing)}): " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(map(repr, unexpected)))
        lines += ["  " + p for p in problems]
        hint = _hint_prefix(keys, own)
        lines.append(
            "Build the nnbasics model with the same layers and sizes as the source model (layer order gives the "
            "numbers in keys like '3.weight'); strict=False skips missing and unexpected keys, not shapes."
            + hint
        )
        raise TorchInteropError("\n".join(lines))
    model.load_state_dict(arrays, strict=False)  # checked above; copies all or nothing
    return IncompatibleKeys(missing, unexpected)


def load_safetensors(model, path, *, strict: bool = True):
    """Load a safetensors file of PyTorch weights into an nnbasics model (never runs code from the file).

    Reads files written by ``safetensors.torch.save_file(torch_model.state_dict(), path)`` or
    :func:`save_torch_safetensors`. The header is validated first (a truncated or foreign file
    raises :class:`~nnbasics.io.safetensors.SafetensorsError` naming the file). An nnbasics
    training checkpoint also loads: its optimizer arrays (keys ``optimizer/state/...``, which
    no state-dict key can contain) are skipped.

    Args:
        model: the nnbasics model, built with the source's architecture and sizes.
        path: the ``.safetensors`` file.
        strict: as in :func:`load_torch_state_dict`.

    Returns:
        IncompatibleKeys(missing_keys, unexpected_keys).
    """
    _check_model(model, "load_safetensors")
    path = os.fspath(path)
    arrays, metadata = load_file(path)
    if _is_checkpoint(metadata):
        arrays = {k: v for k, v in arrays.items() if "/" not in k}
    try:
        return load_torch_state_dict(model, arrays, strict=strict)
    except TorchInteropError as e:
        raise TorchInteropError(f"{path}: {e}") from None


def _is_checkpoint(metadata) -> bool:
    raw = metadata.get("nnbasics")
    if raw is None:
        return False
    try:
        return json.loads(raw).get("format") == "nnbasics.checkpoint"
    except (ValueError, AttributeError):
        return False


def load_torch_file(model, path, *, strict: bool = True):
    """Load a ``torch.save`` file (``.pt``/``.pth``) of weights into an nnbasics model. Requires torch.

    The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``: torch's
    restricted unpickler, which loads tensors and plain containers and refuses anything that
    would run code. Prefer safetensors files (:func:`load_safetensors`), which need no torch
    and no unpickler at all.

    Args:
        model: the nnbasics model.
        path: the file; it must hold a state dict, or a dict with the state dict under
            ``"state_dict"`` or ``"model_state_dict"`` (the usual training-checkpoint layouts).
        strict: as in :func:`load_torch_state_dict`.

    Raises:
        ImportError: torch is not installed.
        TorchInteropError: the file is not loadable with ``weights_only=True``, or holds no state dict.
    """
    _check_model(model, "load_torch_file")
    try:
        import torch
    except ImportError:
        raise ImportError(
            "load_torch_file needs torch to read a pickled .pt file (pip install torch). Without torch, convert "
            "the file to safetensors where torch is installed and use nnbasics.io.load_safetensors."
        ) from None
    path = os.fspath(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - the unpickler's refusals and corrupt files alike
        raise TorchInteropError(
            f"{path}: torch.load(weights_only=True) refused or could not read the file: {type(e).__name__}: "
            f"{_reason(e)}. Only files of tensors and plain containers load (no code runs); re-save the weights "
            "with torch.save(model.state_dict(), path), or as safetensors."
        ) from None
    if isinstance(obj, dict):
        for inner in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(inner), dict):
                obj = obj[inner]
                break
    if not isinstance(obj, dict):
        raise TorchInteropError(f"{path}: holds a {type(obj).__name__}, not a state dict; save model.state_dict().")
    try:
        return load_torch_state_dict(model, obj, strict=strict)
    except TorchInteropError as e:
        raise TorchInteropError(f"{path}: {e}") from None


def _reason(e) -> str:
    """The informative line of torch's unpickling error (it names the refused global), ANSI colours removed."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in str(e).splitlines()]
    lines = [ln for ln in lines if ln]
    for ln in lines:
        if "Unsupported" in ln or "global" in ln.lower():
            return ln
    return lines[0] if lines else "no detail"


# ------------------------------------------------------------------ the torch twin
def to_torch(model):
    """Build the equivalent ``torch.nn`` module, with the weights copied and the same train/eval mode.

    Supported: Sequential, ModuleList, Linear, Identity, Conv1d, Conv2d, MaxPool2d, AvgPool2d,
    AdaptiveAvgPool2d, GlobalAvgPool2d (as ``AdaptiveAvgPool2d(1)`` [+ ``Flatten``]), BatchNorm1d/2d,
    LayerNorm, Dropout, Dropout2d, AlphaDropout, Embedding, RNN, LSTM, GRU (any layers,
    directions, ``batch_first``), Flatten, Unflatten, the activations torch has (ReLU, Tanh,
    Sigmoid, LeakyReLU, PReLU, ELU, SELU, CELU, GELU, SiLU, Mish, Softplus, Softsign, Hardtanh,
    ReLU6, Hardsigmoid, Softmax, LogSoftmax) and the zoo's CharRNN (char-lstm/-gru/-rnn), whose
    twin returns ``(logits, state)`` too. Dropout masks are drawn by torch's own generator.

    Args:
        model: an nnbasics Module made of the layers above.

    Returns:
        torch.nn.Module, float32 (float64 for a float64 model) on the CPU.

    Raises:
        ImportError: torch is not installed.
        TorchInteropError: a layer has no torch twin (the message names it and its path).

    Example (needs torch):
        >>> import nnbasics.nn as nn
        >>> tm = to_torch(nn.Sequential(nn.Linear(3, 2, rng=0), nn.Tanh()))  # doctest: +SKIP
        >>> tm  # doctest: +SKIP
        Sequential(
          (0): Linear(in_features=3, out_features=2, bias=True)
          (1): Tanh()
        )
    """
    _check_model(model, "to_torch")
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch needs torch (pip install torch).") from None
    from .torch_twin import build_twin

    twin = build_twin(model, torch, TorchInteropError)  # modules in the same train/eval mode
    floats = {v.dtype for v in model.state_dict().values() if v.dtype.kind == "f"}
    if floats == {np.dtype(np.float64)}:
        twin = twin.double()
    sd = {k: torch.from_numpy(v) for k, v in to_torch_state_dict(model).items()}
    twin.load_state_dict(sd, strict=True)
    return twin
