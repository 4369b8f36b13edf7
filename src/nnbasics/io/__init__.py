"""File formats: safetensors, PyTorch interop, ONNX (being written)."""
