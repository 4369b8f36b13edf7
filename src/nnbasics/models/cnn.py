"""Convolutional networks by name: LeNet-5, the lab CNN and the deeper lab CNN.

Every factory takes keyword arguments plus ``rng`` and returns an ``nn.Sequential`` whose
state-dict keys (``0.weight``, ``3.weight``, ...) are those of the same ``torch.nn.Sequential``,
so weights move between the two with ``load_state_dict``. Layers whose presence depends on an
argument value (dropout 0) are kept (``Dropout(0.0)`` is the identity) so that the keys do not
move when the value changes. Models hold no lambdas: they pickle.

==============  =============================================================  ===========
name            layers (28x28 input)                                           parameters
==============  =============================================================  ===========
lenet5          conv5x5 6 (pad 2) > act > pool > conv5x5 16 > act > pool >     61,706
                fc 120 > act > fc 84 > act > fc 10
lab-cnn         conv3x3 32 > ReLU > max-pool > conv3x3 64 > ReLU > max-pool >  50,186
                dropout 0.3 > flatten > linear 3136 -> 10
lab-cnn-deep    3 x [conv3x3 32/64/128 > ReLU > max-pool (ceil) > dropout] >   1,379,557
                flatten > fc 2048 -> 625 > ReLU > dropout > fc 10
==============  =============================================================  ===========

Example:
    >>> from nnbasics.models import build_model
    >>> net = build_model("lab-cnn", rng=0)
    >>> sum(p.numel() for p in net.parameters())
    50186
"""

from __future__ import annotations

from .. import nn
from .._validate import check_positive_int, is_int, is_real
from ..rng import as_generator
from .mlp import apply_init, canonical_init, param_dtype
from .registry import register_model

__all__ = ["lab_cnn", "lab_cnn_deep", "lenet5"]


# ------------------------------------------------------------------ checks
def _size2(image_size, owner):
    """int -> (s, s); [h, w] -> (h, w)."""
    if isinstance(image_size, (list, tuple)):
        if len(image_size) != 2:
            raise ValueError(f"{owner}: image_size must be an int or [height, width]; got {image_size!r}.")
        return tuple(check_positive_int(s, f"{owner}: image_size") for s in image_size)
    s = check_positive_int(image_size, f"{owner}: image_size (an int or [height, width])")
    return s, s


def _rate(p, owner):
    if not is_real(p) or not 0 <= p < 1:
        raise ValueError(f"{owner}: dropout is the probability of DROPPING a unit, in [0, 1); got {p!r}.")
    return float(p)


def _conv_kw(dt, gen):
    return {"rng": gen} if dt is None else {"rng": gen, "dtype": dt}


def _too_small(owner, size, needed, why):
    raise ValueError(f"{owner}: image_size {size} is too small: {why}; expected at least {needed}.")


def _finish(net, init, gen):
    if init != "default":
        apply_init(net, init, gen)
    return net


