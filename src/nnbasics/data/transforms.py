"""Image augmentation that works on whole batches (N, C, H, W), with explicit randomness.

Every transform is called as ``t(x_batch, rng=None)`` and returns a new array (the input is
never modified): ``rng=None`` draws from the transform's own Generator, made once from the
``rng`` given to its constructor; the :class:`~nnbasics.data.DataLoader` passes its own
Generator, so one seed drives shuffling and augmentation together. Random draws are one
per image (an offset, a flip decision), vectorized: no Python loop over the images.

Each random transform splits into ``sample(...)`` (the draws) and ``apply(x, ...)``
(deterministic), so what a call did can be reproduced and tested.

Example:
    >>> import numpy as np
    >>> from nnbasics.data.transforms import Compose, RandomShift, RandomHorizontalFlip, Normalize
    >>> aug = Compose([RandomShift(2), RandomHorizontalFlip(0.5), Normalize(0.286, 0.353)])
    >>> x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    >>> aug(x, np.random.default_rng(1)).shape
    (8, 1, 28, 28)
"""

from __future__ import annotations

from .._validate import is_int, is_real, pair
from ..backend import default_float, xp
from ..rng import as_generator
from ..tensor import Tensor, as_tensor

__all__ = [
    "Compose",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomShift",
    "RandomVerticalFlip",
    "ToFloat",
]

_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


# ------------------------------------------------------------------ helpers
def _unwrap(x):
    """(ndarray, was_tensor): transforms accept ndarrays, array-likes and Tensors."""
    if isinstance(x, Tensor):
        return x._array, True
    return xp.asarray(x), False


def _wrap(a, was_tensor):
    return as_tensor(a) if was_tensor else a


def _check_images(x, owner):
    if x.ndim != 4:
        hint = " Add the channel dim with x[:, None]." if x.ndim == 3 else ""
        raise ValueError(
            f"{owner} expected a batch of images of shape (N, C, H, W); got shape {tuple(x.shape)}.{hint}"
        )


def _padding4(padding, owner):
    """torchvision's padding: int (all sides), (lr, tb) or (left, top, right, bottom) -> (l, t, r, b)."""
    if padding is None:
        return (0, 0, 0, 0)
    if is_int(padding):
        p = (int(padding),) * 4
    else:
        try:
            p = tuple(padding)
        except TypeError:
            p = ()
        if len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
    if len(p) != 4 or any(not is_int(d) or d < 0 for d in p):
        raise ValueError(
            f"{owner}: padding must be a non-negative int, a pair (left/right, top/bottom) or a 4-tuple "
            f"(left, top, right, bottom); got {padding!r}."
        )
    return tuple(int(d) for d in p)


def _check_padding_mode(mode, owner):
    if mode not in _PADDING_MODES:
        raise ValueError(f"{owner}: padding_mode must be one of {_PADDING_MODES}; got {mode!r}.")
    return mode


def _check_p(p, owner):
    if not is_real(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{owner}: p (the probability of flipping an image) must be in [0, 1]; got {p!r}.")
    return float(p)


def _pad_images(x, pad, mode, fill):
    """Pad (N, C, H, W) by pad = (left, top, right, bottom) on H and W."""
    left, top, right, bottom = pad
    if not any(pad):
        return x
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    if mode == "constant":
        out = xp.full(x.shape[:2] + (x.shape[2] + top + bottom, x.shape[3] + left + right), fill, dtype=x.dtype)
        out[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
        return out
    return xp.pad(x, width, mode=mode)


def _crop_each(padded, top, left, h, w):
    """out[n] = padded[n, :, top[n]:top[n]+h, left[n]:left[n]+w], gathered in one indexing op.

    Shape: padded (N, C, Hp, Wp), top/left (N,) ints -> (N, C, h, w).
    """
    N = padded.shape[0]
    # all h x w windows as a strided view (N, C, Hp-h+1, Wp-w+1, h, w), no copy; advanced indices on
    # axes 0, 2, 3 pick one window per image -> (N, C, h, w) (the slice on C stays in place)
    windows = xp.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
    return windows[xp.arange(N), :, top, left]


# --------------------------------------------------------------- transforms
class Compose:
    """Apply transforms in order, passing the same ``rng`` to each.

    Args:
        transforms: a sequence of callables ``t(x, rng)``.

    Shape:
        whatever the transforms take and return, typically (N, C, H, W) -> (N, C, H', W').

    Example:
        >>> Compose([ToFloat(), Normalize(0.5, 0.5)])
        Compose([ToFloat(dtype=float32), Normalize(mean=[0.5], std=[0.5])])
    """

    def __init__(self, transforms):
        try:
            transforms = list(transforms)
        except TypeError:
            raise TypeError(f"Compose expected a list of transforms; got {type(transforms).__name__}.") from None
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} ({t!r}) is not callable as t(x, rng).")
        self.transforms = transforms

    def __call__(self, x, rng=None):
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self):
        return f"Compose([{', '.join(map(repr, self.transforms))}])"


