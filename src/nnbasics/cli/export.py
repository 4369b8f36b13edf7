"""``nnbasics export RUN --onnx FILE``: a trained run's model as an ONNX file, for onnxruntime or any ONNX runtime.

The model is traced (:func:`nnbasics.onnx.export`) on an example of the run's input shape; the
file takes any batch size. A character-model run (``nnbasics train-lm``) exports its best
checkpoint with the states as inputs and outputs (``input``, ``h_0``[, ``c_0``] ->
``logits``, ``h_n``[, ``c_n``]) and any sequence length, so a runtime can prime it and then
generate one character at a time.
"""

from __future__ import annotations

from pathlib import Path

from ._command import Command
from ._options import RUN, Option, UsageError, positive_int

OPTIONS = [
    RUN.but(help="run directory (of `nnbasics train` or `train-lm`) or checkpoint file"),
    Option("onnx", ("--onnx",), {"metavar": "FILE", "required": True, "help": "the .onnx file to write"}),
    Option("opset", ("--opset",), {"type": positive_int, "help": "ONNX opset, 13 to the installed onnx's newest "
                                                                 "(default 17)"}, 17),
    Option("input_shape", ("--input-shape",), {"metavar": "DIMS",
                                               "help": "one sample's input shape, e.g. 1,28,28 (default: the run's)"}),
    Option("fixed_batch", ("--fixed-batch",), {"type": positive_int, "metavar": "N",
                                               "help": "export for batches of exactly N (default: any batch size)"}),
]


def _checkpoint(run) -> tuple:
    """(checkpoint path, is it a character model) for a run folder (checked as one unit) or a checkpoint file."""
    from ._rundir import open_run

    found = open_run(run, command=None)
    return found.checkpoint, found.command == "train-lm"


def _shape(text) -> list:
    try:
        dims = [int(d) for d in str(text).replace("x", ",").split(",") if d.strip()]
    except ValueError:
        dims = []
    if not dims or any(d < 1 for d in dims):
        raise UsageError(f"--input-shape: expected positive ints separated by commas, e.g. 1,28,28; got {text!r}.")
    return dims


def _example(args, path, char):
    """(model, example input, export keywords) for the run."""
    import numpy as np

    from ._rundir import load_model, run_config
    from .predict import input_shape

    batch = args.fixed_batch or 2
    rng = np.random.default_rng(0)
    if char:
        from ..training.tbptt import load_char_lm

        try:
            model, vocab, _ = load_char_lm(path)
        except (OSError, ValueError) as e:
            raise UsageError(str(e)) from None
        rnn = model.rnn
        h = np.zeros((rnn.num_layers * (2 if rnn.bidirectional else 1), batch, rnn.hidden_size), np.float32)
        ids = rng.integers(0, len(vocab), size=(batch, 8))
        return model, (ids, (h, h) if rnn.mode == "LSTM" else h), {"dynamic_sequence": True}
    model = load_model(path)
    shape = _shape(args.input_shape) if args.input_shape else input_shape(model, run_config(path))
    if shape is None:
        raise UsageError(f"{path.parent} does not record the model's input shape; give it: --input-shape 1,28,28 "
                         f"(one sample's dims).")
    shape = list(shape) if isinstance(shape, (list, tuple)) else [shape]
    return model, rng.standard_normal((batch, *shape)).astype(np.float32), {}


def _describe(vi) -> str:
    dims = [d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim]
    return f"{vi.name} ({', '.join(dims)})"


def run(args) -> int:
    """Load RUN's model, trace it on an example of its input shape and write the ONNX file."""
    import warnings

    out = Path(args.onnx)
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"--onnx {out}: give a file in an existing directory.")
    path, char = _checkpoint(args.run)
    model, example, kwargs = _example(args, path, char)
    from .. import onnx as nx

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", nx.OnnxExportWarning)
        try:
            proto = nx.export(model, example, out, opset=args.opset, dynamic_batch=args.fixed_batch is None,
                              **kwargs)
        except ImportError as e:
            raise UsageError(str(e)) from None
        except (nx.OnnxExportError, ValueError, TypeError) as e:
            raise UsageError(f"cannot export {path}: {e}") from None
    for w in caught:
        print(f"warning: {w.message}", file=__import__("sys").stderr)
    g = proto.graph
    print(f"wrote {out}: {type(model).__name__}, {len(g.node)} ONNX nodes, opset {args.opset}")
    print(f"  inputs:  {', '.join(_describe(i) for i in g.input)}")
    print(f"  outputs: {', '.join(_describe(o) for o in g.output)}")
    _print_preprocessing(path, char)
    return 0


def _print_preprocessing(path, char) -> None:
    """What the file expects that it does not do itself: the training's input scaling, the class order."""
    if char:
        return
    from .predict import stored_data

    data = stored_data(path)
    scale, classes = data.get("raw_scale"), data.get("classes")
    if isinstance(scale, (int, float)) and scale > 0:
        print(f"  scaling: the model was trained on pixels / {scale:g}; divide raw 0-255 images by {scale:g} "
              f"before running the file (it does not scale them).")
    if isinstance(classes, list) and classes:
        print(f"  classes: output i is {', '.join(f'{i}={c}' for i, c in enumerate(classes))}")


COMMAND = Command(
    "export", run, OPTIONS, order=95,
    help="write a trained model as an ONNX file (--onnx FILE)",
    description="Load RUN (a directory written by `nnbasics train` or `nnbasics train-lm`, or a checkpoint file) "
                "and write its model as an ONNX file that onnxruntime runs without nnbasics. The model is traced on "
                "an example of the run's input shape (--input-shape gives one); the file takes any batch size "
                "(--fixed-batch N: exactly N), and a character model any sequence length, with its state as "
                "inputs and outputs. Needs the onnx package: pip install \"nnbasics[onnx]\".",
)
