"""Batch image augmentation: determinism, exact pixel movement against hand-written references,
flips of exactly the chosen images, Normalize/ToFloat values, validation, DataLoader use."""

import pickle

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.data import DataLoader, TensorDataset
from nnbasics.data.transforms import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShift,
    RandomVerticalFlip,
    ToFloat,
)


def _images(rng, shape=(9, 2, 5, 7), dtype=np.float32):
    return (rng.standard_normal(shape) + 3).astype(dtype)  # no zeros: padding is visible


def _shift_reference(img, dy, dx):
    """np.roll, then zero what wrapped around: the definition of a zero-filled shift."""
    out = np.roll(img, (dy, dx), axis=(-2, -1))
    H, W = img.shape[-2:]
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., H + dy:, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, W + dx:] = 0
    return out


def test_shift_moves_pixels_by_the_drawn_offset(rng):
    x = _images(rng)
    t = RandomShift((2, 3))
    dy, dx = t.sample(len(x), np.random.default_rng(5))
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 3  # several distinct offsets in one batch
    y = t(x, np.random.default_rng(5))  # the same draws as sample
    assert y.shape == x.shape and y.dtype == x.dtype
    for n in range(len(x)):
        np.testing.assert_array_equal(y[n], _shift_reference(x[n], dy[n], dx[n]), err_msg=f"image {n}")
    assert np.abs(dy).max() <= 2 and np.abs(dx).max() <= 3
    np.testing.assert_array_equal(x, _images(np.random.default_rng(1234)))  # input untouched


def test_shift_single_pixel_direction():
    x = np.zeros((2, 1, 4, 5), np.float32)
    x[:, 0, 1, 2] = 1
    y = RandomShift(2).apply(x, dy=[2, -1], dx=[-2, 1])
    assert np.argwhere(y[0, 0] == 1).tolist() == [[3, 0]]  # down 2, left 2
    assert np.argwhere(y[1, 0] == 1).tolist() == [[0, 3]]  # up 1, right 1


def test_crop_matches_pad_then_slice_reference(rng):
    x = _images(rng, (8, 3, 6, 5))
    for mode in ("constant", "edge", "reflect", "symmetric"):
        t = RandomCrop((4, 6), padding=(1, 2, 3, 0), padding_mode=mode, fill=-1)
        top, left = t.sample(len(x), (6 + 2 + 0, 5 + 1 + 3), np.random.default_rng(3))
        y = t(x, np.random.default_rng(3))
        assert y.shape == (8, 3, 4, 6) and y.dtype == np.float32
        kw = {"constant_values": -1} if mode == "constant" else {}
        padded = np.pad(x, ((0, 0), (0, 0), (2, 0), (1, 3)), mode=mode, **kw)
        for n in range(len(x)):
            ref = padded[n, :, top[n]:top[n] + 4, left[n]:left[n] + 6]
            np.testing.assert_array_equal(y[n], ref, err_msg=f"{mode}, image {n}")


def test_crop_pad_if_needed_and_too_small():
    x = np.ones((2, 1, 3, 3), np.float32)
    assert RandomCrop(5, pad_if_needed=True, rng=0)(x).shape == (2, 1, 5, 5)
    with pytest.raises(ValueError, match=r"RandomCrop expected images of at least \(5, 5\).*got shape \(2, 1, 3, 3\)"):
        RandomCrop(5, rng=0)(x)


def test_seed_determinism_and_own_generator(rng):
    x = _images(rng)
    for make in (lambda: RandomShift(2, rng=7), lambda: RandomCrop(4, padding=1, rng=7),
                 lambda: RandomHorizontalFlip(rng=7)):
        a, b = make(), make()
        y1, y2 = a(x), b(x)
        np.testing.assert_array_equal(y1, y2)  # same constructor seed, same draws
        y3 = a(x)
        assert not np.array_equal(y1, y3)  # the own Generator advances
        np.testing.assert_array_equal(a(x, np.random.default_rng(1)), b(x, 1))  # an explicit rng wins
    t = Compose([RandomShift(1), RandomHorizontalFlip()])
    np.testing.assert_array_equal(t(x, np.random.default_rng(4)), t(x, np.random.default_rng(4)))


