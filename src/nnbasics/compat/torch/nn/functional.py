"""``torch.nn.functional`` of the compat namespace: nnbasics.functional with torch's signatures.

Differences from :mod:`nnbasics.functional` handled here, each torch API shape only:

* ``inplace=`` changes the input itself in the activations, dropouts, ``threshold`` and ``hardswish``
  (nnbasics' in-place rules: recorded for autograd, refused on a leaf that requires grad);
* dropout draws from the global generator (``torch.manual_seed``) and defaults to ``training=True``;
* ``softmax``/``log_softmax``/``softmin`` without ``dim`` use torch's legacy choice (dim 0 for 0-, 1-
  and 3-d inputs, else 1), and take ``dtype=``;
* the losses accept the deprecated ``size_average``/``reduce`` and map them to ``reduction`` as
  torch does;
* ``pad`` takes torch's flat ``(left, right, top, bottom, ...)`` list, last dimension first;
  ``one_hot`` returns int64.
"""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from .... import functional as _F
from .... import ops as _ops
from ....functional.activation import apply_in_place
from ....tensor import as_tensor
from ...unsupported import UnsupportedTorchAPI, module_getattr
from .. import _random
from .._dtypes import resolve_dtype

_PASS = (
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
    "embedding", "fold", "gelu",
    "layer_norm", "linear", "logsigmoid", "max_pool2d", "normalize", "prelu", "sigmoid", "softplus", "softsign",
    "tanh", "unfold",
)
_INPLACE = ("celu", "elu", "hardsigmoid", "hardtanh", "leaky_relu", "mish", "relu", "relu6", "selu", "silu")
_LOSSES = ("binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "l1_loss",
           "mse_loss", "multi_margin_loss", "nll_loss", "smooth_l1_loss")

for _n in _PASS:
    globals()[_n] = getattr(_F, _n)


def _drop_inplace(fn):
    if "inplace" in inspect.signature(fn).parameters:  # nnbasics' function has torch's inplace
        return fn

    @functools.wraps(fn)
    def wrapped(input, *args, inplace=False, **kwargs):
        return fn(input, *args, **kwargs)

    return wrapped


for _n in _INPLACE:
    globals()[_n] = _drop_inplace(getattr(_F, _n))


def _legacy_reduction(size_average, reduce, reduction):
    """torch's mapping of the deprecated ``size_average``/``reduce`` onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _loss(fn):
    # NOTE: torch puts size_average/reduce before reduction; nnbasics has only reduction.
    @functools.wraps(fn)
    def wrapped(*args, size_average=None, reduce=None, **kwargs):
        if size_average is not None or reduce is not None:
            kwargs["reduction"] = _legacy_reduction(size_average, reduce, kwargs.get("reduction", "mean"))
        return fn(*args, **kwargs)

    return wrapped


for _n in _LOSSES:
    globals()[_n] = _loss(getattr(_F, _n))
del _n


def _implicit_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(fn, name):
    def wrapped(input, dim=None, _stacklevel=3, dtype=None):
        if dtype is not None:
            input = input.astype(resolve_dtype(dtype, f"F.{name}"))
        return fn(input, _implicit_dim(input.ndim) if dim is None else dim)

    wrapped.__name__ = wrapped.__qualname__ = name
    wrapped.__doc__ = f"torch's ``F.{name}(input, dim=None, dtype=None)``."
    return wrapped


softmax = _softmax_like(_F.softmax, "softmax")
log_softmax = _softmax_like(_F.log_softmax, "log_softmax")
softmin = _softmax_like(lambda x, dim: _F.softmax(-x, dim), "softmin")


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout with the mask drawn from the global generator."""
    return _F.dropout(input, p, training, inplace, rng=_random.generator())


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _F.dropout2d(input, p, training, inplace, rng=_random.generator())


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _F.alpha_dropout(input, p, training, inplace, rng=_random.generator())


