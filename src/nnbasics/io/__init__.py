"""File formats: safetensors (validated, atomic); PyTorch interop and ONNX export to come."""

from .safetensors import *
from .torch_interop import *
