"""Deep narrow MLPs for the ``activation`` and ``init`` experiments: build, probe, train.

Pure functions on NumPy arrays (no report, no context), so that the experiments' sweep jobs
are top-level functions a process pool can pickle, and so that the science can be tested on
tiny inputs. Everything random takes an explicit seed.

* :func:`flatten_standardize` -- images ``(N, C, H, W)`` to ``(N, D)`` rows, shifted and scaled
  by the training set's global mean and std (one scalar each, so blank border pixels stay
  finite).
* :func:`build_net` -- ``models.mlp`` with ``depth`` hidden layers of ``width`` units; the init
  schemes are those of :data:`nnbasics.models.mlp.INIT_SCHEMES` (``zeros``, ``normal`` = N(0, 1),
  ``small`` = N(0, 0.01^2), ``lecun``, ``xavier`` (Glorot), ``he``).
* :func:`weight_grad_norms` -- one forward/backward at the current weights, the Frobenius norm
  of every Linear weight's gradient, input to output.
* :func:`trace` -- per hidden layer, the pre-activation ``z`` and the activation ``h = f(z)`` of
  one batch (for histograms, activation std and the mean slope ``f'(z)``).
* :func:`train` -- minibatch SGD with momentum and gradient-norm clipping for a fixed number of
  steps, the loss on a fixed probe set at regular checkpoints.
* :func:`unit_spread` -- how different a layer's hidden units are (0: all identical, the zero
  init's unbroken symmetry).

Example:
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    >>> y = np.arange(40) % 3
    >>> net = build_net(6, 3, depth=2, width=5, activation="tanh", init="xavier", seed=0)
    >>> [round(float(v), 3) > 0 for v in weight_grad_norms(net, X, y)]
    [True, True, True]
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ... import functional as F
from ... import nn, optim
from ...autograd import no_grad
from ...models.mlp import mlp
from ...tensor import tensor
from ...threads import single_thread_blas

__all__ = [
    "ACTIVATION_KWARGS", "accuracy", "build_net", "flatten_standardize", "linear_layers", "mean_slope", "probe_loss",
    "single_thread_blas", "subset", "trace", "train", "unit_spread", "weight_grad_norms",
]


#: Constructor arguments per activation name. GELU runs in its tanh form (GPT-2's, within ~1e-3 of
#: the exact erf form): the exact one costs about three ReLU layers per layer in these tiny nets.
ACTIVATION_KWARGS = {"gelu": {"approximate": "tanh"}}


def flatten_standardize(X_train, X_test):
    """Rows of floats, standardized by the training set's global mean and std.

    Args:
        X_train: array ``(N, ...)``.
        X_test: array ``(M, ...)`` of the same trailing shape.

    Returns:
        (A, B): float32 ``(N, D)`` and ``(M, D)``, ``(x - mean) / std`` with the scalar mean and
        std of ``X_train`` (std 1 if it is 0).
    """
    A = np.asarray(X_train, dtype=np.float32).reshape(len(X_train), -1)
    B = np.asarray(X_test, dtype=np.float32).reshape(len(X_test), -1)
    mu = float(A.mean())
    sd = float(A.std()) or 1.0
    return ((A - mu) / sd).astype(np.float32), ((B - mu) / sd).astype(np.float32)


def subset(X, y, n, seed):
    """At most ``n`` rows of ``(X, y)`` drawn without replacement (all rows, shuffled, if fewer)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))[: min(int(n), len(X))]
    return X[idx], np.asarray(y)[idx].astype(np.int64)


def build_net(in_features, num_classes, *, depth, width, activation, init, seed):
    """``depth`` hidden layers of ``width`` units (Linear -> activation), then a Linear to logits.

    Args:
        in_features: input size D.
        num_classes: number of logits.
        depth: number of hidden layers (each one Linear + one activation); the net has
            ``depth + 1`` Linear layers.
        width: units per hidden layer.
        activation: a name ``nn.get_activation`` knows ('sigmoid', 'tanh', 'relu', ...), built
            with :data:`ACTIVATION_KWARGS`.
        init: an init scheme of :data:`nnbasics.models.mlp.INIT_SCHEMES` (biases are zeroed).
        seed: int seed of the weights.

    Returns:
        nn.Sequential.
    """
    return mlp(in_features=int(in_features), out_features=int(num_classes), hidden=[int(width)] * int(depth),
               activation=activation, init=init, activation_kwargs=ACTIVATION_KWARGS.get(activation),
               rng=np.random.default_rng(seed))


def linear_layers(net):
    """The Linear layers of ``net``, input to output."""
    return [m for m in net if isinstance(m, nn.Linear)]


def weight_grad_norms(net, X, y):
    """Per Linear layer, ``||dL/dW||`` (Frobenius) of the mean cross-entropy on ``(X, y)``.

    One forward and backward at the current weights through
    :func:`nnbasics.diagnostics.gradient_norms` (gradients and modes restored afterwards).

    Args:
        net: an MLP from :func:`build_net`.
        X: float32 ``(N, D)``; y: int labels ``(N,)``.

    Returns:
        float64 array ``(depth + 1,)``, input layer first.
    """
    from ...diagnostics import gradient_norms

    norms = gradient_norms(net, X, np.asarray(y, dtype=np.int64))
    return np.array([float(v) for v in norms.values()], dtype=np.float64)