# ------------------------------------------------------------------ models
@register_model("lenet5", description="LeNet-5 (LeCun et al. 1998) for 28x28 or 32x32 images; ReLU/max-pool or classic tanh/avg-pool")
def lenet5(*, in_channels=1, num_classes=10, image_size=28, activation="relu", pool="max", padding=None,
           init="default", rng=None, dtype=None):
    """LeNet-5: conv5x5 6, pool 2, conv5x5 16, pool 2, fc 120, fc 84, fc ``num_classes``.

    Default variant: ReLU and max-pooling (the form used in PyTorch's and most modern
    tutorials; it trains faster). ``activation="tanh", pool="avg"`` gives the classic network
    of LeCun et al. 1998 (http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf) up to its
    trainable subsampling coefficients, sparse C3 connections and RBF output layer.

    Args:
        in_channels: image channels.
        num_classes: number of outputs (logits).
        image_size: 28 (MNIST-style: the first conv pads by 2, as the 32x32 original), 32, or
            any size whose feature maps stay at least 1x1; int or [height, width].
        activation: a name :func:`nnbasics.nn.get_activation` knows (relu, tanh, sigmoid, ...).
        pool: 'max' (``nn.MaxPool2d(2)``) or 'avg' (``nn.AvgPool2d(2)``).
        padding: padding of the first conv; None means 2 for 28x28 images and 0 otherwise.
        init: weight-init scheme name of :mod:`nnbasics.models.mlp` ('default' is PyTorch's).
        rng: Generator, int seed or None.
        dtype: 'float32' (default) or 'float64'.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes).

    Returns:
        nn.Sequential: conv(0) act(1) pool(2) conv(3) act(4) pool(5) flatten(6) fc(7) act(8)
        fc(9) act(10) fc(11). 61,706 parameters for 1x28x28 and 10 classes.

    Example:
        >>> lenet5(image_size=32, rng=0)[7]
        Linear(in_features=400, out_features=120, bias=True)
    """
    owner = "lenet5"
    cin = check_positive_int(in_channels, f"{owner}: in_channels")
    ncls = check_positive_int(num_classes, f"{owner}: num_classes")
    H, W = _size2(image_size, owner)
    if padding is None:
        padding = 2 if (H, W) == (28, 28) else 0
    if not is_int(padding) or padding < 0:
        raise ValueError(f"{owner}: padding (of the first conv) must be a non-negative int or None; got {padding!r}.")
    if pool not in ("max", "avg"):
        raise ValueError(f"{owner}: pool must be 'max' or 'avg'; got {pool!r}.")
    try:
        nn.get_activation(activation)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{owner}: activation: {e}") from None
    scheme = canonical_init(init, owner)
    dt = param_dtype(dtype, owner)
    gen = as_generator(rng)

    def feat(s):  # conv5 (pad p), pool 2, conv5, pool 2
        return ((s + 2 * padding - 4) // 2 - 4) // 2

    fh, fw = feat(H), feat(W)
    if fh < 1 or fw < 1:
        _too_small(owner, (H, W), 32 - 2 * padding, f"with padding {padding} the feature maps would be {fh}x{fw}")
    kw = _conv_kw(dt, gen)

    def pooling():
        return nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)

    net = nn.Sequential(
        nn.Conv2d(cin, 6, 5, padding=int(padding), **kw), nn.get_activation(activation), pooling(),
        nn.Conv2d(6, 16, 5, **kw), nn.get_activation(activation), pooling(),
        nn.Flatten(),
        nn.Linear(16 * fh * fw, 120, **kw), nn.get_activation(activation),
        nn.Linear(120, 84, **kw), nn.get_activation(activation),
        nn.Linear(84, ncls, **kw),
    )
    return _finish(net, scheme, gen)


