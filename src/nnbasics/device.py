"""Devices: nnbasics computes on the CPU only, and says so clearly when asked for a GPU.

:class:`device` mirrors ``torch.device`` (``device('cpu')``, ``device('cuda:0')``, ``.type``,
``.index``, equality), so code written for PyTorch can name devices. Making a
``device('cuda')`` object is fine (PyTorch allows it on machines without a GPU too); moving
a tensor or module to it raises :class:`DeviceError`: nnbasics runs on NumPy, which has no
GPU arrays. (The array namespace is chosen in :mod:`nnbasics.backend`, the one place where a
GPU backend such as CuPy would be plugged in.)

Example:
    >>> import nnbasics as nb
    >>> nb.zeros(2).to("cpu").device
    device(type='cpu')
    >>> device("cuda:1").index
    1
"""

from __future__ import annotations

__all__ = ["DeviceError", "check_device", "device", "is_device_spec"]

#: Device types PyTorch knows; all but "cpu" are refused with a clear message.
_KNOWN = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "mkldnn", "opengl", "opencl", "ideep",
          "vulkan", "ve", "fpga", "ort", "lazy", "hpu", "mtia", "privateuseone")


class DeviceError(RuntimeError):
    """A tensor or module was asked to live on a device other than the CPU."""


class device:
    """A device name, as ``torch.device``: ``device('cpu')``, ``device('cuda', 0)``, ``device('cuda:0')``.

    Args:
        type: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ... or another :class:`device`.
        index: the device ordinal (``None`` when not given).
    """

    __slots__ = ("index", "type")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string like 'cpu' or 'cuda:0'; got {type!r}.")
        name, _, idx = type.partition(":")
        if name not in _KNOWN:
            raise RuntimeError(f"Expected one of {', '.join(_KNOWN[:4])}, ... device type at start of device "
                               f"string: {type}")
        if idx:
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        self.type, self.index = name, index

    def __eq__(self, other):  # as torch: a device equals a device, never a string
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def is_device_spec(obj) -> bool:
    """True for a :class:`device`, or a string naming one (``'cpu'``, ``'cuda:0'``)."""
    if isinstance(obj, device):
        return True
    if isinstance(obj, str):
        return obj.partition(":")[0] in _KNOWN
    return False


def check_device(dev) -> None:
    """Accept ``None`` and the CPU; refuse any other device with a message that says why and what to do.

    Raises:
        DeviceError: for ``'cuda'``, ``'mps'``, ... (no GPU backend).
    """
    if dev is None:
        return
    if isinstance(dev, int) and not isinstance(dev, bool):  # torch reads an int as a CUDA ordinal
        dev = device("cuda", dev)
    d = device(dev)
    if d.type != "cpu":
        raise DeviceError(
            f"device '{d}': nnbasics has no GPU backend; it computes with NumPy on the CPU, and NumPy "
            f"arrays live in main memory only. Use device='cpu' (or leave device out); code that picks "
            f"'cuda' if torch.cuda.is_available() else 'cpu' already gets the CPU under nnbasics."
        )
