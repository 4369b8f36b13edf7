"""Editing a checkpoint's JSON header in tests: the arrays (and so their SHA-256) stay as saved.

``edit_meta(path, fn)`` reads ``path``, calls ``fn(meta)`` on the decoded metadata (``fn`` edits
it in place or returns a replacement) and writes the file back, so a test can put any value in
any field, as someone editing the header by hand could.
"""

import json

from nnbasics.io.safetensors import load_bytes, save_bytes


def read_meta(path) -> tuple:
    with open(path, "rb") as f:
        arrays, header = load_bytes(f.read())
    return arrays, json.loads(header["nnbasics"])


def write_meta(path, arrays, meta) -> None:
    with open(path, "wb") as f:
        f.write(save_bytes(arrays, {"nnbasics": json.dumps(meta)}))


def edit_meta(path, fn, out=None) -> str:
    arrays, meta = read_meta(path)
    result = fn(meta)
    write_meta(out or path, arrays, meta if result is None else result)
    return str(out or path)


def paths(obj, prefix=()):
    """Every path (a tuple of keys and indices) into a JSON value, the root excluded."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return []
    out = []
    for k, v in items:
        out.append(prefix + (k,))
        out.extend(paths(v, prefix + (k,)))
    return out


def set_path(obj, path, value, delete=False):
    for k in path[:-1]:
        obj = obj[k]
    if delete:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value