@register_model("lab-cnn", description="the lab CNN: 2 x [conv3x3 32/64, ReLU, max-pool], dropout, linear 3136 -> 10")
def lab_cnn(*, in_channels=1, num_classes=10, image_size=28, dropout=0.3, init="default", rng=None, dtype=None):
    """The lab CNN (the issue's benchmark model), layer for layer::

        Conv2d(in_channels, 32, 3, padding=1), ReLU, MaxPool2d(2),
        Conv2d(32, 64, 3, padding=1), ReLU, MaxPool2d(2),
        Dropout(dropout), Flatten, Linear(64 * (H//4) * (W//4), num_classes)

    (Linear 3136 -> 10 for 28x28 images; max-pooling floors odd sizes.)

    Args:
        in_channels: image channels.
        num_classes: number of outputs (logits).
        image_size: int or [height, width], at least 4.
        dropout: probability of DROPPING a unit before the classifier, in [0, 1) (the layer
            is kept at 0, so the state-dict keys never move).
        init: weight-init scheme name ('default' is PyTorch's).
        rng: Generator, int seed or None: the weights, then the dropout masks.
        dtype: 'float32' (default) or 'float64'.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes).

    Returns:
        nn.Sequential with keys ``0.*`` and ``3.*`` (convs) and ``8.*`` (linear); 50,186
        parameters for 1x28x28 and 10 classes.

    Example:
        >>> import nnbasics as nb
        >>> lab_cnn(rng=0)(nb.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """
    owner = "lab-cnn"
    cin = check_positive_int(in_channels, f"{owner}: in_channels")
    ncls = check_positive_int(num_classes, f"{owner}: num_classes")
    H, W = _size2(image_size, owner)
    if H < 4 or W < 4:
        _too_small(owner, (H, W), 4, "two 2x2 max-pools need 4 pixels")
    p = _rate(dropout, owner)
    scheme = canonical_init(init, owner)
    dt = param_dtype(dtype, owner)
    gen = as_generator(rng)
    kw = _conv_kw(dt, gen)
    net = nn.Sequential(
        nn.Conv2d(cin, 32, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(p, rng=gen), nn.Flatten(),
        nn.Linear(64 * (H // 4) * (W // 4), ncls, **kw),
    )
    return _finish(net, scheme, gen)


@register_model("lab-cnn-deep", description="deeper lab CNN: 3 x [conv3x3 32/64/128, ReLU, max-pool, dropout], fc 625, fc 10")
def lab_cnn_deep(*, in_channels=1, num_classes=10, image_size=28, dropout=0.3, hidden=625, batch_norm=False,
                 init="default", rng=None, dtype=None):
    """The deeper lab CNN (the classic TensorFlow lab's ``mnist_deep_cnn``), for 28x28: 28 -> 14 -> 7 -> 4.

    Per block b = 32, 64, 128: ``Conv2d(c, b, 3, padding=1) [BatchNorm2d(b)] ReLU
    MaxPool2d(2, ceil_mode=True) Dropout(dropout)``; then ``Flatten, Linear(128*4*4, hidden)
    [BatchNorm1d(hidden)] ReLU Dropout(dropout) Linear(hidden, num_classes)``.

    ``ceil_mode=True`` reproduces TensorFlow's ``max_pool(..., padding='SAME')`` exactly: an odd
    size keeps its last row/column as a window of its own (7 -> 4), where PyTorch's
    ``padding=1`` would shift every window by one.

    Args:
        in_channels: image channels.
        num_classes: number of outputs (logits).
        image_size: int or [height, width].
        dropout: probability of DROPPING a unit after each block and the dense layer, in
            [0, 1) (the TF lab's ``keep_prob=0.7``; the layers are kept at 0).
        hidden: units of the dense layer (625 in the lab).
        batch_norm: put BatchNorm2d/BatchNorm1d before each ReLU (the convs and the dense layer
            then have no bias, which batch norm would cancel).
        init: weight-init scheme name ('default' is PyTorch's).
        rng: Generator, int seed or None.
        dtype: 'float32' (default) or 'float64'.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes).

    Returns:
        nn.Sequential; 1,379,557 parameters for 1x28x28, 10 classes, no batch norm.

    Example:
        >>> lab_cnn_deep(rng=0)[13]
        Linear(in_features=2048, out_features=625, bias=True)
    """
    owner = "lab-cnn-deep"
    cin = check_positive_int(in_channels, f"{owner}: in_channels")
    ncls = check_positive_int(num_classes, f"{owner}: num_classes")
    n_hidden = check_positive_int(hidden, f"{owner}: hidden")
    H, W = _size2(image_size, owner)
    if H < 2 or W < 2:
        _too_small(owner, (H, W), 2, "the first 2x2 max-pool needs 2 pixels")
    p = _rate(dropout, owner)
    scheme = canonical_init(init, owner)
    dt = param_dtype(dtype, owner)
    gen = as_generator(rng)
    kw = _conv_kw(dt, gen)
    bn_kw = {} if dt is None else {"dtype": dt}
    bn = bool(batch_norm)
    layers, c = [], cin
    for width in (32, 64, 128):
        layers.append(nn.Conv2d(c, width, 3, padding=1, bias=not bn, **kw))
        if bn:
            layers.append(nn.BatchNorm2d(width, **bn_kw))
        layers += [nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Dropout(p, rng=gen)]
        H, W, c = -(-H // 2), -(-W // 2), width  # ceil
    layers += [nn.Flatten(), nn.Linear(128 * H * W, n_hidden, bias=not bn, **kw)]
    if bn:
        layers.append(nn.BatchNorm1d(n_hidden, **bn_kw))
    layers += [nn.ReLU(), nn.Dropout(p, rng=gen), nn.Linear(n_hidden, ncls, **kw)]
    return _finish(nn.Sequential(*layers), scheme, gen)
