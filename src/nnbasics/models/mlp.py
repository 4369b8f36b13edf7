"""Multi-layer perceptrons by name, and weight-init schemes by name: the one place both happen.

``mlp(in_features=..., hidden=[...], out_features=..., activation=..., init=...)`` builds an
``nn.Sequential`` whose state-dict keys are PyTorch's (``0.weight``, ``0.bias``, ``2.weight``...).
Each hidden layer is::

    Linear -> [BatchNorm1d] -> activation -> [Dropout]

and the last layer is a plain ``Linear`` giving logits (no output activation: the losses take
logits). An image-shaped ``in_features`` such as ``[1, 28, 28]`` puts an ``nn.Flatten()`` first.

Init schemes (``init=``, also :func:`apply_init` for any model): weights of every Linear/conv
layer; biases are zeroed by every scheme except ``'default'``.

==================  =============================  ==========================================
name (aliases)      weight distribution            note
==================  =============================  ==========================================
default (torch)     U(-1/sqrt(fan_in), +..)        PyTorch's Linear/conv default, bias too
zeros               0                              every unit the same: symmetry never breaks
normal              N(0, 1)                        the lecture's ``np.random.randn``
small               N(0, 0.01^2)                   the lecture's ``0.01 * np.random.randn``
lecun               N(0, 1/fan_in)                 the lecture's (and CS231n's) "Xavier":
                                                   ``randn(fan_in, fan_out) / sqrt(fan_in)``
lecun_normal        truncated N, Var 1/fan_in      Keras/JAX ``lecun_normal`` (for SELU)
lecun_uniform       U, Var 1/fan_in                LeCun et al. 1998
xavier (glorot,     N(0, 2/(fan_in + fan_out))     Glorot & Bengio 2010 -- NOT the lecture's
xavier_normal)                                     "Xavier", which is ``lecun``
xavier_uniform      U, Var 2/(fan_in + fan_out)    Glorot's "normalized initialization"
(glorot_uniform)
he (kaiming,        N(0, 2/fan_in)                 He et al. 2015; the lecture's
he_normal)                                         ``randn(...) / sqrt(fan_in / 2)``
he_uniform          U, Var 2/fan_in                He et al. 2015, uniform
(kaiming_uniform)
orthogonal          orthogonal rows/cols, gain 1   Saxe et al. 2013
==================  =============================  ==========================================

The fans are those of :func:`nnbasics.nn.init.calculate_fan_in_and_fan_out`. ``he`` uses the
ReLU gain sqrt(2) whatever the activation, so that a sweep over activation x init compares the
same weights (use ``nn.init.kaiming_normal_`` directly for a leaky-ReLU gain).

Example:
    >>> net = mlp(in_features=2, hidden=[8, 8], out_features=3, activation="tanh", init="xavier", rng=0)
    >>> [n for n, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']
"""

from __future__ import annotations

import math

from .. import nn
from .._validate import check_positive_int, is_int, is_real
from ..backend import xp
from ..nn import init as _init
from ..rng import as_generator
from .registry import register_model

__all__ = ["INIT_SCHEMES", "apply_init", "canonical_init", "init_weight_", "logreg", "mlp"]


def _lecun_plain(w, rng):
    return _init.variance_scaling(w, 1.0, "fan_in", "normal", rng)


#: canonical init name -> (weight initializer ``f(weight, rng)``, one-line description).
INIT_SCHEMES = {
    "default": (None, "PyTorch's default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))"),
    "zeros": (lambda w, rng: _init.zeros_(w), "all weights 0 (symmetry is never broken)"),
    "normal": (lambda w, rng: _init.normal_(w, 0.0, 1.0, rng), "N(0, 1): the lecture's np.random.randn"),
    "small": (lambda w, rng: _init.normal_(w, 0.0, 0.01, rng), "N(0, 0.01^2): the lecture's 0.01 * randn"),
    "lecun": (_lecun_plain, "N(0, 1/fan_in): LeCun 1998; what the lecture and CS231n call 'Xavier'"),
    "lecun_normal": (lambda w, rng: _init.lecun_normal_(w, rng), "truncated normal, Var 1/fan_in (Keras/JAX)"),
    "lecun_uniform": (lambda w, rng: _init.lecun_uniform_(w, rng), "uniform, Var 1/fan_in"),
    "xavier": (lambda w, rng: _init.xavier_normal_(w, 1.0, rng), "N(0, 2/(fan_in+fan_out)): Glorot & Bengio 2010"),
    "xavier_uniform": (lambda w, rng: _init.xavier_uniform_(w, 1.0, rng), "uniform, Var 2/(fan_in+fan_out): Glorot"),
    "he": (lambda w, rng: _init.kaiming_normal_(w, 0.0, "fan_in", "relu", rng), "N(0, 2/fan_in): He et al. 2015"),
    "he_uniform": (lambda w, rng: _init.kaiming_uniform_(w, 0.0, "fan_in", "relu", rng), "uniform, Var 2/fan_in"),
    "orthogonal": (lambda w, rng: _init.orthogonal_(w, 1.0, rng), "orthogonal, gain 1: Saxe et al. 2013"),
}

