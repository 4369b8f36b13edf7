"""The errors the data package raises for bad or missing files.

Every parser in :mod:`nnbasics.data` turns a malformed file into a
:class:`DatasetError` that names the file and the problem; no NumPy reshape or
unpickling traceback reaches the user.
"""

from __future__ import annotations

__all__ = ["ChecksumError", "DatasetError", "DatasetNotFoundError"]


class DatasetError(ValueError):
    """A data file is missing, truncated, corrupt or not in the expected format.

    Subclass of ValueError, so ``except ValueError`` also catches it.
    """


class DatasetNotFoundError(DatasetError):
    """A dataset's files are not on this machine and could not be downloaded.

    The message lists every place that was searched and how to get the files.
    """


class ChecksumError(DatasetError):
    """A downloaded file's SHA-256 (or MD5) does not match the published value."""
