"""The exceptions of :mod:`nnbasics.onnx`."""

from __future__ import annotations

__all__ = ["OnnxExportError", "UnsupportedModuleError"]


class OnnxExportError(ValueError):
    """The model or the example input cannot be exported as given (the message says why and how to fix it)."""


class UnsupportedModuleError(OnnxExportError, TypeError):
    """A module type has no ONNX converter; the message names it and lists the supported types.

    Subclasses both ValueError (through :class:`OnnxExportError`) and TypeError, so either
    ``except`` clause catches it.
    """
