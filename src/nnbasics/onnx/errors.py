"""The exceptions and warnings of :mod:`nnbasics.onnx`."""

from __future__ import annotations

__all__ = ["OnnxExportError", "OnnxExportWarning", "UnsupportedModuleError"]


class OnnxExportError(ValueError):
    """The model or the example input cannot be exported as given (the message says why and how to fix it)."""


class UnsupportedModuleError(OnnxExportError, TypeError):
    """A module or op has no ONNX form; the message names it and the line of code that used it.

    Subclasses both ValueError (through :class:`OnnxExportError`) and TypeError, so either
    ``except`` clause catches it.
    """


class OnnxExportWarning(UserWarning):
    """The export succeeded but differs from what was asked: a dim could not stay dynamic, or a
    traced value depends on the input's data (the message says where and what to do)."""
