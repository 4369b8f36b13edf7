"""``nnbasics run SCRIPT.py [ARGS...]``: run an unmodified PyTorch script on nnbasics.

The script runs in this process as ``python SCRIPT.py ARGS...`` would run it: ``__name__`` is
``"__main__"``, ``__file__`` its path, ``sys.argv`` ``[SCRIPT.py, ARGS...]``, ``sys.path[0]`` its
folder (so its own modules import), relative paths resolve from the current directory. Only
``import torch`` / ``import torchvision`` differ: :mod:`.finder` serves them from
:mod:`nnbasics.compat`. A Jupyter notebook (``.ipynb``) runs its code cells in order, with
IPython magics (``%matplotlib inline``, ``!pip ...``) skipped.

How it ends (:func:`run_script` returns the exit status):

* the script finishes -> 0 (or its ``sys.exit`` code);
* it reaches a torch API nnbasics does not have -> one message naming the API, the script's
  file and line, and what to use instead; status 2;
* a data set it asks for is not on this machine -> the loader's message (where it looked, how
  to get the files) at the script's line; status 2;
* the script itself raises (a bug in it, a shape mismatch nnbasics caught) -> the traceback as
  Python prints it, with nnbasics' own frames left out; status 1;
* Ctrl-C -> "interrupted" and status 130.
"""

from __future__ import annotations

import importlib
import linecache
import os
import re
import sys
import traceback
import types
from pathlib import Path

from . import finder as _finder
from .unsupported import NO_GPU, UnsupportedTorchAPI, best_hint, is_torch_name, public_name

__all__ = ["ScriptError", "diagnose", "run_script", "script_source"]

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # .../nnbasics
_IMPORTLIB_DIR = str(Path(importlib.__file__).resolve().parent)  # the import machinery: never the user's code
_HIDDEN_PREFIXES = ("<frozen importlib", "<frozen runpy")
_ECOSYSTEM = {"torchtext", "torchaudio", "torchdata", "lightning", "pytorch_lightning", "torchmetrics", "timm",
              "torch_geometric", "transformers", "accelerate", "functorch", "torchsummary", "torchinfo"}


class ScriptError(Exception):
    """A problem with the command line itself (no such script, unreadable notebook): exit 2."""


# ------------------------------------------------------------------ source
def script_source(path: str) -> str:
    """The Python source of ``path``: the file, or a notebook's code cells joined (magics commented out)."""
    p = Path(path)
    if not p.is_file():
        raise ScriptError(f"{path}: no such file. Give the path of a Python script (or .ipynb notebook).")
    if p.suffix == ".ipynb":
        from .notebook import notebook_source

        return notebook_source(p)
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScriptError(f"{path}: not a UTF-8 text file; nnbasics run takes a Python script.") from None


# --------------------------------------------------------------- frames
def _is_internal(filename: str) -> bool:
    if filename.startswith(_HIDDEN_PREFIXES):
        return True
    try:
        real = os.path.realpath(filename)
    except (TypeError, ValueError):
        return False
    return real.startswith((_PACKAGE_DIR + os.sep, _IMPORTLIB_DIR + os.sep))


def _filter_stack(te: traceback.TracebackException, seen=None) -> None:
    """Drop nnbasics' own frames from ``te`` and its chained exceptions (in place)."""
    seen = set() if seen is None else seen
    if id(te) in seen:
        return
    seen.add(id(te))
    frames = list(te.stack)
    kept = [f for f in frames if not _is_internal(f.filename)]
    te.nnbasics_inside = bool(frames) and _is_internal(frames[-1].filename) and bool(kept)
    te.stack = traceback.StackSummary.from_list(kept)
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _filter_stack(chained, seen)