ACTIVATION_ALIASES = {
    "torch": "default", "pytorch": "default", "zero": "zeros", "randn": "normal",
    "glorot": "xavier", "xavier_normal": "xavier", "glorot_normal": "xavier", "glorot_uniform": "xavier_uniform",
    "kaiming": "he", "he_normal": "he", "kaiming_normal": "he", "kaiming_uniform": "he_uniform",
}


def canonical_init(name, owner="init") -> str:
    """The canonical name of an init scheme (case-insensitive, ``-`` or ``_``, aliases resolved).

    Raises:
        ValueError: an unknown name; the message lists the valid names and aliases.
    """
    if not isinstance(name, str):
        raise TypeError(f"{owner}: the init scheme must be a name such as 'he'; got {type(name).__name__}.")
    key = name.strip().lower().replace("-", "_")
    key = ACTIVATION_ALIASES.get(key, key)
    if key not in INIT_SCHEMES:
        aliases = ", ".join(f"{a}={c}" for a, c in ACTIVATION_ALIASES.items())
        raise ValueError(
            f"{owner}: unknown init scheme {name!r}. Valid: {', '.join(INIT_SCHEMES)} (aliases: {aliases})."
        )
    return key


def init_weight_(weight, scheme, rng=None):
    """Fill one weight (at least 2-D, PyTorch layout) in place with the init ``scheme``.

    Args:
        weight: Parameter/Tensor, ``(out, in)`` or ``(out, in, *kernel)``.
        scheme: a name of :data:`INIT_SCHEMES` (not ``'default'``, which belongs to the layer).
        rng: Generator, int seed or None.

    Returns:
        the weight.
    """
    key = canonical_init(scheme, "init_weight_")
    fn = INIT_SCHEMES[key][0]
    if fn is None:
        raise ValueError("init_weight_: 'default' is the layer's own reset_parameters(); use apply_init(module, ...).")
    return fn(weight, as_generator(rng))


def apply_init(module, scheme, rng=None):
    """(Re)initialize every layer of ``module`` that has a weight of 2 or more dims.

    Linear and conv weights get ``scheme`` (see the module docstring) and their biases 0;
    ``'default'`` calls each such layer's ``reset_parameters(rng)`` instead (PyTorch's default,
    biases included). Layers with a 1-D weight (normalization) keep their initialization;
    embeddings (2-D weight) get ``scheme`` too.

    Args:
        module: any Module.
        scheme: init name (case-insensitive; aliases such as 'kaiming', 'glorot' accepted).
        rng: Generator, int seed or None; layers are visited in ``named_modules()`` order.

    Returns:
        the module.

    Example:
        >>> import nnbasics.nn as nn
        >>> net = apply_init(nn.Sequential(nn.Linear(4, 3, rng=0)), "zeros")
        >>> float(net[0].weight.abs().sum())
        0.0
    """
    key = canonical_init(scheme, "apply_init")
    gen = as_generator(rng)
    fn = INIT_SCHEMES[key][0]
    for _, m in module.named_modules():
        w = m._parameters.get("weight")
        if w is None or w.ndim < 2:
            continue
        if fn is None:
            reset = getattr(m, "reset_parameters", None)
            if reset is not None:
                reset(rng=gen)
            continue
        fn(w, gen)
        b = m._parameters.get("bias")
        if b is not None:
            _init.zeros_(b)
    return module


# ------------------------------------------------------------------ checks
def _in_shape(in_features, owner):
    """int -> (n, None); an image shape [C, H, W] -> (C*H*W, [C, H, W])."""
    if isinstance(in_features, (list, tuple)):
        if not in_features:
            raise ValueError(f"{owner}: in_features must be an int or a non-empty shape such as [1, 28, 28]; got [].")
        shape = [check_positive_int(s, f"{owner}: every entry of in_features") for s in in_features]
        if len(shape) == 1:
            return shape[0], None
        return math.prod(shape), shape
    return check_positive_int(in_features, f"{owner}: in_features (an int, or an input shape such as [1, 28, 28])"), None


def _rates(dropout, n, owner):
    if isinstance(dropout, (list, tuple)):
        if len(dropout) != n:
            raise ValueError(
                f"{owner}: dropout as a list needs one rate per hidden layer ({n}); got {len(dropout)} rates."
            )
        rates = list(dropout)
    else:
        rates = [dropout] * n
    out = []
    for r in rates:
        if not is_real(r) or not 0 <= r < 1:
            raise ValueError(f"{owner}: dropout is the probability of DROPPING a unit, in [0, 1); got {r!r}.")
        out.append(float(r))
    return out