class _Random:
    """Base of the random transforms: ``self.rng`` is a Generator made once from the constructor's ``rng``."""

    def __init__(self, rng):
        self.rng = as_generator(rng)

    def _generator(self, rng):
        return self.rng if rng is None else as_generator(rng)


class RandomCrop(_Random):
    """Pad every image, then crop a ``size`` window at a random position, one position per image.

    Args:
        size: output (h, w), or an int for a square.
        padding: None, an int (all sides), a pair (left/right, top/bottom) or a 4-tuple
            (left, top, right, bottom), as torchvision.
        pad_if_needed: when the (padded) image is smaller than ``size``, pad it evenly on both
            sides to fit (instead of raising).
        fill: the value of constant padding.
        padding_mode: 'constant' (``fill``), 'edge', 'reflect' or 'symmetric' (NumPy's modes).
        rng: Generator, int seed or None, for calls made without ``rng``.

    Shape:
        (N, C, H, W) -> (N, C, h, w), same dtype.

    Example:
        >>> import numpy as np
        >>> RandomCrop(28, padding=4, rng=0)(np.zeros((5, 1, 28, 28), np.float32)).shape
        (5, 1, 28, 28)
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant", rng=None):
        super().__init__(rng)
        self.size = pair(size, "RandomCrop: size")
        self.padding = _padding4(padding, "RandomCrop")
        self.pad_if_needed = bool(pad_if_needed)
        if not is_real(fill):
            raise TypeError(f"RandomCrop: fill must be a number; got {fill!r}.")
        self.fill = fill
        self.padding_mode = _check_padding_mode(padding_mode, "RandomCrop")

    def pad(self, x):
        """The padded batch (N, C, Hp, Wp) that crops are taken from (an ndarray)."""
        x, _ = _unwrap(x)
        owner = type(self).__name__
        _check_images(x, owner)
        padded = _pad_images(x, self.padding, self.padding_mode, self.fill)
        h, w = self.size
        Hp, Wp = padded.shape[2:]
        if self.pad_if_needed and (Hp < h or Wp < w):
            dh, dw = max(h - Hp, 0), max(w - Wp, 0)
            padded = _pad_images(padded, (dw // 2, dh // 2, dw - dw // 2, dh - dh // 2), self.padding_mode, self.fill)
            Hp, Wp = padded.shape[2:]
        if Hp < h or Wp < w:
            raise ValueError(
                f"{owner} expected images of at least {self.size} after padding {self.padding}; got shape "
                f"{tuple(x.shape)} (padded {(Hp, Wp)}). Use a smaller size, more padding or pad_if_needed=True."
            )
        return padded

    def sample(self, n, padded_hw, rng=None):
        """Draw (top, left), two (n,) int arrays: the corner of each image's crop in the padded image."""
        gen = self._generator(rng)
        (h, w), (Hp, Wp) = self.size, padded_hw
        top = gen.integers(0, Hp - h + 1, size=n)
        left = gen.integers(0, Wp - w + 1, size=n)
        return top, left

    def apply(self, x, top, left):
        """Crop image n of the padded batch at (top[n], left[n]) -> (N, C, h, w)."""
        x, was_tensor = _unwrap(x)
        padded = self.pad(x)
        return _wrap(_crop_each(padded, xp.asarray(top), xp.asarray(left), *self.size), was_tensor)

    def __call__(self, x, rng=None):
        x, was_tensor = _unwrap(x)
        padded = self.pad(x)
        top, left = self.sample(x.shape[0], padded.shape[2:], rng)
        return _wrap(_crop_each(padded, top, left, *self.size), was_tensor)

    def __repr__(self):
        return (f"RandomCrop(size={self.size}, padding={self.padding}, pad_if_needed={self.pad_if_needed}, "
                f"fill={self.fill}, padding_mode={self.padding_mode!r})")