def test_horizontal_flip_flips_exactly_the_chosen_images(rng):
    x = _images(rng, (40, 2, 3, 5))
    t = RandomHorizontalFlip(0.5)
    mask = t.sample(len(x), np.random.default_rng(2))
    assert 0 < mask.sum() < len(x)
    y = t(x, np.random.default_rng(2))
    np.testing.assert_array_equal(y[mask], x[mask][..., ::-1])
    np.testing.assert_array_equal(y[~mask], x[~mask])
    v = RandomVerticalFlip(1.0)(x)
    np.testing.assert_array_equal(v, x[:, :, ::-1, :])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x), x)


def test_flip_probability_is_p():
    m = RandomHorizontalFlip(0.3).sample(20000, np.random.default_rng(0))
    assert abs(m.mean() - 0.3) < 0.015


def test_normalize_and_inverse(rng):
    x = _images(rng, (4, 3, 5, 7))
    mean, std = [0.1, 0.2, 0.3], [0.5, 2.0, 4.0]
    t = Normalize(mean, std)
    y = t(x)
    ref = (x.astype(np.float64) - np.array(mean)[None, :, None, None]) / np.array(std)[None, :, None, None]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t.inverse(y), x, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(Normalize(0.5, 2.0)(x), (x - 0.5) / 2, rtol=1e-6)  # scalars: every channel


def test_to_float():
    u = np.array([[[[0, 128, 255]]]], np.uint8)
    np.testing.assert_allclose(ToFloat()(u), u / 255.0, rtol=1e-7)
    assert ToFloat()(u).dtype == np.float32 and ToFloat("float64")(u).dtype == np.float64
    assert ToFloat()(np.array([True, False])).tolist() == [1.0, 0.0]
    y = Compose([ToFloat(), Normalize(0.5, 0.5)])(u)
    np.testing.assert_allclose(y.ravel(), [-1.0, 128 / 127.5 - 1, 1.0], rtol=1e-6, atol=1e-7)  # float32 cancellation


def test_tensors_in_tensors_out(rng):
    x = nb.tensor(_images(rng))
    y = RandomShift(1, rng=0)(x)
    assert isinstance(y, nb.Tensor) and y.shape == x.shape


@pytest.mark.parametrize("make,x,match", [
    (lambda: RandomShift(1), np.zeros((2, 5, 5), np.float32), r"RandomShift expected .*\(N, C, H, W\).*\(2, 5, 5\).*x\[:, None\]"),
    (lambda: RandomHorizontalFlip(), np.zeros((5, 5), np.float32), r"RandomHorizontalFlip expected .*got shape \(5, 5\)"),
    (lambda: Normalize([0.1, 0.2], [1, 1]), np.zeros((2, 3, 4, 4), np.float32), r"Normalize expected 2 channel.*3 channels"),
])
def test_bad_inputs_raise(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(x)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)
    with pytest.raises(ValueError, match="padding_mode"):
        RandomCrop(4, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding"):
        RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"p \(the probability"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="std must be positive"):
        Normalize(0.0, [1.0, 0.0])
    with pytest.raises(TypeError, match="ToFloat"):
        Normalize(0.0, 1.0)(np.zeros((1, 1, 2, 2), np.uint8))
    with pytest.raises(TypeError, match="not callable"):
        Compose([RandomShift(1), 3])
    with pytest.raises(ValueError, match="within max_shift"):
        RandomShift(1).apply(np.zeros((2, 1, 3, 3), np.float32), [2, 0], [0, 0])


def test_picklable_and_used_by_the_dataloader(rng):
    aug = Compose([RandomShift(2, rng=0), RandomHorizontalFlip(rng=0), Normalize(3.0, 1.0)])
    clone = pickle.loads(pickle.dumps(aug))
    x = _images(rng, (10, 1, 6, 6))
    np.testing.assert_array_equal(clone(x, 3), aug(x, 3))
    y = np.arange(10)
    runs = []
    for _ in range(2):
        loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, transform=aug, rng=11)
        runs.append([b[0]._array.copy() for b in loader])
    for a, b in zip(*runs):
        assert a.shape[1:] == (1, 6, 6) and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)  # the loader's seed drives the augmentation
