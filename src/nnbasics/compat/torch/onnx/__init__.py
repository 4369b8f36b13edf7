"""``torch.onnx``: ``export`` writes an nnbasics model as ONNX through :mod:`nnbasics.onnx`.

``export`` is :func:`nnbasics.onnx.torch_export`: ``torch.onnx.export``'s signature and semantics
(``input_names``, ``output_names``, ``dynamic_axes``/``dynamic_shapes``, ``opset_version``, ``dynamo``
returning a program with ``save``...), so its checks and messages are the exporter's.
``TrainingMode`` is torch's enum of export modes (only EVAL, and PRESERVE of a model in eval mode,
are supported).
"""

import enum

from ...unsupported import module_getattr

__all__ = ["TrainingMode", "export"]


class TrainingMode(enum.IntEnum):
    """torch.onnx.TrainingMode."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def export(model, args=(), f=None, *positional, **kwargs):
    """``torch.onnx.export(model, args, f, ...)``: see :func:`nnbasics.onnx.torch_export`."""
    from .... import onnx as _onnx

    return _onnx.torch_export(model, args, f, *positional, **kwargs)


__getattr__ = module_getattr(__name__)