def trace(net, X):
    """Per hidden layer, the pre-activation and the activation of one batch.

    Args:
        net: an MLP from :func:`build_net` (a Sequential whose hidden activations follow Linears).
        X: float32 ``(N, D)``.

    Returns:
        list of ``(z, h)`` float32 arrays ``(N, width)``, one per hidden layer, input side first.
    """
    out = []
    z = None
    with no_grad():
        x = tensor(X)
        for m in net:
            x = m(x)
            if isinstance(m, nn.Linear):
                z = x._array
            elif z is not None:
                out.append((z, x._array))
                z = None
    return out


def mean_slope(activation, z):
    """The mean of ``f'(z)`` over all entries, by autograd through ``nn.get_activation(activation)``."""
    t = tensor(np.asarray(z, dtype=np.float32), requires_grad=True)
    nn.get_activation(activation, **ACTIVATION_KWARGS.get(activation, {}))(t).sum().backward()
    return float(np.mean(t.grad._array, dtype=np.float64))


def probe_loss(net, X, y):
    """Mean cross-entropy on ``(X, y)`` without recording a graph (NaN if it is not finite)."""
    with no_grad():
        v = float(F.cross_entropy(net(tensor(X)), tensor(np.asarray(y, dtype=np.int64)))._array)
    return v if math.isfinite(v) else float("nan")


def accuracy(net, X, y, batch=2048):
    """Fraction of rows whose argmax logit equals the label (non-finite logits count as wrong)."""
    y = np.asarray(y)
    hits = 0
    with no_grad():
        for i in range(0, len(X), batch):
            logits = net(tensor(X[i:i + batch]))._array
            ok = np.isfinite(logits).all(axis=1)
            hits += int(np.sum((logits.argmax(axis=1) == y[i:i + batch]) & ok))
    return hits / max(len(X), 1)


def train(net, X, y, *, steps, batch_size, lr, seed, momentum=0.9, clip=5.0, probe=None, checkpoints=10):
    """Minibatch SGD (momentum, gradient-norm clipping) on the mean cross-entropy.

    Args:
        net: the model (trained in place).
        X, y: training rows and int labels.
        steps: number of SGD steps.
        batch_size: rows per step, drawn with replacement by ``default_rng(seed)``.
        lr, momentum: SGD's (the same for every configuration of a sweep).
        clip: max total gradient norm (guards the N(0, 1) nets against overflow; it rescales a
            large gradient and cannot enlarge a vanishing one), None for none.
        seed: int seed of the batch order.
        probe: ``(Xp, yp)`` on which the loss is measured at the checkpoints (default: the
            first 512 training rows).
        checkpoints: number of evenly spaced checkpoints after step 0.

    Returns:
        dict with ``steps`` (checkpoint step indices, 0 first), ``loss`` (probe loss at each;
        NaN once training diverged) and ``batch_loss`` (every step's minibatch loss). Training
        stops early when the loss stops being finite.
    """
    from ._steps import train_steps

    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype=np.int64)
    Xp, yp = probe if probe is not None else (X[:512], y[:512])
    marks = sorted({round(k * steps / checkpoints) for k in range(checkpoints + 1)})
    opt = optim.SGD(net.parameters(), lr=lr, momentum=momentum)

    def draws(n):  # n batches of batch_size rows, drawn with replacement
        for _ in range(n):
            idx = rng.integers(0, len(X), batch_size)
            yield tensor(X[idx]), tensor(y[idx])

    curve, batch_loss = [], []
    with np.errstate(over="ignore", invalid="ignore"):  # divergence (N(0, 1) weights) is a measured outcome
        for a, b in itertools.pairwise([*marks, None]):
            diverged = bool(batch_loss) and not math.isfinite(batch_loss[-1])
            curve.append(float("nan") if diverged else probe_loss(net, Xp, yp))
            if b is None:
                break
            if not diverged:  # a non-finite loss stops training before its update
                batch_loss += train_steps(net, draws(b - a), opt, clip=clip, stop_on_nonfinite=True)
            batch_loss += [float("nan")] * (b - len(batch_loss))
    return {"steps": marks, "loss": curve, "batch_loss": batch_loss}


def unit_spread(layer):
    """How different the units of a Linear layer are: 0 when every unit has the same weights and bias.

    ``max_i ||u_i - mean_j u_j|| / (max_i ||u_i|| + 1e-12)`` over the rows ``u_i`` = (weights, bias)
    of each unit.
    """
    W = np.asarray(layer.weight._array, dtype=np.float64)
    if layer.bias is not None:
        W = np.concatenate([W, np.asarray(layer.bias._array, dtype=np.float64)[:, None]], axis=1)
    dev = np.linalg.norm(W - W.mean(axis=0, keepdims=True), axis=1).max()
    return float(dev / (np.linalg.norm(W, axis=1).max() + 1e-12))