def param_dtype(dtype, owner):
    """A model's parameter dtype: None (the default), float32 or float64; ValueError otherwise."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in ("float32", "float64"):
        return xp.dtype(dtype)
    try:
        d = xp.dtype(dtype)
    except TypeError:
        d = None
    if d not in (xp.dtype("float32"), xp.dtype("float64")):
        raise ValueError(f"{owner}: dtype must be 'float32', 'float64' or None; got {dtype!r}.")
    return d


# ------------------------------------------------------------------ models
@register_model("mlp", description="multi-layer perceptron: hidden sizes x activation x init, dropout, batch norm")
def mlp(*, in_features, out_features, hidden=(), activation="relu", init="default", dropout=0.0,
        batch_norm=False, bias=True, activation_kwargs=None, rng=None, dtype=None):
    """A multi-layer perceptron: ``Linear -> [BatchNorm1d] -> act -> [Dropout]`` per hidden layer, then Linear.

    Args:
        in_features: input size, or an input shape such as ``[1, 28, 28]`` (then an
            ``nn.Flatten()`` comes first and the first Linear takes C*H*W).
        out_features: number of outputs (logits; no output activation).
        hidden: hidden-layer sizes, e.g. ``[256, 256]``; ``[]`` gives a linear model.
        activation: a name :func:`nnbasics.nn.get_activation` knows (sigmoid, tanh, relu,
            leaky_relu, elu, selu, gelu, silu, ...; case-insensitive).
        init: weight-init scheme name (module docstring; 'default' is PyTorch's).
        dropout: probability of DROPPING a hidden unit, after each hidden activation; one
            rate, or a list with one rate per hidden layer. 0 adds no Dropout layer.
        batch_norm: put ``nn.BatchNorm1d`` between each hidden Linear and its activation.
        bias: Linear layers learn biases.
        activation_kwargs: constructor arguments of the activation, e.g. ``{"negative_slope": 0.1}``.
        rng: Generator, int seed or None: draws the weights, then drives the dropout masks.
        dtype: ``'float32'`` (default) or ``'float64'`` (gradient checks).

    Shape:
        (N, in_features) or (N, *in_shape) -> (N, out_features).

    Returns:
        nn.Sequential (PyTorch's keys: a torch ``nn.Sequential`` built alike loads its state dict).

    Example:
        >>> net = mlp(in_features=[1, 4, 4], hidden=[5], out_features=3, dropout=0.2, rng=0)
        >>> net
        Sequential(
          (0): Flatten(start_dim=1, end_dim=-1)
          (1): Linear(in_features=16, out_features=5, bias=True)
          (2): ReLU()
          (3): Dropout(p=0.2, inplace=False)
          (4): Linear(in_features=5, out_features=3, bias=True)
        )
    """
    owner = "mlp"
    n_in, image_shape = _in_shape(in_features, owner)
    n_out = check_positive_int(out_features, f"{owner}: out_features")
    if is_int(hidden):
        hidden = [hidden]
    if not isinstance(hidden, (list, tuple)):
        raise TypeError(f"{owner}: hidden must be a list of layer sizes such as [256, 256]; got {hidden!r}.")
    sizes = [check_positive_int(h, f"{owner}: every hidden size") for h in hidden]
    rates = _rates(dropout, len(sizes), owner)
    scheme = canonical_init(init, owner)
    dt = param_dtype(dtype, owner)
    if activation_kwargs is not None and not isinstance(activation_kwargs, dict):
        raise TypeError(f"{owner}: activation_kwargs must be a dict such as {{'negative_slope': 0.1}}; "
                        f"got {activation_kwargs!r}.")
    try:  # fail early, listing the valid names
        nn.get_activation(activation, **(activation_kwargs or {}))
    except (TypeError, ValueError) as e:
        raise type(e)(f"{owner}: activation: {e}") from None
    if batch_norm and not hasattr(nn, "BatchNorm1d"):
        raise ValueError(f"{owner}: batch_norm=True needs nn.BatchNorm1d, which this version does not have yet.")
    gen = as_generator(rng)

    layers = [nn.Flatten()] if image_shape is not None else []
    fan_in = n_in
    for size, rate in zip(sizes, rates):
        layers.append(nn.Linear(fan_in, size, bias=bool(bias), rng=gen, dtype=dt))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size) if dt is None else nn.BatchNorm1d(size, dtype=dt))
        layers.append(nn.get_activation(activation, **(activation_kwargs or {})))
        if rate > 0:
            layers.append(nn.Dropout(rate, rng=gen))
        fan_in = size
    layers.append(nn.Linear(fan_in, n_out, bias=bool(bias), rng=gen, dtype=dt))
    net = nn.Sequential(*layers)
    if scheme != "default":
        apply_init(net, scheme, gen)
    return net


@register_model("logreg", description="logistic (softmax) regression: one Linear layer, Flatten first for images")
def logreg(*, in_features, out_features, bias=True, init="default", rng=None, dtype=None):
    """Logistic/softmax regression: ``mlp`` with no hidden layer (one Linear giving logits).

    Args:
        in_features, out_features, bias, init, rng, dtype: as :func:`mlp`.

    Returns:
        nn.Sequential: ``[Flatten,] Linear``.

    Example:
        >>> logreg(in_features=4, out_features=3, rng=0)[0]
        Linear(in_features=4, out_features=3, bias=True)
    """
    return mlp(in_features=in_features, out_features=out_features, hidden=[], bias=bias, init=init, rng=rng,
               dtype=dtype)
