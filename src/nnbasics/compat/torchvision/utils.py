"""``torchvision.utils``: ``make_grid`` (images side by side) and ``save_image``."""

from __future__ import annotations

import math

import numpy as np

from ...tensor import as_tensor
from ..unsupported import module_getattr

__all__ = ["make_grid", "save_image"]


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0,
              **kwargs):
    """Tile a batch ``(B, C, H, W)`` (or a list of (C, H, W)) into one image ``(3, H', W')``, as torchvision."""
    if isinstance(tensor, (list, tuple)):
        a = np.stack([np.asarray(t) for t in tensor])
    else:
        a = np.asarray(tensor)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = a[None] if a.shape[0] in (1, 3) else a[:, None]
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    a = a.astype(np.float32, copy=True)
    if normalize:
        def norm(x):
            lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
            return np.clip((x - lo) / max(hi - lo, 1e-5), 0, 1)

        a = np.stack([norm(x) for x in a]) if scale_each else norm(a)
    n = a.shape[0]
    if n == 1:
        return as_tensor(a[0])
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    h, w = a.shape[2] + padding, a.shape[3] + padding
    grid = np.full((a.shape[1], h * ymaps + padding, w * xmaps + padding), pad_value, dtype=np.float32)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * h + padding:y * h + padding + a.shape[2], x * w + padding:x * w + padding + a.shape[3]] = a[k]
    return as_tensor(grid)


def save_image(tensor, fp, nrow=8, padding=2, **kwargs):
    """Write ``make_grid(tensor)`` as an image file (PNG by extension), values in [0, 1]."""
    grid = np.asarray(make_grid(tensor, nrow=nrow, padding=padding, **kwargs))
    img = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
    import matplotlib.image as mpimg

    mpimg.imsave(fp, img)


__getattr__ = module_getattr(__name__)
