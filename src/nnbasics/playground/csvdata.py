"""The user's own data: a CSV table of numeric features and one label column, parsed as text only.

:func:`parse_csv` never evaluates anything: cells go through Python's :mod:`csv` reader and
``float()``; nothing is imported, unpickled or executed. Limits keep a hostile or mistaken
upload from tying up the machine: :data:`MAX_BYTES` of text, :data:`MAX_ROWS` rows,
:data:`MAX_FEATURES` feature columns, :data:`MAX_CLASSES` classes.

Rules:

* the first row is a header (column names) when all its cells are text, or one is text where
  the second row has a number;
* the label column is the one named ``label``, else ``class``, ``target`` or ``y`` (in this order,
  case-insensitive), else the last column;
* "row N" in a message is the N-th non-blank line of the file (the header is row 1);
* features must be finite numbers in every row (no empty cells, NaN or Inf);
* labels that are all whole numbers or text make a classification task (text labels are
  numbered in sorted order); other numbers make a regression task.

Every problem raises :class:`CsvError` with one message naming the row and column and saying
what to fix.

Example:
    >>> t = parse_csv("x1,x2,label\\n" + "0,0,a\\n0,1,b\\n1,0,b\\n1,1,a\\n" * 3)
    >>> t.X.shape, t.task, t.class_names, t.feature_names
    ((12, 2), 'classification', ['a', 'b'], ['x1', 'x2'])
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MAX_BYTES", "MAX_CLASSES", "MAX_FEATURES", "MAX_ROWS", "MIN_ROWS", "CsvError", "CsvTable", "parse_csv"]

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
MAX_FEATURES = 64
MAX_CLASSES = 20
MIN_ROWS = 10
_LABEL_NAMES = ("label", "class", "target", "y")
_MAX_CELL = 100  # characters; a longer cell is not a number we accept


class CsvError(ValueError):
    """An upload that cannot be used; the message says where and what to change."""


@dataclass
class CsvTable:
    """A parsed upload.

    Attributes:
        X: float32 ``(N, d)`` features.
        y: int64 ``(N,)`` class ids, or float32 ``(N, 1)`` regression targets.
        task: ``"classification"`` or ``"regression"``.
        feature_names, label_name: column names (``x1``... and ``label`` without a header).
        class_names: the label of each class id (classification), else [].
        name: the uploaded file's name.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list
    label_name: str
    class_names: list = field(default_factory=list)
    name: str = "data.csv"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _rows(text: str):
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise CsvError(f"the file is larger than {MAX_BYTES // 1024 // 1024} MB; upload at most {MAX_ROWS:,} rows "
                       f"of at most {MAX_FEATURES} features (a sample of your data).")
    if "\x00" in text:
        raise CsvError("the file contains NUL bytes: it is not a text CSV file. Export it as CSV (comma-separated "
                       "values) and upload that.")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    rows = []
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue  # blank line
            if len(rows) > MAX_ROWS:
                raise CsvError(f"the file has more than {MAX_ROWS:,} rows; upload a sample of at most "
                               f"{MAX_ROWS:,} rows.")
            rows.append([c.strip() for c in row])
    except csv.Error as e:
        raise CsvError(f"line {reader.line_num}: not valid CSV ({e}); check the quotes on that line.") from None
    return rows


def _header(rows):
    """(column names or None, data rows).

    The first row is a header when every cell is text, or when a cell is text where the second row
    has a number (so a first data row with a text label is data, not a header).
    """
    first, second = rows[0], rows[1] if len(rows) > 1 else rows[0]
    text = [not _is_number(c) for c in first]
    if not (all(text) or any(t and _is_number(c) for t, c in zip(text, second))):
        return None, rows
    names = [c or f"column {j + 1}" for j, c in enumerate(first)]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise CsvError(f"the header names column {dup!r} twice; give every column its own name.")
    return names, rows[1:]


def _label_index(names, width):
    if names is not None:
        low = [n.strip().lower() for n in names]
        for wanted in _LABEL_NAMES:  # 'label' before 'y': a table with columns x, y, label
            if wanted in low:
                return low.index(wanted)
    return width - 1


