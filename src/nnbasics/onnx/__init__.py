"""ONNX export: ``nnbasics.onnx.export(model, example_input, path)``.

Writes an nnbasics model as an ONNX file that onnxruntime (or any ONNX runtime) can run:
Sequential MLPs and CNNs, recurrent layers (RNN, LSTM, GRU) and the zoo's recurrent models.
Needs the optional ``onnx`` package (``pip install nnbasics[onnx]``), imported only when
:func:`export` runs: importing this package imports nothing but nnbasics.

Example:
    >>> import nnbasics as nb, nnbasics.nn as nn, nnbasics.onnx, tempfile, os
    >>> net = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Softmax(dim=-1))
    >>> _ = nnbasics.onnx.export(net, nb.randn(4, 3, rng=0), os.path.join(tempfile.mkdtemp(), "m.onnx"))
"""

from .converters import register_converter, supported_types
from .errors import OnnxExportError, UnsupportedModuleError
from .exporter import DEFAULT_OPSET, MIN_OPSET, export

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "OnnxExportError", "UnsupportedModuleError", "export",
           "register_converter", "supported_types"]