def _user_frame(tb):
    """The innermost traceback frame that is not nnbasics' own (the script line that called it)."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        if not _is_internal(frame.f_code.co_filename):
            found = (frame.f_code.co_filename, lineno, frame.f_code.co_name)
    return found


def _where(tb) -> str:
    loc = _user_frame(tb)
    if loc is None:
        return ""
    filename, lineno, name = loc
    line = linecache.getline(filename, lineno).strip()
    return f'  File "{filename}", line {lineno}, in {name}\n' + (f"    {line}\n" if line else "")


# ----------------------------------------------------------- diagnosis
_FROM_IMPORT = re.compile(r"^cannot import name '(?P<name>\w+)' from '(?P<module>nnbasics\.compat\.[\w.]+)'")
_KWARG = re.compile(r"^(?P<func>[\w.<>]+)\(\) got an unexpected keyword argument '(?P<arg>\w+)'")


def _nnbasics_qualnames() -> dict:
    """``{qualname: public name}`` of the functions and classes the compat torch namespace serves."""
    names = {}
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("nnbasics.") or mod is None:
            continue
        public = mod_name.replace("nnbasics.compat.", "")
        for attr, obj in list(vars(mod).items()):
            if attr.startswith("_") or not callable(obj):
                continue
            qual = getattr(obj, "__qualname__", None)
            if qual:
                names.setdefault(qual, f"{public}.{attr}" if "compat" in mod_name else attr)
                if isinstance(obj, type):
                    names.setdefault(f"{qual}.__init__", f"{public}.{attr}" if "compat" in mod_name else attr)
    return names


def diagnose(exc: BaseException) -> UnsupportedTorchAPI | None:
    """An :class:`UnsupportedTorchAPI` describing ``exc`` when it is nnbasics lacking a torch feature, else None.

    Recognised: the exception itself; an AttributeError for a torch.Tensor / nn.Module / Optimizer
    attribute that real torch has; a TypeError for a keyword argument that an nnbasics function or
    class does not take; ``import`` of a torch-ecosystem package (torchtext...).
    """
    if isinstance(exc, UnsupportedTorchAPI):
        return exc
    from ..device import DeviceError

    if isinstance(exc, DeviceError):
        m = re.match(r"device '([^']+)'", str(exc))
        return UnsupportedTorchAPI(f"the device '{m.group(1) if m else 'cuda'}'", NO_GPU, kind="call")
    if isinstance(exc, AttributeError) and getattr(exc, "obj", None) is not None and exc.name:
        return _diagnose_attribute(exc.obj, exc.name)
    if isinstance(exc, ModuleNotFoundError) and exc.name and exc.name.split(".")[0] in _ECOSYSTEM:
        return UnsupportedTorchAPI(exc.name, kind="module")
    if isinstance(exc, ImportError):
        m = _FROM_IMPORT.match(str(exc))  # `from torch import fft`: Python's message names our module
        if m and is_torch_name(public_name(m.group("module")), m.group("name")):
            return UnsupportedTorchAPI(f"{public_name(m.group('module'))}.{m.group('name')}", kind="module")
    if isinstance(exc, TypeError):
        m = _KWARG.match(str(exc))
        if m:
            public = _nnbasics_qualnames().get(m.group("func"))
            if public is not None:
                return UnsupportedTorchAPI(f"{public}(..., {m.group('arg')}=...)",
                                           f"nnbasics' {m.group('func').removesuffix('.__init__')} does not take "
                                           f"the argument {m.group('arg')!r}; drop it or see docs/pytorch.md",
                                           kind="call")
    return None


#: attributes of torch's autograd graph nodes (``loss.grad_fn.next_functions``) that nnbasics' ops lack.
_NODE_ATTRIBUTES = {"metadata", "register_hook", "register_prehook", "saved_tensors", "register_forward_pre_hook"}


def _diagnose_attribute(obj, name):
    from ..autograd import Function
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer
    from ..tensor import Tensor

    if isinstance(obj, Function) and name in _NODE_ATTRIBUTES:
        return UnsupportedTorchAPI(f"torch.autograd.graph.Node.{name}", "nnbasics' graph nodes are its ops "
                                   "(print(loss.grad_fn) names one); walking the graph is not exposed")

    for cls, owner in ((Tensor, "torch.Tensor"), (Module, "torch.nn.Module"), (Optimizer, "torch.optim.Optimizer")):
        if isinstance(obj, cls):
            if is_torch_name(owner, name):
                api = f"{owner}.{name}"
                return UnsupportedTorchAPI(api, best_hint(api))
            return None
    return None


# ------------------------------------------------------------------ run
def _print_unsupported(err: UnsupportedTorchAPI, tb, stream) -> None:
    stream.write(f"nnbasics run: {err.api} is not supported by nnbasics.\n")
    stream.write(_where(tb))
    stream.write(f"Instead: {err.hint}.\n")


def _public_message(exc):
    """``exc`` with nnbasics' module names turned into torch's (``from torch import zeross`` names ``torch``)."""
    text = str(exc)
    if "nnbasics.compat." not in text:
        return exc
    clean = re.sub(r" \(/[^)]*\)$", "", re.sub(r"nnbasics\.compat\.", "", text))
    try:
        new = type(exc)(clean)
    except Exception:  # noqa: BLE001 - an exception type with another constructor keeps its message
        return exc
    new.__traceback__, new.__cause__, new.__context__ = exc.__traceback__, exc.__cause__, exc.__context__
    new.__suppress_context__ = exc.__suppress_context__
    return new


def _print_traceback(exc, stream) -> None:
    exc = _public_message(exc)
    te = traceback.TracebackException.from_exception(exc)
    _filter_stack(te)
    text = "".join(te.format())
    if getattr(te, "nnbasics_inside", False):
        text = text.rstrip("\n") + "\n(raised inside nnbasics by the call on the last line shown above)\n"
    stream.write(text)


def _is_data_error(exc) -> bool:
    from ..data.errors import DatasetNotFoundError

    return isinstance(exc, DatasetNotFoundError)


def run_script(path: str, args=(), *, xray=None) -> int:
    """Run the script at ``path`` with ``args`` on nnbasics; return the exit status (see the module docstring).

    Args:
        path: the script (``.py``) or notebook (``.ipynb``).
        args: its command-line arguments (``sys.argv[1:]`` inside it).
        xray: an :class:`nnbasics.compat.xray.XRay` to attach (``nnbasics run --xray``), or None.
    """
    source = script_source(path)
    filename = os.fspath(path)
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as e:
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        return 1
    main_module = types.ModuleType("__main__")
    main_module.__dict__.update({"__file__": filename, "__builtins__": __builtins__, "__spec__": None,
                                 "__loader__": None, "__package__": None, "__cached__": None})
    saved = (sys.argv, list(sys.path), sys.modules.get("__main__"))
    sys.argv = [filename, *[str(a) for a in args]]
    sys.path.insert(0, os.path.dirname(os.path.abspath(filename)))
    sys.modules["__main__"] = main_module
    hook = _finder.install()
    try:
        if xray is not None:
            xray.start()
        return _execute(code, main_module.__dict__, xray)
    finally:
        _finder.uninstall(hook)
        sys.argv, sys.path[:] = saved[0], saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


def _execute(code, globals_, xray) -> int:
    status, error = 0, None
    try:
        exec(code, globals_)  # noqa: S102 - running the user's script is the point
    except SystemExit as e:
        status = _exit_status(e)
    except KeyboardInterrupt:
        sys.stderr.write("\nnbasics run: interrupted (Ctrl-C).\n")
        status, error = 130, "interrupted (Ctrl-C)"
    except BaseException as e:  # noqa: BLE001 - every script failure is reported, then mapped to a status
        status, error = _report(e)
    if xray is not None:
        xray.finish(status, error)
    return status


def _report(e):
    tb = e.__traceback__
    sys.stdout.flush()
    unsupported = diagnose(e)
    if unsupported is not None:
        _print_unsupported(unsupported, tb, sys.stderr)
        return 2, f"{unsupported.api} is not supported by nnbasics"
    if _is_data_error(e):
        sys.stderr.write(f"nnbasics run: a data set the script asks for is not here.\n{_where(tb)}{e}\n")
        return 2, str(e).splitlines()[0]
    _print_traceback(e, sys.stderr)
    return 1, f"{type(e).__name__}: {e}"


def _exit_status(e: SystemExit) -> int:
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1