class RandomShift(_Random):
    """Translate every image by a random whole-pixel offset (dy, dx), one per image, filling the gap.

    ``out[n, c, y, x] = in[n, c, y - dy[n], x - dx[n]]`` (``fill`` where that falls outside),
    with dy, dx drawn uniformly from {-max_shift, ..., max_shift}: positive dy moves the
    content down, positive dx to the right. The same as ``RandomCrop((H, W), padding=max_shift)``.

    Args:
        max_shift: the largest shift in pixels, an int or a pair (max_dy, max_dx).
        fill: the value shifted in (padding_mode 'constant').
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.
        rng: Generator, int seed or None, for calls made without ``rng``.

    Shape:
        (N, C, H, W) -> (N, C, H, W), same dtype.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((1, 1, 3, 3), np.float32); x[0, 0, 1, 1] = 1
        >>> RandomShift(1).apply(x, dy=[1], dx=[0])[0, 0]
        array([[0., 0., 0.],
               [0., 0., 0.],
               [0., 1., 0.]], dtype=float32)
    """

    def __init__(self, max_shift, fill=0, padding_mode="constant", rng=None):
        super().__init__(rng)
        self.max_shift = pair(max_shift, "RandomShift: max_shift", low=0)
        if not is_real(fill):
            raise TypeError(f"RandomShift: fill must be a number; got {fill!r}.")
        self.fill = fill
        self.padding_mode = _check_padding_mode(padding_mode, "RandomShift")

    def sample(self, n, rng=None):
        """Draw (dy, dx), two (n,) int arrays in [-max_shift, max_shift]."""
        gen = self._generator(rng)
        my, mx = self.max_shift
        dy = gen.integers(-my, my + 1, size=n)
        dx = gen.integers(-mx, mx + 1, size=n)
        return dy, dx

    def apply(self, x, dy, dx):
        """Shift image n by (dy[n], dx[n]) -> (N, C, H, W)."""
        x, was_tensor = _unwrap(x)
        _check_images(x, "RandomShift")
        dy, dx = xp.asarray(dy), xp.asarray(dx)
        my, mx = self.max_shift
        n = x.shape[0]
        if dy.shape != (n,) or dx.shape != (n,) or (xp.abs(dy) > my).any() or (xp.abs(dx) > mx).any():
            raise ValueError(f"RandomShift.apply expected integer dy, dx of shape ({n},) within max_shift "
                             f"{self.max_shift}; got shapes {dy.shape} and {dx.shape}.")
        padded = _pad_images(x, (mx, my, mx, my), self.padding_mode, self.fill)
        # out[y] = in[y - dy] = padded[y - dy + my]: the crop starts at my - dy
        return _wrap(_crop_each(padded, my - dy, mx - dx, x.shape[2], x.shape[3]), was_tensor)

    def __call__(self, x, rng=None):
        a, _ = _unwrap(x)
        _check_images(a, "RandomShift")
        return self.apply(x, *self.sample(a.shape[0], rng))

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill}, padding_mode={self.padding_mode!r})"


class _RandomFlip(_Random):
    _axis = -1

    def __init__(self, p=0.5, rng=None):
        super().__init__(rng)
        self.p = _check_p(p, type(self).__name__)

    def sample(self, n, rng=None):
        """Draw the (n,) bool mask of the images to flip (each with probability p)."""
        return self._generator(rng).random(n) < self.p

    def apply(self, x, mask):
        """Flip the images where ``mask`` is True; the others are copied unchanged."""
        x, was_tensor = _unwrap(x)
        _check_images(x, type(self).__name__)
        mask = xp.asarray(mask, dtype=bool)
        if mask.shape != (x.shape[0],):
            raise ValueError(f"{type(self).__name__}.apply expected a mask of shape ({x.shape[0]},); got {mask.shape}.")
        out = x.copy()
        out[mask] = xp.flip(x[mask], axis=self._axis)
        return _wrap(out, was_tensor)

    def __call__(self, x, rng=None):
        a, _ = _unwrap(x)
        _check_images(a, type(self).__name__)
        return self.apply(x, self.sample(a.shape[0], rng))

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left-right (along W) with probability ``p``, independently per image.

    Args:
        p: the probability of flipping an image, in [0, 1].
        rng: Generator, int seed or None, for calls made without ``rng``.

    Shape:
        (N, C, H, W) -> (N, C, H, W), same dtype.

    Example:
        >>> import numpy as np
        >>> RandomHorizontalFlip(1.0)(np.arange(3.0).reshape(1, 1, 1, 3))[0, 0, 0].tolist()
        [2.0, 1.0, 0.0]
    """

    _axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top-bottom (along H) with probability ``p``; as :class:`RandomHorizontalFlip`."""

    _axis = -2


