"""predict prepares inputs as training did (issue 14 item 5): raw uint8 pixels are divided by 255 (they
used to give 100% confidence in one class), one (28, 28) image needs no batch axis, PNG/JPEG files are
read with Pillow, inputs far outside the training range are warned about, NaN rows are refused."""

import numpy as np
import pytest

from nnbasics.cli import main
from nnbasics.data.idx import save_idx


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A tiny MLP on fake Fashion-MNIST files: class c lights row 2c (pixels 0-255 in the files)."""
    d = tmp_path_factory.mktemp("img")
    folder = d / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for (images, labels), n in ((("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), 200),
                                (("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), 50)):
        y = np.arange(n) % 10
        x = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        x[np.arange(n), 2 * y] = 255
        save_idx(folder / images, x)
        save_idx(folder / labels, y.astype(np.uint8))
    out = d / "run"
    assert main(["train", "fashion-mnist", "--data-root", str(d / "data"), "--no-download", "--hidden", "32",
                 "--epochs", "8", "--lr", "0.01", "--progress", "none", "--output", str(out)]) == 0
    return d, out


def _pixels(c):
    x = np.full((28, 28), 10, np.uint8)
    x[2 * c] = 255
    return x


def test_raw_uint8_pixels_are_scaled_as_in_training(image_run, capsys):
    d, run = image_run
    raw = np.stack([_pixels(c) for c in (1, 3, 8)])  # (3, 28, 28) uint8, 0-255
    np.save(d / "raw.npy", raw)
    np.save(d / "scaled.npy", raw.astype(np.float32) / 255)
    capsys.readouterr()
    assert main(["predict", str(run), str(d / "raw.npy"), "--proba"]) == 0
    out = capsys.readouterr()
    assert "divided by 255" in out.err
    raw_p = np.array([list(map(float, ln.split(","))) for ln in out.out.split()])
    assert main(["predict", str(run), str(d / "scaled.npy"), "--proba"]) == 0
    scaled_p = np.array([list(map(float, ln.split(","))) for ln in capsys.readouterr().out.split()])
    np.testing.assert_allclose(raw_p, scaled_p, rtol=1e-5)  # the same answer, not a saturated one
    assert raw_p.max() < 0.999 or raw_p.argmax(1).tolist() == [1, 3, 8]
    assert main(["predict", str(run), str(d / "raw.npy")]) == 0
    assert capsys.readouterr().out.splitlines() == ["1\tTrouser", "3\tDress", "8\tBag"]  # item 7: class names


def test_a_single_28x28_image_and_a_png(image_run, capsys):
    from PIL import Image

    d, run = image_run
    np.save(d / "one.npy", _pixels(4))  # (28, 28): one image, no batch axis
    assert main(["predict", str(run), str(d / "one.npy")]) == 0
    assert capsys.readouterr().out == "4\tCoat\n"
    Image.fromarray(_pixels(6)).save(d / "shirt.png")
    assert main(["predict", str(run), str(d / "shirt.png")]) == 0
    assert capsys.readouterr().out == "6\tShirt\n"
    Image.fromarray(_pixels(6)).resize((56, 56), Image.NEAREST).save(d / "big.png")
    assert main(["predict", str(run), str(d / "big.png")]) == 0
    out = capsys.readouterr()
    assert "resized to 28x28" in out.err and out.out == "6\tShirt\n"


@pytest.mark.parametrize("kind", ["rgb", "rgba", "palette", "grey16", "jpeg"])
def test_other_image_kinds_give_the_grey_png_class(image_run, capsys, kind):
    # held-out image kinds; a 16-bit PNG was clipped to all white by convert("L") (a silent wrong class)
    from PIL import Image

    d, run = image_run
    x = _pixels(2)
    image, name = {
        "rgb": (Image.fromarray(np.stack([x] * 3, -1)), "rgb.png"),
        "rgba": (Image.fromarray(np.stack([x] * 4, -1)), "rgba.png"),
        "palette": (Image.fromarray(x).convert("P"), "pal.png"),
        "grey16": (Image.fromarray(x.astype(np.uint16) * 257), "grey16.png"),
        "jpeg": (Image.fromarray(x), "pullover.jpg"),
    }[kind]
    image.save(d / name)
    capsys.readouterr()
    assert main(["predict", str(run), str(d / name)]) == 0
    assert capsys.readouterr().out == "2\tPullover\n"


def test_an_image_without_pillow_is_one_message(image_run, monkeypatch, capsys):
    import importlib.util

    d, run = image_run
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else real(name, *a))
    (d / "x.png").write_bytes(b"not read")
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(run), str(d / "x.png")])
    assert exc.value.code == 2 and "needs Pillow: pip install pillow" in capsys.readouterr().err


def test_inputs_far_outside_the_training_range_are_warned_about(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "spiral", "--epochs", "1", "--n-train", "60", "--hidden", "4", "--progress", "none",
                 "--output", str(run)]) == 0
    np.save(tmp_path / "far.npy", np.array([[300.0, -250.0]], np.float32))
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp_path / "far.npy")]) == 0
    assert "far outside the training data's" in capsys.readouterr().err
    np.save(tmp_path / "near.npy", np.array([[0.3, -0.2]], np.float32))
    assert main(["predict", str(run), str(tmp_path / "near.npy")]) == 0
    assert capsys.readouterr().err == ""
