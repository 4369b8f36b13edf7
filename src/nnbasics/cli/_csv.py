"""Reading the numbers of a CSV file (or of standard input) for ``nnbasics predict``.

Files as spreadsheets and scripts write them are accepted: a header row (skipped, with a note),
quoted numbers, a UTF-8 byte-order mark (Excel's "CSV UTF-8"), Windows line ends, blank lines.
Anything else is one message that says what the file must look like.
"""

from __future__ import annotations

import csv
import sys

from ._options import UsageError

__all__ = ["read_csv_rows"]

_FORMAT = "one sample per line, its numbers separated by commas (a header row is allowed)"


def _numbers(fields):
    """The fields as floats, or None when one is not a number."""
    try:
        return [float(f.strip()) for f in fields]
    except ValueError:
        return None


def _text(path) -> tuple[str, str]:
    """(text, name) of ``path``; ``-`` is standard input."""
    if str(path) == "-":
        data, name = sys.stdin.buffer.read(), "standard input"
    else:
        try:
            data, name = path.read_bytes(), str(path)
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text; save it as CSV (UTF-8) with {_FORMAT}.") from None


def read_csv_rows(path):
    """The numbers of a CSV file as a float64 array ``(rows, columns)``.

    Args:
        path: a :class:`~pathlib.Path`, or ``"-"`` for standard input.
    """
    import numpy as np

    text, name = _text(path)
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    lines = [line for _, line in numbered]
    if not lines:
        raise UsageError(f"{name} holds no rows; give {_FORMAT}.")
    first = next(csv.reader(lines[:1]))
    if _numbers(first) is None and len(lines) > 1:
        print(f"note: skipped the first row of {name} as a header ({', '.join(first)[:80]}).", file=sys.stderr)
        lines, numbered = lines[1:], numbered[1:]
    try:
        return np.loadtxt(lines, delimiter=",", quotechar='"', dtype=np.float64, ndmin=2)
    except ValueError:
        _explain(numbered, name)
        raise UsageError(f"cannot read {name}; give {_FORMAT}.") from None


def _explain(numbered, name) -> None:
    """Raise the UsageError that names the first line (of ``(line number, text)``) NumPy could not read."""
    width = None
    for (i, _), row in zip(numbered, csv.reader(line for _, line in numbered)):
        nums = _numbers(row)
        if nums is None:
            hint = " (the values are separated by ';': use ',')" if any(";" in f for f in row) else ""
            bad = next(f for f in row if _numbers([f]) is None)
            raise UsageError(f"{name}: line {i} holds {bad.strip()!r}, which is not a number{hint}; give {_FORMAT}.")
        if width is not None and len(nums) != width:
            raise UsageError(f"{name}: line {i} has {len(nums)} values, the lines above {width}; give {_FORMAT}.")
        width = len(nums)
