"""How many numbers a model spec asks for, counted from the spec alone, before anything is built.

A spec is data that may come from a file (a checkpoint's header, ``--spec``), and building it
allocates every weight. So the size is counted first, over the whole model (every layer's
parameters and buffers: a conv kernel's ``out * in/groups * k * k``, an LSTM's 4 gates x
layers x directions, batch norm's running statistics), and checked against a bound before a
single array exists:

* :data:`MAX_PARAMETERS`, the absolute cap for any spec (1 GiB of float32; raise it on purpose
  for a bigger model: ``nnbasics.models.size.MAX_PARAMETERS = 2**30``);
* for a checkpoint, the numbers its file actually holds (see
  :func:`nnbasics.training.load_checkpoint`): a 2 KB header cannot ask for 30 GiB.

:func:`spec_size` counts exactly for every ``nnbasics.nn`` layer type a layer-list spec may
name and every model of the built-in zoo (tests compare each count with the built model's
state dict). It returns None for what it does not know (a model registered by the user, a
layer type added later); callers then fall back on :func:`rough_size`, an estimate from the
spec's two largest integers per entry.

Example:
    >>> spec_size({"layers": [{"type": "conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3},
    ...                       {"type": "flatten"}, {"type": "linear", "in_features": 8, "out_features": 2}]})
    242
    >>> spec_size({"model": "mlp", "in_features": 4, "hidden": [5], "out_features": 3})
    43
"""

from __future__ import annotations

import math

from .._validate import is_int

__all__ = ["MAX_PARAMETERS", "rough_size", "spec_size"]

#: The most numbers (parameters and buffers) a spec may ask for: 2^28, 1 GiB of float32.
MAX_PARAMETERS = 2**28


class _Uncountable(Exception):
    """A value the counters cannot read; the model's own checks will refuse or build it."""


def _int(v) -> int:
    if not is_int(v) or v < 0:
        raise _Uncountable(v)
    return int(v)


def _ints(v) -> list:
    """An int or a list of ints (a kernel size, a shape) as a list."""
    return [_int(e) for e in v] if isinstance(v, (list, tuple)) else [_int(v)]


# ------------------------------------------------------------------ layers: numbers in the state dict
def _linear(a):
    n_in, n_out = _int(a["in_features"]), _int(a["out_features"])
    return n_out * n_in + (n_out if a["bias"] else 0)


