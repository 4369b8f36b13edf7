"""Generated datasets: seeded, no I/O, each returning ``(X, y)`` ndarrays.

Features are float32; class labels int64; regression and sequence targets
float32. Every generator takes ``rng`` (Generator, int seed or None), resolved
by :func:`nnbasics.rng.as_generator`; the same seed gives the same data.

Example:
    >>> X, y = spiral(n_per_class=100, n_classes=3, rng=0)
    >>> X.shape, X.dtype.name, y.shape, y.dtype.name
    ((300, 2), 'float32', (300,), 'int64')
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validate import check_int, check_real, is_int
from ..rng import as_generator

__all__ = [
    "HIHELLO_VOCAB",
    "addition_task",
    "blobs",
    "circles",
    "copy_task",
    "hihello",
    "moons",
    "shapes",
    "sine",
    "spiral",
    "xor",
]

#: The characters of the lecture's "hihello" example, in index order.
HIHELLO_VOCAB = ("h", "i", "e", "l", "o")


def _split_counts(n, k):
    """n samples over k classes as evenly as possible (the first n % k classes get one more)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _one_hot(ids, depth):
    out = np.zeros(ids.shape + (depth,), np.float32)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


def xor(n=200, margin=0.0, rng=None):
    """Points in the square [-1, 1]^2 labelled by the XOR of their coordinates' signs.

    ``y = (x0 > 0) != (x1 > 0)``: class 1 in the 2nd and 4th quadrants. Not linearly
    separable; a 2-2-1 network with a nonlinearity solves it. The classes are balanced
    (class-major order, as the other generators); quadrants within a class are random.

    Args:
        n: number of points (split as evenly as possible between the classes).
        margin: keep every point at least this far from both axes (0 <= margin < 1),
            so the classes are separated by a gap of ``2 * margin``.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, 2)``, y int64 ``(n,)`` in {0, 1}.
    """
    n = check_int(n, "xor: n", low=1)
    margin = check_real(margin, "xor: margin", low=0, finite=True)
    if margin >= 1:
        raise ValueError(f"xor: margin must be < 1 (points live in [-1, 1]^2). Got {margin}.")
    g = as_generator(rng)
    y = np.repeat(np.arange(2, dtype=np.int64), _split_counts(n, 2))  # balanced, class-major
    mag = g.uniform(margin, 1.0, size=(n, 2))
    s0 = np.where(g.random(n) < 0.5, -1.0, 1.0)
    s1 = np.where(y == 0, s0, -s0)  # same signs: class 0; opposite signs: class 1
    X = np.maximum(mag, np.finfo(np.float32).tiny) * np.c_[s0, s1]  # never exactly 0: the sign is defined
    return X.astype(np.float32), y


def spiral(n_per_class=100, n_classes=3, noise=0.2, rng=None):
    """CS231n's interleaved spirals: class ``j`` winds out from the origin along its own arm.

    For class ``j``: ``r = linspace(0, 1, N)``, ``t = linspace(4j, 4(j+1), N) + noise * N(0, 1)``,
    ``x = (r sin t, r cos t)`` (https://cs231n.github.io/neural-networks-case-study/).

    Args:
        n_per_class: points per class.
        n_classes: number of arms (classes).
        noise: standard deviation of the angle jitter.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n_per_class * n_classes, 2)``, y int64 (class-major order).
    """
    n_per_class = check_int(n_per_class, "spiral: n_per_class", low=1)
    n_classes = check_int(n_classes, "spiral: n_classes", low=1)
    noise = check_real(noise, "spiral: noise", low=0, finite=True)
    g = as_generator(rng)
    X = np.zeros((n_per_class * n_classes, 2), np.float64)
    y = np.zeros(n_per_class * n_classes, np.int64)
    for j in range(n_classes):
        sl = slice(n_per_class * j, n_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, n_per_class) + g.standard_normal(n_per_class) * noise
        X[sl] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[sl] = j
    return X.astype(np.float32), y


