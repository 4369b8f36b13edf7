"""``nnbasics predict``: the classes (or probabilities) a trained run gives to inputs in a file.

Inputs are prepared as in training, from what the checkpoint stores (``extra["data"]``): image
models take raw 0-255 pixels (uint8 arrays, PNG/JPEG files) and divide them by 255 as the
training data was; inputs far outside the training range draw a warning (a model fed unscaled
pixels answers with 100% confidence and means nothing). A single sample may come without its
batch axis (one 28x28 image). Rows with NaN or infinity are refused, by number.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ._command import Command
from ._csv import read_csv_rows
from ._data import class_names
from ._files import check_output_file, load_model, write_output_file
from ._options import BATCH_SIZE, RUN, Option, UsageError, plural
from ._rundir import open_run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_MAX_ELEMENTS = 1 << 31

OPTIONS = [
    RUN,
    Option("input", ("input",), {"metavar": "INPUT", "help": "inputs: .npy, .csv (or - for CSV on standard input), "
                                                             "or an image file (PNG/JPEG, needs Pillow)"}),
    Option("proba", ("--proba",), {"action": "store_true", "help": "print class probabilities instead of labels"},
           False),
    Option("output", ("--output", "-o"), {"metavar": "FILE", "help": "write to FILE (.npy or .csv) instead of printing"}),
    BATCH_SIZE.but(help="batch size (default 256)", default=256),
]


def _check_npy(path: Path) -> None:
    """Refuse a .npy whose header declares more data than the file holds (before anything is allocated)."""
    import numpy as np

    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0) else
                               np.lib.format.read_array_header_2_0(f))
            offset = f.tell()
    except (ValueError, OSError, SyntaxError, TypeError) as e:
        raise UsageError(f"cannot read {path}: not a NumPy .npy file ({e}).") from None
    n = 1
    for d in shape:
        n *= int(d)
    if dtype.hasobject:
        raise UsageError(f"{path} holds Python objects; save the inputs as numbers (np.save of a float array).")
    if n > _MAX_ELEMENTS or n * dtype.itemsize != path.stat().st_size - offset:
        raise UsageError(f"{path}: its header declares shape {tuple(shape)} ({dtype}), which the file's "
                         f"{path.stat().st_size:,} bytes do not hold; the file is damaged or not from np.save.")


def _read_image(path: Path, channels: int, size):
    """An image file as a (1, C, H, W) uint8 array, resized to ``size`` (H, W) when it differs."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError:
        raise UsageError(f"reading {path.suffix} images needs Pillow: pip install pillow (or give the pixels as a "
                         ".npy array).") from None
    try:
        with Image.open(path) as im:
            if im.mode.startswith("I;16"):  # NOTE: 16-bit grey; convert("L") would clip every value above 255
                im = Image.fromarray((np.asarray(im, dtype=np.float64) / 257).round().astype(np.uint8))
            im = im.convert("L" if channels == 1 else "RGB")
            if size is not None and im.size != (size[1], size[0]):
                print(f"note: {path.name} is {im.size[0]}x{im.size[1]}; resized to {size[1]}x{size[0]} as the model "
                      "takes.", file=sys.stderr)
                im = im.resize((size[1], size[0]))
            a = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise UsageError(f"cannot read the image {path}: {e}") from None
    return a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None]


def read_inputs(path: Path, in_shape, data=None):
    """The samples of ``path`` as ``(N, *in_shape)`` float32, prepared as the training data was.

    Args:
        path: .npy, .csv or an image file.
        in_shape: one sample's shape (None: as in the file).
        data: the checkpoint's ``extra["data"]`` (scaling, training range), or None.
    """
    import numpy as np

    if str(path) == "-":
        suffix = ".csv"  # standard input: CSV text (printf '0.2,0.1\n' | nnbasics predict RUN -)
    elif not path.exists():
        raise UsageError(f"no input file {path}.")
    else:
        suffix = path.suffix.lower()
    shape = None if in_shape is None else (list(in_shape) if isinstance(in_shape, list) else [in_shape])
    try:
        if suffix == ".npy":
            _check_npy(path)
            X = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            X = read_csv_rows(path)
        elif suffix in IMAGE_SUFFIXES:
            if shape is None or len(shape) != 3:
                raise UsageError(f"{path.name} is an image, but this model does not take images (one sample: "
                                 f"{tuple(shape) if shape else 'unknown'}); give a .npy or .csv.")
            X = _read_image(path, shape[0], shape[1:])
        else:
            raise UsageError(f"INPUT must be a .npy, .csv or image file; got {path.name!r}.")
    except ValueError as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path} holds {X.dtype} values; predictions need numbers.")
    X = _to_samples(X, shape, path)
    return _prepare(X, data, path)


def _to_samples(X, shape, path):
    """``(N, *shape)``: a single sample may come without the batch axis; flat rows are reshaped."""
    import numpy as np

    if shape is None:
        return X if X.ndim >= 2 else X.reshape(1, -1) if X.ndim == 1 else X.reshape(1, 1)
    size = int(np.prod(shape))
    if X.size == size and X.ndim <= len(shape):
        return X.reshape(1, *shape)  # one sample without its batch axis: (28, 28) for a (1, 28, 28) model
    if X.ndim >= 1 and len(X) and X.size == len(X) * size:
        return X.reshape(len(X), *shape)
    if X.ndim >= 1 and len(X) == 0:
        raise UsageError(f"{path} holds no samples (shape {tuple(X.shape)}); give at least one input of shape "
                         f"{tuple(shape)}.")
    raise UsageError(f"{path}: the model takes inputs of shape {tuple(shape)} per sample; the file holds "
                     f"{tuple(X.shape[1:]) if X.ndim > 1 else tuple(X.shape)}.")