def _features(data, names, label_j, width):
    X = np.empty((len(data), width - 1), np.float64)
    cols = [j for j in range(width) if j != label_j]
    for i, row in enumerate(data):
        for k, j in enumerate(cols):
            cell = row[j]
            try:
                v = float(cell) if len(cell) <= _MAX_CELL else None
            except ValueError:
                v = None
            if v is None or not math.isfinite(v):
                what = "empty" if not cell else (f"{cell[:30]!r} is not a number" if v is None
                                                 else f"{cell[:30]!r} is not a finite number")
                raise CsvError(f"row {i + 1 + (names is not None)}, column {names[j] if names else j + 1!r}: {what}; "
                               "every feature must be a finite number (remove or fill the row).")
            X[i, k] = v
    if np.abs(X).max(initial=0.0) > 3e38:
        raise CsvError("a feature value exceeds float32's range (3.4e38); rescale that column.")
    return X.astype(np.float32)


def _labels(raw, label_name, first_row):
    """(y, task, class names); ``first_row`` is the file row of ``raw[0]`` (for messages)."""
    if all(_is_number(v) for v in raw):
        vals = np.array([float(v) for v in raw])
        if not np.all(np.isfinite(vals)):
            raise CsvError(f"label column {label_name!r} holds NaN or Inf; every label must be a finite value.")
        if np.all(vals == np.round(vals)):
            classes = np.unique(vals)
            names = [str(int(c)) for c in classes]
            return np.searchsorted(classes, vals).astype(np.int64), "classification", names
        return vals.astype(np.float32)[:, None], "regression", []
    if any(not v for v in raw):
        i = next(i for i, v in enumerate(raw) if not v)
        raise CsvError(f"row {i + first_row}: the label ({label_name!r}) is empty; every row needs a label.")
    names = sorted(set(raw))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[v] for v in raw], np.int64), "classification", names


def parse_csv(text, name: str = "data.csv") -> CsvTable:
    """Parse CSV text into features and labels (see the module docstring for the rules).

    Args:
        text: the file's contents (str; bytes are decoded as UTF-8).
        name: the file name, for messages and the page.

    Returns:
        CsvTable

    Raises:
        CsvError: with one message saying what is wrong and how to fix it.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CsvError(f"the file is not UTF-8 text (byte {e.start}); save it as CSV UTF-8 and upload again.") \
                from None
    if not isinstance(text, str):
        raise CsvError(f"expected the CSV file's text; got {type(text).__name__}.")
    rows = _rows(text.lstrip("\ufeff"))
    if not rows:
        raise CsvError("the file is empty; upload a CSV with numeric feature columns and a label column.")
    names, data = _header(rows)
    width = len(rows[0])
    if width < 2:
        raise CsvError("the file has one column; it needs at least one feature column and a label column.")
    if width - 1 > MAX_FEATURES:
        raise CsvError(f"the file has {width - 1} feature columns; at most {MAX_FEATURES} are supported.")
    for i, row in enumerate(data):
        if len(row) != width:
            raise CsvError(f"row {i + 1 + (names is not None)} has {len(row)} cells but the first row has {width}; "
                           "every row needs the same columns.")
    if len(data) < MIN_ROWS:
        raise CsvError(f"the file has {len(data)} data rows; at least {MIN_ROWS} are needed to train and test.")
    label_j = _label_index(names, width)
    label_name = names[label_j] if names else "label"
    X = _features(data, names, label_j, width)
    y, task, class_names = _labels([row[label_j] for row in data], label_name, 1 + (names is not None))
    if task == "classification":
        if len(class_names) < 2:
            raise CsvError(f"every row has the same label ({class_names[0]!r}); a classifier needs at least 2 "
                           "classes.")
        if len(class_names) > MAX_CLASSES:
            raise CsvError(f"the label column {label_name!r} has {len(class_names)} different values; at most "
                           f"{MAX_CLASSES} classes are supported (for a numeric target, use decimal values: "
                           "that makes a regression task).")
    feature_names = ([n for j, n in enumerate(names) if j != label_j] if names
                     else [f"x{j + 1}" for j in range(width - 1)])
    return CsvTable(X=X, y=y, task=task, feature_names=feature_names, label_name=label_name,
                    class_names=class_names, name=str(name)[:200])