def _conv(nd):
    def count(a):
        cin, cout, groups = _int(a["in_channels"]), _int(a["out_channels"]), _int(a["groups"])
        k = _ints(a["kernel_size"])
        k = k * nd if len(k) == 1 else k
        if len(k) != nd or groups < 1:
            raise _Uncountable(a)
        return cout * (cin // groups) * math.prod(k) + (cout if a["bias"] else 0)

    return count


def _batchnorm(a):
    c = _int(a["num_features"])
    return (2 * c if a["affine"] else 0) + (2 * c + 1 if a["track_running_stats"] else 0)


def _layernorm(a):
    n = math.prod(_ints(a["normalized_shape"]))
    return n * (1 + bool(a["bias"])) if a["elementwise_affine"] else 0


def _recurrent(gates, cell=False):
    """RNN/GRU/LSTM (gates 1/3/4): per layer and direction, W_ih (G*H, in), W_hh (G*H, H), two biases."""

    def count(a):
        n_in, h = _int(a["input_size"]), _int(a["hidden_size"])
        layers, dirs = (1, 1) if cell else (_int(a["num_layers"]), 2 if a["bidirectional"] else 1)
        bias = 2 * gates * h if a["bias"] else 0
        first = dirs * (gates * h * n_in + gates * h * h + bias)
        later = dirs * (gates * h * h * dirs + gates * h * h + bias)  # layers > 0 read both directions' outputs
        return first + max(layers - 1, 0) * later if layers else 0

    return count


_LAYERS = {
    "linear": _linear, "conv1d": _conv(1), "conv2d": _conv(2),
    # C_in * C_out/G * k == C_out * C_in/G * k: a transposed convolution holds as many weights
    "convtranspose1d": _conv(1), "convtranspose2d": _conv(2),
    "embedding": lambda a: _int(a["num_embeddings"]) * _int(a["embedding_dim"]),
    "batchnorm1d": _batchnorm, "batchnorm2d": _batchnorm, "layernorm": _layernorm,
    "prelu": lambda a: _int(a["num_parameters"]),
    "rnn": _recurrent(1), "gru": _recurrent(3), "lstm": _recurrent(4),
    "rnncell": _recurrent(1, cell=True), "grucell": _recurrent(3, cell=True), "lstmcell": _recurrent(4, cell=True),
}
#: Layer types that hold no numbers at all (activations, pooling, dropout, reshapes).
_NO_NUMBERS = frozenset([
    "adaptiveavgpool2d", "alphadropout", "avgpool2d", "celu", "dropout", "dropout2d", "elu", "flatten", "gelu",
    "globalavgpool2d", "hardsigmoid", "hardtanh", "identity", "laststep", "leakyrelu", "logsoftmax", "maxout",
    "maxpool2d", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "step",
    "swish", "tanh", "unflatten",
])


def _layer_size(entry: dict):
    from .spec import layer_params, layer_table, normalize_layer_name

    kind = normalize_layer_name(entry["type"])
    if kind in _NO_NUMBERS:
        return 0
    if kind not in _LAYERS:
        return None
    args = {p.name: p.default for p in layer_params(layer_table()[kind]) if p.default is not p.empty}
    args.update(entry)
    return _LAYERS[kind](args)


# ------------------------------------------------------------------ the zoo
def _mlp(a):
    shape = _ints(a["in_features"])
    hidden = _ints(a["hidden"]) if a["hidden"] is not None else []
    n, total = math.prod(shape), 0
    for h in hidden:
        total += h * n + (h if a["bias"] else 0) + (4 * h + 1 if a["batch_norm"] else 0)
        n = h
    out = _int(a["out_features"])
    return total + out * n + (out if a["bias"] else 0)


def _lenet5(a):
    cin, ncls = _int(a["in_channels"]), _int(a["num_classes"])
    hw = _ints(a["image_size"])
    h, w = (hw * 2) if len(hw) == 1 else hw
    pad = a["padding"] if a["padding"] is not None else (2 if (h, w) == (28, 28) else 0)
    _int(pad)
    fh, fw = (((s + 2 * pad - 4) // 2 - 4) // 2 for s in (h, w))
    return (6 * cin * 25 + 6) + (16 * 6 * 25 + 16) + (120 * 16 * max(fh, 0) * max(fw, 0) + 120) + (84 * 120 + 84) \
        + (ncls * 84 + ncls)


def _lab_cnn(a):
    cin, ncls = _int(a["in_channels"]), _int(a["num_classes"])
    hw = _ints(a["image_size"])
    h, w = (hw * 2) if len(hw) == 1 else hw
    return (32 * cin * 9 + 32) + (64 * 32 * 9 + 64) + ncls * 64 * (h // 4) * (w // 4) + ncls


def _lab_cnn_deep(a):
    c, ncls, hidden, bn = _int(a["in_channels"]), _int(a["num_classes"]), _int(a["hidden"]), bool(a["batch_norm"])
    hw = _ints(a["image_size"])
    h, w = (hw * 2) if len(hw) == 1 else hw
    total = 0
    for width in (32, 64, 128):
        total += width * c * 9 + (4 * width + 1 if bn else width)
        h, w, c = -(-h // 2), -(-w // 2), width
    total += hidden * 128 * h * w + (4 * hidden + 1 if bn else hidden)
    return total + ncls * hidden + ncls


def _cell_gates(cell):
    if cell not in ("lstm", "gru", "rnn"):
        raise _Uncountable(cell)
    return {"lstm": 4, "gru": 3, "rnn": 1}[cell]


def _char(cell):
    def count(a):
        v, e, h = _int(a["vocab_size"]), _int(a["embedding_dim"]), _int(a["hidden_size"])
        rec = _recurrent(_cell_gates(cell))({"input_size": e, "hidden_size": h, "num_layers": a["num_layers"],
                                             "bidirectional": False, "bias": True})
        return v * e + rec + v * h + v

    return count


def _sequence_classifier(a):
    ncls, h = _int(a["num_classes"]), _int(a["hidden_size"])
    if a["vocab_size"] is not None:
        emb, feat = _int(a["vocab_size"]) * _int(a["embedding_dim"]), _int(a["embedding_dim"])
    else:
        emb, feat = 0, _int(a["input_size"])
    rec = _recurrent(_cell_gates(a["cell"]))({"input_size": feat, "hidden_size": h, "num_layers": a["num_layers"],
                                              "bidirectional": False, "bias": True})
    return emb + rec + ncls * h + ncls


def _ensemble(a):
    members = a["members"]
    if not isinstance(members, (list, tuple)):
        raise _Uncountable(members)
    total = 0
    for m in members:
        n = spec_size(m) if isinstance(m, dict) else None
        if n is None:
            raise _Uncountable(m)
        total += n
    return total


_ZOO = {
    "mlp": _mlp, "logreg": lambda a: _mlp({**a, "hidden": [], "batch_norm": False}), "lenet5": _lenet5,
    "lab-cnn": _lab_cnn, "lab-cnn-deep": _lab_cnn_deep, "char-lstm": _char("lstm"), "char-gru": _char("gru"),
    "char-rnn": _char("rnn"), "sequence-classifier": _sequence_classifier, "ensemble": _ensemble,
}


def spec_size(spec):
    """Numbers (parameters and buffers) the model of ``spec`` holds, counted without building it.

    Args:
        spec: a spec dict: ``{"model": NAME, ...}`` or ``{"layers": [...]}`` (raw or validated).

    Returns:
        int, or None when the spec names a layer type or model this module cannot count (or
        holds values the model itself would refuse).
    """
    if not isinstance(spec, dict):
        return None
    try:
        if "layers" in spec:
            layers = spec["layers"]
            if not isinstance(layers, list) or not all(isinstance(e, dict) and isinstance(e.get("type"), str)
                                                       for e in layers):
                return None
            sizes = [_layer_size(e) for e in layers]
            return None if None in sizes else sum(sizes)
        name = spec.get("model", spec.get("name"))
        if name not in _ZOO:
            return None
        from .registry import REQUIRED, model_parameters

        args = {k: v for k, v in model_parameters(name).items() if v is not REQUIRED}
        args.update({k: v for k, v in spec.items() if k not in ("model", "name")})
        return int(_ZOO[name](args))
    except (_Uncountable, KeyError, TypeError, ValueError, OverflowError, RecursionError):
        return None


def rough_size(spec) -> int:
    """An estimate for specs :func:`spec_size` cannot count: per entry, the product of its two largest integers."""

    def ints(v):
        if isinstance(v, bool):
            return []
        if isinstance(v, int):
            return [abs(v)]
        if isinstance(v, (list, tuple)):
            return [i for e in v for i in ints(e)]
        return []

    entries = spec.get("layers") if isinstance(spec.get("layers"), list) else [spec]
    total = 0
    for e in entries:
        if isinstance(e, dict):
            sizes = sorted((i for k, v in e.items() if k not in ("type", "model") for i in ints(v)), reverse=True)
            total += (sizes[0] * (sizes[1] if len(sizes) > 1 else 1)) if sizes else 0
    return total
