"""``torch.onnx``: ``export`` writes an nnbasics model as ONNX through :mod:`nnbasics.onnx`.

The onnx engineer's exporter takes torch's arguments (``input_names``, ``output_names``,
``dynamic_axes``, ``opset_version``...); this module passes the call straight through, so its
checks and messages are the exporter's.
"""

from ...unsupported import module_getattr

__all__ = ["export"]


def export(model, args, f=None, *positional, **kwargs):
    """``torch.onnx.export(model, args, f, ...)``: see :func:`nnbasics.onnx.export`."""
    from .... import onnx as _onnx

    torch_export = getattr(_onnx, "export_torch", None) or _onnx.export
    return torch_export(model, args, f, *positional, **kwargs)


__getattr__ = module_getattr(__name__)