def threshold(input, threshold, value, inplace=False):
    """``y = x if x > threshold else value``."""
    def fn(x):
        return _ops.where(x > threshold, x, as_tensor(np.asarray(value, dtype=x.dtype)))
    return apply_in_place(input, "threshold_", fn) if inplace else fn(input)


def hardswish(input, inplace=False):
    def fn(x):
        return x * _F.hardsigmoid(x)
    return apply_in_place(input, "hardswish_", fn) if inplace else fn(input)


def tanhshrink(input):
    return input - _F.tanh(input)


def glu(input, dim=-1):
    a, b = input.split(input.shape[dim] // 2, dim)
    return a * _F.sigmoid(b)


def one_hot(tensor, num_classes=-1):
    """``(N, ...)`` int64 class indices -> ``(N, ..., num_classes)`` int64 one-hot."""
    idx = np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    n = int(idx.max()) + 1 if num_classes == -1 else int(num_classes)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise RuntimeError("Class values must be smaller than num_classes.")
    return as_tensor(np.eye(n, dtype=np.int64)[idx])


def pad(input, pad, mode="constant", value=None):
    """torch's ``F.pad``: ``pad = (left, right[, top, bottom[, front, back]])`` from the last dimension back."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"F.pad: pad must have an even length of at most 2 * {input.ndim}; got {tuple(pad)}.")
    if mode != "constant":
        raise UnsupportedTorchAPI(f"torch.nn.functional.pad(mode={mode!r})", "only mode='constant' (zero or "
                                  "value padding) is supported", kind="call")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if any(a < 0 or b < 0 for a, b in widths):
        raise UnsupportedTorchAPI("torch.nn.functional.pad with negative padding", "crop with slicing instead",
                                  kind="call")
    return _ops.pad(input, tuple(widths), 0.0 if value is None else value)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1 . x2 / max(||x1|| * ||x2||, eps)`` along ``dim``."""
    num = (x1 * x2).sum(dim)
    n1 = (x1 * x1).sum(dim)
    n2 = (x2 * x2).sum(dim)
    return num / _ops.maximum((n1 * n2).sqrt(), as_tensor(np.asarray(eps, dtype=num.dtype)))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    d = (x1 - x2 + eps).abs() ** p
    return d.sum(-1, keepdim=keepdim) ** (1.0 / p)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """``target * (log target - input)`` summed as ``reduction`` says (``input`` holds log-probabilities)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        t = np.asarray(target)
        logt = as_tensor(np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0).astype(t.dtype))
        loss = target * (logt - input)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"kl_div: reduction must be 'none', 'batchmean', 'sum' or 'mean'; got {reduction!r}.")


def _pool1d(fn2d, name):
    def pool(input, kernel_size, stride=None, padding=0, *args, **kwargs):
        k = kernel_size if isinstance(kernel_size, numbers.Integral) else kernel_size[0]
        s = k if stride is None else (stride if isinstance(stride, numbers.Integral) else stride[0])
        p = padding if isinstance(padding, numbers.Integral) else padding[0]
        return fn2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), *args, **kwargs).squeeze(-2)

    pool.__name__ = pool.__qualname__ = name
    pool.__doc__ = f"``F.{name}`` on ``(N, C, L)`` via the 2-d pool over ``(N, C, 1, L)``."
    return pool


max_pool1d = _pool1d(_F.max_pool2d, "max_pool1d")
avg_pool1d = _pool1d(_F.avg_pool2d, "avg_pool1d")

__getattr__ = module_getattr(__name__, {
    "interpolate": "resize with nnbasics' pooling (downsampling) or repeat/index (upsampling); no interpolation "
                   "kernels in nnbasics",
    "grid_sample": "spatial transformers are not part of nnbasics",
    "scaled_dot_product_attention": "write attention with matmul and softmax: (q @ k.transpose(-2, -1) / "
                                    "d ** 0.5).softmax(-1) @ v",
})