def _prepare(X, data, path):
    """float32 inputs scaled as in training; NaN refused by row; unscaled-looking inputs warned about."""
    import numpy as np

    raw = X.dtype.kind in "biu"
    X = X.astype(np.float32)
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        listed = ", ".join(str(int(r) + 1) for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
        raise UsageError(f"{path}: {plural(len(rows), 'row')} ({listed}; counting from 1) hold NaN or infinity; "
                         "a prediction needs finite numbers. Fix or drop those rows.")
    data = data if isinstance(data, dict) else {}
    scale = data.get("raw_scale")
    lo, hi = (data.get("train_range") or [None, None])[:2]
    looks_raw = raw or (X.size and float(X.max()) > 1.5 and float(X.min()) >= 0 and float(X.max()) <= 255)
    if isinstance(scale, (int, float)) and scale > 0 and looks_raw:
        print(f"note: {path.name} holds raw 0-255 pixels; divided by {scale:g} as the training images were.",
              file=sys.stderr)
        return X / np.float32(scale)
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and X.size:
        span = max(hi - lo, 1e-6)
        if float(X.min()) < lo - 10 * span or float(X.max()) > hi + 10 * span:
            print(f"warning: {path.name} holds values in [{float(X.min()):.3g}, {float(X.max()):.3g}], far outside "
                  f"the training data's [{lo:.3g}, {hi:.3g}]; are the inputs scaled as in training? The predictions "
                  "may mean nothing.", file=sys.stderr)
    return X


def input_shape(model, run):
    """One sample's input shape: the stored data's, else the spec's ``in_features``, else the dataset's."""
    from ..data.catalog import DATASETS

    data = run.get("_data") or {}
    if isinstance(data.get("input_shape"), list):
        return data["input_shape"]
    spec = getattr(model, "spec", None) or {}
    if spec.get("model") == "ensemble" and spec.get("members"):
        spec = spec["members"][0]
    if spec.get("in_features") is not None:
        return spec["in_features"]
    info = DATASETS.get(run.get("dataset"))
    return None if info is None or info.input_shape is None else list(info.input_shape)


def stored_data(checkpoint):
    """The checkpoint's ``extra["data"]`` (what training stored about its inputs), or {}."""
    from ..training.checkpoint import read_checkpoint_metadata

    try:
        extra = read_checkpoint_metadata(checkpoint).get("extra")
    except (OSError, ValueError):
        return {}
    data = extra.get("data") if isinstance(extra, dict) else None
    return data if isinstance(data, dict) else {}


def run(args) -> int:
    """Predict every sample of INPUT; print labels (and class names) or probabilities, or write them to --output."""
    import numpy as np

    from ..training import predict

    path = Path(args.input)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        _require_pillow(path)
    if args.output:
        check_output_file(args.output, "--output")
    run_ = open_run(args.run)
    model = load_model(run_.checkpoint)
    data = stored_data(run_.checkpoint)
    X = read_inputs(path, input_shape(model, {**run_.config, "_data": data}), data)
    try:
        logits = predict(model, X, batch_size=args.batch_size).astype(np.float64)
    except ValueError as e:
        raise UsageError(f"the model does not take these inputs: {e}") from None
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = np.concatenate([np.zeros_like(logits), logits], 1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    proba = e / e.sum(1, keepdims=True)
    result = proba if args.proba else proba.argmax(1)
    names = data.get("classes") or class_names(run_.config.get("dataset"), proba.shape[1])
    names = names if isinstance(names, list | tuple) and len(names) == proba.shape[1] else None
    if args.output:
        _write(args.output, result, args.proba)
    elif args.proba:
        for row in result:
            print(",".join(f"{v:.6g}" for v in row))
    else:
        print("\n".join(f"{int(v)}\t{names[int(v)]}" if names else str(int(v)) for v in result))
    return 0


def _require_pillow(path) -> None:
    """Image inputs need Pillow: say so before the model is loaded."""
    import importlib.util

    if importlib.util.find_spec("PIL") is None:
        raise UsageError(f"reading {path.suffix} images needs Pillow: pip install pillow (or give the pixels as a "
                         ".npy array).")


def _write(out, result, proba) -> None:
    import io

    import numpy as np

    out = Path(out)
    buf = io.BytesIO()
    if out.suffix.lower() == ".npy":
        np.save(buf, result)
    else:
        np.savetxt(buf, result, delimiter=",", fmt="%.6g" if proba else "%d")
    write_output_file(out, buf.getvalue(), "--output")
    print(f"wrote {plural(len(result), 'prediction')} to {out}")


COMMAND = Command(
    "predict", run, OPTIONS, order=40,
    help="predict the classes of the inputs in a .npy, .csv or image file",
    description="Load RUN and print one predicted label per input, with its class name when the dataset has "
                "names (tab-separated), or class probabilities with --proba. INPUT is a .npy array (N, *input "
                "shape), a .csv of N rows of comma-separated features (reshaped to the model's input shape), or an "
                "image (PNG/JPEG; needs Pillow). A single sample may leave out the batch axis (one 28x28 image). "
                "Inputs are prepared as in training: raw 0-255 pixels are divided by 255.",
)
