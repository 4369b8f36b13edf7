"""ONNX export: ``nnbasics.onnx.export(model, example_input, path)``, by tracing the forward pass.

Writes any nnbasics model -- a Sequential, the zoo's models, or a Module with its own
``forward`` -- as an ONNX file that onnxruntime (or any ONNX runtime) can run. The forward is
traced on the example input; every primitive op becomes ONNX nodes (see docs/onnx.md for
the table). :func:`torch_export` takes ``torch.onnx.export``'s arguments. Needs the optional
``onnx`` package (``pip install nnbasics[onnx]``), imported only when an export runs:
importing this package imports nothing but nnbasics.

Example:
    >>> import nnbasics as nb, nnbasics.nn as nn, nnbasics.onnx, tempfile, os
    >>> net = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Softmax(dim=-1))
    >>> _ = nnbasics.onnx.export(net, nb.randn(4, 3, rng=0), os.path.join(tempfile.mkdtemp(), "m.onnx"))
"""

from .converters import register_converter, supported_types
from .errors import OnnxExportError, OnnxExportWarning, UnsupportedModuleError
from .exporter import DEFAULT_OPSET, MIN_OPSET, export
from .torch_api import ONNXProgram, torch_export

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "ONNXProgram", "OnnxExportError", "OnnxExportWarning", "UnsupportedModuleError",
           "export", "register_converter", "supported_types", "torch_export"]