class Normalize:
    """Standardize per channel: ``out[:, c] = (x[:, c] - mean[c]) / std[c]``.

    Args:
        mean: a number (every channel) or one number per channel.
        std: a positive number or one per channel.

    Shape:
        (N, C, H, W) floating -> same shape and dtype.

    Example:
        >>> import numpy as np
        >>> Normalize([0.5], [0.25])(np.ones((1, 1, 2, 2), np.float32))[0, 0].tolist()
        [[2.0, 2.0], [2.0, 2.0]]
    """

    def __init__(self, mean, std):
        self.mean = self._vector(mean, "mean")
        self.std = self._vector(std, "std")
        if not (self.std > 0).all():
            raise ValueError(f"Normalize: std must be positive (it divides); got {self.std.tolist()}.")
        if self.mean.size != self.std.size and 1 not in (self.mean.size, self.std.size):
            raise ValueError(f"Normalize: mean has {self.mean.size} values and std {self.std.size}; give one per channel.")

    @staticmethod
    def _vector(v, name):
        a = xp.asarray(v, dtype=xp.float64).reshape(-1)
        if a.size == 0 or not xp.isfinite(a).all():
            raise ValueError(f"Normalize: {name} must be a finite number or one per channel; got {v!r}.")
        return a

    def _stats(self, x):
        _check_images(x, "Normalize")
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize expected floating-point images; got {x.dtype}. Apply ToFloat() first.")
        C = x.shape[1]
        for a, name in ((self.mean, "mean"), (self.std, "std")):
            if a.size not in (1, C):
                raise ValueError(f"Normalize expected {a.size} channel(s) (len({name})); got shape {tuple(x.shape)} "
                                 f"with {C} channels.")
        shape = (1, -1, 1, 1)
        return self.mean.astype(x.dtype).reshape(shape), self.std.astype(x.dtype).reshape(shape)

    def __call__(self, x, rng=None):
        x, was_tensor = _unwrap(x)
        mean, std = self._stats(x)
        return _wrap((x - mean) / std, was_tensor)

    def inverse(self, x):
        """Undo the normalization: ``x * std + mean`` (e.g. to show an image)."""
        x, was_tensor = _unwrap(x)
        mean, std = self._stats(x)
        return _wrap(x * std + mean, was_tensor)

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class ToFloat:
    """Convert images to floats: integers scaled to [0, 1] by their type's maximum (uint8: / 255).

    Floating inputs are only cast to ``dtype``; booleans become 0 and 1.

    Args:
        dtype: the floating dtype of the output (float32 by default).

    Shape:
        any -> same shape.

    Example:
        >>> import numpy as np
        >>> ToFloat()(np.array([0, 51, 255], np.uint8)).tolist()
        [0.0, 0.20000000298023224, 1.0]
    """

    def __init__(self, dtype=None):
        self.dtype = xp.dtype(default_float if dtype is None else dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"ToFloat: dtype must be floating point; got {self.dtype}.")

    def __call__(self, x, rng=None):
        x, was_tensor = _unwrap(x)
        if x.dtype.kind in "iu":
            out = x.astype(self.dtype)
            out /= self.dtype.type(xp.iinfo(x.dtype).max)
        elif x.dtype.kind in "fb":
            out = x.astype(self.dtype)
        else:
            raise TypeError(f"ToFloat expected integer, bool or float images; got {x.dtype}.")
        return _wrap(out, was_tensor)

    def __repr__(self):
        return f"ToFloat(dtype={self.dtype})"
