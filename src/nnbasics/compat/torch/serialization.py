"""``torch.save`` / ``torch.load`` of the compat namespace: safetensors files, never pickle.

``torch.save(obj, f)`` writes a safetensors file. A state dict (``{name: tensor}``) is stored
under its own keys, so the file is also a plain safetensors state dict that
``safetensors.torch.load_file`` and ``nnbasics.io.load_safetensors`` read. Anything else made
of tensors, NumPy arrays, numbers, strings, None, lists, tuples and dicts (a training
checkpoint ``{"epoch": 5, "model_state_dict": ..., "optimizer_state_dict": ...}``) is stored as
its tensors plus a JSON description of the structure in the header's metadata, under
:data:`STRUCTURE_KEY`. Loading rebuilds the structure from that JSON; no code runs.

``torch.load(f)`` reads such files, any safetensors file, and -- as the one exception -- a real
pickled PyTorch file (``.pt``/``.pth`` from ``torch.save`` under PyTorch): that goes through
torch's restricted unpickler (``weights_only=True``), run by a real torch in a separate Python
process (so the compat ``torch`` of this process is not disturbed), and comes back as
safetensors bytes. A whole ``nn.Module`` (``torch.save(model, path)``) is stored as its state dict;
its architecture -- code, which only pickle could put in a file -- is kept in this process, so
``torch.load`` rebuilds the module in the process that saved it (the "save the best model, reload
it at the end" pattern) and refuses, with the state-dict advice, anywhere else. Other objects only
pickle can hold (a custom class) are refused.

Example:
    >>> import io, nnbasics as nb
    >>> buf = io.BytesIO(); save({"epoch": 3, "w": nb.ones(2)}, buf); _ = buf.seek(0)
    >>> ck = load(buf); ck["epoch"], ck["w"].tolist()
    (3, [1.0, 1.0])
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
import uuid
from collections import OrderedDict

import numpy as np

from ...io.safetensors import SafetensorsError, atomic_write_bytes, load_bytes, save_bytes
from ...nn.module import Module
from ...nn.parameter import Parameter
from ...tensor import Tensor, as_tensor
from ..unsupported import UnsupportedTorchAPI
from ._dtypes import check_device

__all__ = ["STRUCTURE_KEY", "add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals",
           "save"]

#: token -> a copy of each whole Module saved by this process (its architecture; weights come from the file).
_TEMPLATES = {}

#: metadata key holding the JSON structure of a saved object.
STRUCTURE_KEY = "nnbasics.torch.save"
_FORMAT = 1
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


class _Encoder:
    """Walk an object; tensors and arrays go to ``self.arrays``, the rest to JSON-able nodes."""

    def __init__(self):
        self.arrays = {}
        self.seen = {}  # id(tensor) -> key (a tensor saved twice is stored once, as torch shares storage)

    def key(self, path):
        k = path or "tensor"
        n = 1
        while k in self.arrays:
            n += 1
            k = f"{path or 'tensor'}.{n}"
        return k

    def tensor(self, value, path, kind):
        if id(value) in self.seen:
            return {kind: self.seen[id(value)]}
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
            raise TypeError(f"torch.save: {path or 'the object'} has dtype {arr.dtype}; only bool, integer and "
                            "float tensors can be saved.")
        k = self.key(path)
        self.arrays[k] = np.array(arr, order="C")
        self.seen[id(value)] = k
        node = {kind: k}
        if isinstance(value, Parameter):
            node["parameter"] = bool(value.requires_grad)
        elif isinstance(value, Tensor) and value.requires_grad:
            node["requires_grad"] = True
        return node

    def encode(self, obj, path=""):
        if isinstance(obj, Tensor):
            return self.tensor(obj, path, "__tensor__")
        if isinstance(obj, np.ndarray):
            return self.tensor(obj, path, "__ndarray__")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            v = float(obj)
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
            return {"__tuple__": items} if isinstance(obj, tuple) else items
        if isinstance(obj, Module):
            return self.module(obj, path)
        if isinstance(obj, dict):
            pairs = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise TypeError(f"torch.save: dict keys must be strings or numbers; {path or 'the dict'} has a "
                                    f"{type(k).__name__} key.")
                pairs.append([k, self.encode(v, f"{path}.{k}" if path else str(k))])
            return {"__dict__": pairs, "ordered": isinstance(obj, OrderedDict)}
        return self.refuse(obj, path)

    def module(self, module, path):
        """A whole Module: its state dict in the file, its architecture kept in this process (see the docstring)."""
        token = uuid.uuid4().hex
        template = copy.deepcopy(module)
        _TEMPLATES[token] = template
        state = {k: self.tensor(v, f"{path}.{k}" if path else k, "__tensor__")
                 for k, v in module.state_dict().items()}
        return {"__module__": type(module).__qualname__, "token": token, "state": [[k, v] for k, v in state.items()]}

    @staticmethod
    def refuse(obj, path):
        where = f" (at {path})" if path else ""
        raise UnsupportedTorchAPI(
            f"torch.save of a {type(obj).__module__}.{type(obj).__qualname__}{where}",
            "nnbasics saves tensors, NumPy arrays, numbers, strings, None, lists, tuples and dicts of them as "
            "safetensors (no pickle); save a state_dict() or plain values", kind="call")


def encode(obj) -> bytes:
    """``obj`` as safetensors bytes (see the module docstring)."""
    # NOTE: a tensor is stored under its path in the object, so a state dict keeps its own keys and the
    # file is a plain state dict for any safetensors reader.
    enc = _Encoder()
    structure = enc.encode(obj)
    meta = {STRUCTURE_KEY: json.dumps({"format": _FORMAT, "object": structure}, separators=(",", ":")),
            "format": "pt"}
    return save_bytes(enc.arrays, meta)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """``torch.save``: write ``obj`` to the path or binary file object ``f`` as safetensors (atomically for a path)."""
    if pickle_module is not None:
        raise UnsupportedTorchAPI("torch.save(pickle_module=...)", "nnbasics never pickles; drop the argument",
                                  kind="call")
    data = encode(obj)
    if hasattr(f, "write"):
        f.write(data)
        return
    atomic_write_bytes(os.fspath(f), data)


class _Decoder:
    def __init__(self, arrays):
        self.arrays = arrays
        self.made = {}

    def tensor(self, node, key_field):
        key = node[key_field]
        if key not in self.arrays:
            raise SafetensorsError(f"the structure names tensor {key!r}, which is not in the file")
        if key_field == "__ndarray__":
            return self.arrays[key]
        if key not in self.made:
            arr = self.arrays[key]
            if "parameter" in node:
                t = Parameter(arr, requires_grad=bool(node["parameter"]))
            else:
                t = as_tensor(arr).requires_grad_(bool(node.get("requires_grad")))
            self.made[key] = t
        return self.made[key]

    def module(self, node):
        template = _TEMPLATES.get(node.get("token"))
        if template is None:
            raise UnsupportedTorchAPI(
                f"torch.load of a whole {node['__module__']} saved by another process",
                "nnbasics never pickles code, so a whole Module can only be rebuilt in the process that saved it; "
                "save model.state_dict() instead and load it into a model you build: model.load_state_dict("
                "torch.load(path))", kind="call")
        module = copy.deepcopy(template)
        module.load_state_dict(OrderedDict((k, self.decode(v)) for k, v in node["state"]))
        return module

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        for key_field in ("__tensor__", "__ndarray__"):
            if key_field in node:
                return self.tensor(node, key_field)
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__module__" in node:
            return self.module(node)
        if "__dict__" in node:
            out = OrderedDict() if node.get("ordered") else {}
            for k, v in node["__dict__"]:
                out[k] = self.decode(v)
            return out
        raise SafetensorsError(f"unknown node in the saved structure: {sorted(node)}")


def decode(data: bytes, source: str = "<bytes>"):
    """Rebuild what :func:`encode` wrote, or any safetensors file (as an OrderedDict of tensors)."""
    arrays, metadata = load_bytes(data, source)
    raw = (metadata or {}).get(STRUCTURE_KEY)
    if raw is None:  # a plain safetensors file, e.g. from safetensors.torch.save_file
        return OrderedDict((k, as_tensor(v)) for k, v in arrays.items())
    try:
        info = json.loads(raw)
        return _Decoder(arrays).decode(info["object"])
    except (ValueError, KeyError, TypeError) as e:
        raise SafetensorsError(f"{source}: the saved structure is damaged ({e}); the file cannot be loaded.") from None


def _read(f, source):
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", source)
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return fh.read(), path


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """``torch.load``: read a file written by :func:`save`, any safetensors file, or a PyTorch ``.pt`` of tensors.

    ``map_location`` may be None, ``"cpu"``, a CPU ``torch.device`` or a function/dict (ignored: every
    tensor is on the CPU). ``weights_only`` is accepted; loading never runs code either way.
    """
    if isinstance(map_location, (str,)) or type(map_location).__name__ == "device":
        check_device(map_location, "torch.load(map_location=...)")
    data, source = _read(f, "<file object>")
    if data[:4] == b"PK\x03\x04" or data[:2] in _PICKLE_MAGIC:
        return _load_pickled(data, source)
    return decode(data, source)


_CONVERT = r"""
import io, json, math, sys
from collections import OrderedDict
import torch
from safetensors.torch import save
obj = torch.load(io.BytesIO(sys.stdin.buffer.read()), map_location="cpu", weights_only=True)
arrays, seen = {}, {}
def enc(o, path):
    if isinstance(o, torch.Tensor):
        if id(o) not in seen:
            k = path or "tensor"
            while k in arrays:
                k += "_"
            arrays[k] = o.detach().contiguous()
            seen[id(o)] = k
        node = {"__tensor__": seen[id(o)]}
        if isinstance(o, torch.nn.Parameter):
            node["parameter"] = bool(o.requires_grad)
        return node
    if o is None or isinstance(o, (bool, str, int)):
        return o
    if isinstance(o, float):
        return o if math.isfinite(o) else {"__float__": repr(o)}
    if isinstance(o, (list, tuple)):
        items = [enc(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(o)]
        return {"__tuple__": items} if isinstance(o, tuple) else items
    if isinstance(o, dict):
        return {"__dict__": [[k, enc(v, f"{path}.{k}" if path else str(k))] for k, v in o.items()],
                "ordered": isinstance(o, OrderedDict)}
    sys.stderr.write("NOT_A_STATE_DICT " + type(o).__name__)
    sys.exit(3)
structure = enc(obj, "")
meta = {"nnbasics.torch.save": json.dumps({"format": 1, "object": structure}), "format": "pt"}
sys.stdout.buffer.write(save(arrays, metadata=meta))
"""


def _reason(stderr: str) -> str:
    """The informative line of torch's refusal (it names the refused global), ANSI colours removed."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln]
    for ln in lines:
        if "Unsupported global" in ln or "Unsupported operand" in ln:
            return ln.rstrip(".")
    return (lines[-1] if lines else "unknown error").rstrip(".")


def _load_pickled(data: bytes, source: str):
    """A PyTorch pickle of tensors, read by real torch's ``weights_only`` unpickler in a child process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    try:
        proc = subprocess.run([sys.executable, "-c", _CONVERT], input=data, capture_output=True, env=env,
                              timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UnsupportedTorchAPI(f"torch.load of the pickled file {source}",
                                  f"reading it needs PyTorch in a helper process, which failed ({e}); convert it "
                                  "to safetensors where PyTorch is installed", kind="call") from None
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 3 and "NOT_A_STATE_DICT" in err:
        raise UnsupportedTorchAPI(f"torch.load of {source}", "the pickle holds a "
                                  f"{err.split('NOT_A_STATE_DICT', 1)[1].strip()}, which only pickle can rebuild; "
                                  "only files of tensors load without pickle (save model.state_dict())", kind="call")
    if proc.returncode != 0:
        reason = "PyTorch is not installed" if "No module named 'torch'" in err else _reason(err)
        raise UnsupportedTorchAPI(f"torch.load of the pickled file {source}",
                                  f"nnbasics reads pickled .pt files only through PyTorch's weights_only loader, "
                                  f"which failed: {reason}. Re-save it with torch.save(model.state_dict(), path) "
                                  "under nnbasics, or convert it to safetensors", kind="call")
    return decode(proc.stdout, source)


_SAFE_GLOBALS: list = []


def add_safe_globals(safe_globals) -> None:
    """Accepted and remembered: loading never unpickles here, so there is nothing to allow."""
    _SAFE_GLOBALS.extend(safe_globals)


def get_safe_globals() -> list:
    return list(_SAFE_GLOBALS)


def clear_safe_globals() -> None:
    _SAFE_GLOBALS.clear()


class safe_globals:
    """``with torch.serialization.safe_globals([...]):``: accepted; loading never unpickles here."""

    def __init__(self, safe_globals):
        self.globals = list(safe_globals)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