def circles(n=200, noise=0.05, factor=0.5, rng=None):
    """Two concentric circles: the outer one (radius 1) is class 0, the inner (radius ``factor``) class 1.

    Args:
        n: number of points (split as evenly as possible between the circles).
        noise: standard deviation of Gaussian noise added to each coordinate.
        factor: inner radius, 0 < factor < 1.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, 2)``, y int64 ``(n,)``.
    """
    n = check_int(n, "circles: n", low=2)
    noise = check_real(noise, "circles: noise", low=0, finite=True)
    if not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"circles: factor (inner radius) must be in (0, 1). Got {factor!r}.")
    g = as_generator(rng)
    n_out, n_in = _split_counts(n, 2)
    t_out = g.uniform(0, 2 * np.pi, n_out)
    t_in = g.uniform(0, 2 * np.pi, n_in)
    X = np.r_[np.c_[np.cos(t_out), np.sin(t_out)], factor * np.c_[np.cos(t_in), np.sin(t_in)]]
    X = X + g.normal(0.0, noise, X.shape) if noise else X
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n_in, np.int64)]
    return X.astype(np.float32), y


def moons(n=200, noise=0.1, rng=None):
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry).

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` uniform in [0, pi].

    Args:
        n: number of points (split as evenly as possible between the moons).
        noise: standard deviation of Gaussian noise added to each coordinate.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, 2)``, y int64 ``(n,)``.
    """
    n = check_int(n, "moons: n", low=2)
    noise = check_real(noise, "moons: noise", low=0, finite=True)
    g = as_generator(rng)
    n0, n1 = _split_counts(n, 2)
    t0 = g.uniform(0, np.pi, n0)
    t1 = g.uniform(0, np.pi, n1)
    X = np.r_[np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]]
    X = X + g.normal(0.0, noise, X.shape) if noise else X
    y = np.r_[np.zeros(n0, np.int64), np.ones(n1, np.int64)]
    return X.astype(np.float32), y


def blobs(n=200, centers=3, n_features=2, cluster_std=1.0, center_box=(-10.0, 10.0), rng=None):
    """Isotropic Gaussian blobs, one per class.

    Args:
        n: number of points (split as evenly as possible between the blobs).
        centers: number of blobs (centres drawn uniformly in ``center_box``) or an array
            ``(k, n_features)`` of centres.
        n_features: dimension of the points (ignored when ``centers`` is an array).
        cluster_std: standard deviation of every blob.
        center_box: (low, high) for randomly drawn centres.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, n_features)``, y int64 ``(n,)``.
    """
    n = check_int(n, "blobs: n", low=1)
    cluster_std = check_real(cluster_std, "blobs: cluster_std", low=0, finite=True)
    g = as_generator(rng)
    if is_int(centers):
        k = check_int(centers, "blobs: centers", low=1)
        d = check_int(n_features, "blobs: n_features", low=1)
        lo, hi = center_box
        C = g.uniform(lo, hi, size=(k, d))
    else:
        C = np.asarray(centers, np.float64)
        if C.ndim != 2 or C.shape[0] < 1:
            raise ValueError(f"blobs: centers must be an int or an array (k, n_features). Got shape {C.shape}.")
        k = C.shape[0]
    counts = _split_counts(n, k)
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    X = C[y] + g.normal(0.0, cluster_std, size=(n, C.shape[1]))
    return X.astype(np.float32), y


def sine(n=256, seq_len=20, freq_range=(0.5, 2.0), dt=0.1, noise=0.0, many_to_many=False, rng=None):
    """Windows of sine waves for next-value prediction.

    Sample ``i`` is ``x_t = sin(2 pi f_i t dt + phi_i) + noise``, ``t = 0..seq_len``, with the
    frequency ``f_i`` uniform in ``freq_range`` and the phase ``phi_i`` uniform in [0, 2 pi).
    The input is the first ``seq_len`` values; the target is the next value (or, with
    ``many_to_many=True``, the window shifted by one step).

    Args:
        n: number of windows.
        seq_len: input length T.
        freq_range: (low, high) frequency in cycles per unit time (equal bounds: one frequency).
        dt: time step.
        noise: standard deviation of Gaussian noise on the inputs (targets stay clean).
        many_to_many: return targets ``(n, T, 1)`` (the input shifted by one) instead of ``(n, 1)``.
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, T, 1)``, y float32 ``(n, 1)`` or ``(n, T, 1)``.
    """
    n = check_int(n, "sine: n", low=1)
    seq_len = check_int(seq_len, "sine: seq_len", low=1)
    noise = check_real(noise, "sine: noise", low=0, finite=True)
    lo, hi = freq_range
    if not 0 <= lo <= hi:
        raise ValueError(f"sine: freq_range must be (low, high) with 0 <= low <= high. Got {freq_range!r}.")
    g = as_generator(rng)
    f = g.uniform(lo, hi, size=(n, 1))
    phase = g.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(seq_len + 1) * dt
    wave = np.sin(2 * np.pi * f * t + phase)  # (n, T + 1)
    X = wave[:, :-1] + (g.normal(0.0, noise, (n, seq_len)) if noise else 0.0)
    y = wave[:, 1:, None] if many_to_many else wave[:, -1:]
    return X[..., None].astype(np.float32), y.astype(np.float32)


def copy_task(n=256, seq_len=10, n_symbols=8, delay=0, one_hot=False, rng=None):
    """The copy (memory) task: read ``seq_len`` symbols, wait, then reproduce them after a delimiter.

    Vocabulary: 0 = blank, 1 = delimiter, ``2 .. n_symbols + 1`` = the symbols.
    Input:  ``s_1 .. s_T, blank * delay, delim, blank * T``  (length ``L = 2T + delay + 1``);
    target: ``blank * (T + delay + 1), s_1 .. s_T``. A model with no memory can do no
    better than predicting blanks and a uniform symbol (Hochreiter & Schmidhuber 1997;
    Arjovsky et al. 2016).

    Args:
        n: number of sequences.
        seq_len: number of symbols T to copy.
        n_symbols: alphabet size (>= 1).
        delay: extra blanks between the symbols and the delimiter.
        one_hot: return X as float32 one-hot ``(n, L, n_symbols + 2)`` instead of ids.
        rng: Generator, int seed or None.

    Returns:
        X int64 ``(n, L)`` (or float32 one-hot), y int64 ``(n, L)``.
    """
    n = check_int(n, "copy_task: n", low=1)
    T = check_int(seq_len, "copy_task: seq_len", low=1)
    n_symbols = check_int(n_symbols, "copy_task: n_symbols", low=1)
    delay = check_int(delay, "copy_task: delay", low=0)
    g = as_generator(rng)
    L = 2 * T + delay + 1
    symbols = g.integers(2, n_symbols + 2, size=(n, T))
    X = np.zeros((n, L), np.int64)
    y = np.zeros((n, L), np.int64)
    X[:, :T] = symbols
    X[:, T + delay] = 1
    y[:, T + delay + 1:] = symbols
    return (_one_hot(X, n_symbols + 2) if one_hot else X), y


def addition_task(n=256, seq_len=50, rng=None):
    """Hochreiter & Schmidhuber's adding problem: sum the two marked numbers of a long sequence.

    Channel 0 holds values uniform in [0, 1]; channel 1 is a marker, 1 at exactly two
    positions (one in each half of the sequence, as in Le et al. 2015) and 0 elsewhere.
    The target is the sum of the two marked values. Predicting the constant 1.0 gives a
    mean squared error of about 1/6 -- the baseline a model must beat.

    Args:
        n: number of sequences.
        seq_len: sequence length T (>= 2).
        rng: Generator, int seed or None.

    Returns:
        X float32 ``(n, T, 2)``, y float32 ``(n, 1)``.
    """
    n = check_int(n, "addition_task: n", low=1)
    T = check_int(seq_len, "addition_task: seq_len", low=2)
    g = as_generator(rng)
    values = g.random((n, T))
    half = T // 2
    first = g.integers(0, half, size=n)
    second = g.integers(half, T, size=n)
    marks = np.zeros((n, T))
    rows = np.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second])[:, None]
    X = np.stack([values, marks], axis=-1)
    return X.astype(np.float32), y.astype(np.float32)


def hihello(one_hot=False, rng=None):
    """The lecture's toy sequence: learn to map "hihell" to "ihello" one character ahead.

    Vocabulary :data:`HIHELLO_VOCAB` = ``('h', 'i', 'e', 'l', 'o')``;
    ``X = [[0, 1, 0, 2, 3, 3]]`` ("hihell"), ``y = [[1, 0, 2, 3, 3, 4]]`` ("ihello").

    Args:
        one_hot: return X as float32 one-hot ``(1, 6, 5)`` instead of ids.
        rng: accepted for a uniform interface; the data are fixed.

    Returns:
        X int64 ``(1, 6)`` (or float32 one-hot), y int64 ``(1, 6)``.
    """
    index = {c: i for i, c in enumerate(HIHELLO_VOCAB)}
    X = np.array([[index[c] for c in "hihell"]], np.int64)
    y = np.array([[index[c] for c in "ihello"]], np.int64)
    return (_one_hot(X, len(HIHELLO_VOCAB)) if one_hot else X), y


# Short aliases used by the shared interface (``synthetic.copy``, ``synthetic.addition``).
copy = copy_task
addition = addition_task


#: The classes of :func:`shapes`, in label order.
SHAPE_CLASSES = ("horizontal bar", "vertical bar", "square outline", "filled square", "plus", "diagonal", "ring",
                 "x")


def shapes(n=1000, size=16, noise=0.1, rng=None):
    """Small grey images of eight shape classes, at random positions and scales, with noise.

    A generated stand-in for an image dataset where *where* a pattern sits varies and
    *what* it is does not, so weight sharing pays: a small CNN beats an MLP of similar size.
    Classes (labels 0-7, :data:`SHAPE_CLASSES`): horizontal bar, vertical bar, square
    outline, filled square, plus, diagonal (top-left to bottom-right), ring, x. Each image
    draws a half-size ``s ~ U(0.2, 0.38) * size``, an integer centre that keeps the shape
    inside the frame, a stroke half-width ``max(0.5, size / 32)`` and a brightness
    ``U(0.7, 1)``; then Gaussian pixel noise of std ``noise`` is added and the result
    clipped to [0, 1]. Labels are balanced and class-major, as the other generators.

    Args:
        n: number of images (split as evenly as possible between the 8 classes).
        size: image height and width in pixels (>= 8).
        noise: standard deviation of the additive pixel noise (>= 0).
        rng: Generator, int seed or None.

    Shape:
        X: ``(n, 1, size, size)``; y: ``(n,)``.

    Returns:
        X float32 in [0, 1], y int64 in {0, ..., 7}.

    Example:
        >>> X, y = shapes(n=16, size=16, rng=0)
        >>> X.shape, X.dtype.name, y.dtype.name, int(y.max())
        ((16, 1, 16, 16), 'float32', 'int64', 7)
    """
    n = check_int(n, "shapes: n", low=1)
    size = check_int(size, "shapes: size", low=8)
    noise = check_real(noise, "shapes: noise", low=0, finite=True)
    g = as_generator(rng)
    k = len(SHAPE_CLASSES)
    y = np.repeat(np.arange(k, dtype=np.int64), _split_counts(n, k))
    s = g.uniform(0.2, 0.38, size=n) * size  # half-size, pixels
    lo = np.ceil(s).astype(np.int64)
    hi = size - 1 - lo  # centre range keeping the shape in the frame (>= lo since s < 0.4 * size)
    cy = lo + np.floor(g.random(n) * (hi - lo + 1)).astype(np.int64)
    cx = lo + np.floor(g.random(n) * (hi - lo + 1)).astype(np.int64)
    bright = g.uniform(0.7, 1.0, size=n)
    h = max(0.5, size / 32)  # stroke half-width
    grid = np.arange(size, dtype=np.float64)
    dy = grid[None, :, None] - cy[:, None, None]  # (n, size, 1)
    dx = grid[None, None, :] - cx[:, None, None]  # (n, 1, size)
    ady, adx = np.abs(dy), np.abs(dx)
    s3 = s[:, None, None]
    box = np.maximum(ady, adx)  # (n, size, size): Chebyshev distance from the centre
    inside = box <= s3
    masks = (
        (ady <= h) & (adx <= s3),  # horizontal bar
        (adx <= h) & (ady <= s3),  # vertical bar
        inside & (box >= s3 - 2 * h),  # square outline
        inside,  # filled square
        ((ady <= h) | (adx <= h)) & inside,  # plus
        (np.abs(dx - dy) <= h) & inside,  # diagonal
        np.abs(np.sqrt(dy * dy + dx * dx) - s3) <= h + 0.25,  # ring
        ((np.abs(dx - dy) <= h) | (np.abs(dx + dy) <= h)) & inside,  # x
    )
    img = np.zeros((n, size, size), np.float64)
    for c, mask in enumerate(masks):
        sel = y == c
        img[sel] = mask[sel] * bright[sel, None, None]
    if noise > 0:
        img += g.normal(0.0, noise, size=img.shape)
    np.clip(img, 0.0, 1.0, out=img)
    return img[:, None].astype(np.float32), y
