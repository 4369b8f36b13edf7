"""torchvision.datasets/transforms/utils under nnbasics run: torchvision's on-disk layout, values and batches."""

import pickle
import struct

import numpy as np
import pytest


def _idx(array):
    code = {np.uint8: 0x08}[array.dtype.type]
    return bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


@pytest.fixture
def mnist_root(tmp_path):
    """``tmp_path/data/MNIST/raw`` as torchvision leaves it (uncompressed IDX), 12 train / 4 test images."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 12), ("t10k", 4)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx((np.arange(n) % 10).astype(np.uint8)))
    return tmp_path / "data"


def test_mnist_layout_attributes_samples_and_batches(script, run, mnist_root):
    path = script("""
        import numpy as np
        import torch
        import torchvision
        import torchvision.datasets as dsets
        import torchvision.transforms as transforms
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
        train = dsets.MNIST(root="data/", train=True, transform=tf, download=True)
        test = dsets.MNIST("data", train=False, transform=transforms.ToTensor())
        x, y = train[3]
        raw = train.data[3].float().div(255) if hasattr(train.data, "div") else None
        expected = (train.data[3].numpy().astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
        batches = list(torch.utils.data.DataLoader(train, batch_size=5, shuffle=False))
        xb, yb = batches[0]
        print(len(train), len(test), tuple(x.shape), str(x.dtype), y, type(y).__name__,
              bool(np.allclose(x.numpy()[0], expected, atol=1e-6)), len(batches), tuple(xb.shape), yb.tolist(),
              bool(np.allclose(xb.numpy()[3], x.numpy())), tuple(test.test_data.shape), test.test_labels.tolist(),
              str(train.targets.dtype), train.classes[1], train.class_to_idx["1 - one"])
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["12", "4", "(1,", "28,", "28)", "float32", "3", "int", "True", "3", "(5,", "1,", "28,",
                           "28)", "[0,", "1,", "2,", "3,", "4]", "True", "(4,", "28,", "28)", "[0,", "1,", "2,", "3]",
                           "int64", "1", "-", "one", "1"]


def test_missing_mnist_is_not_replaced_by_fashion_mnist(script, run, tmp_path, monkeypatch):
    monkeypatch.setenv("NNBASICS_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from nnbasics.data import sources

    monkeypatch.setattr(sources, "SYSTEM_DATA_DIRS", (str(tmp_path / "sys"),))
    path = script("""
        import torchvision
        ds = torchvision.datasets.MNIST(root="MNIST_data/", train=True, download=False)
        print("loaded", len(ds))
    """)
    status, out, err = run(path)
    assert status == 2
    assert "loaded" not in out
    assert "line 3" in err and "MNIST" in err and "Traceback" not in err


def test_cifar10_layout(script, run, tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": [1, 7]}, protocol=2))
    path = script("""
        import torchvision, torchvision.transforms as T
        ds = torchvision.datasets.CIFAR10(root="./data", train=True, download=True,
                                          transform=T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=4),
                                                               T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)]))
        x, y = ds[0]
        print(len(ds), tuple(x.shape), y, ds.data.shape, type(ds.targets).__name__, ds.classes[y],
              float(x.min()) >= -1.0, float(x.max()) <= 1.0)
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["10", "(3,", "32,", "32)", "1", "(10,", "32,", "32,", "3)", "list", "automobile", "True",
                           "True"]


def test_transforms_on_arrays_tensors_and_images(script, run):
    path = script("""
        import numpy as np
        import torch
        import torchvision.transforms as T
        import torchvision.transforms.functional as TF
        from torchvision.utils import make_grid
        img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
        t = T.ToTensor()(img)
        flipped = T.RandomHorizontalFlip(p=1.0)(t)
        crop = T.CenterCrop(2)(img)
        padded = T.Pad(1)(t)
        grey = T.Grayscale()(img)
        lam = T.Lambda(lambda x: x * 2)(t)
        grid = make_grid(torch.ones(5, 1, 2, 2), nrow=3, padding=1)
        print(tuple(t.shape), bool(torch.equal(flipped, TF.hflip(t))), bool((flipped[:, :, 0] == t[:, :, -1]).all()),
              crop.shape, tuple(padded.shape), grey.shape, float(lam.max()) == 2 * float(t.max()), tuple(grid.shape))
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["(3,", "4,", "6)", "True", "True", "(2,", "2,", "3)", "(3,", "6,", "8)", "(4,", "6,", "1)",
                           "True", "(3,", "7,", "10)"]


def test_image_folder(script, run, tmp_path):
    pil = pytest.importorskip("PIL.Image")
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(2):
            pil.fromarray(np.full((5, 7, 3), 40 * i, np.uint8)).save(tmp_path / "imgs" / cls / f"{i}.png")
    path = script("""
        import torch, torchvision
        ds = torchvision.datasets.ImageFolder("imgs", transform=torchvision.transforms.ToTensor())
        x, y = ds[3]
        print(len(ds), ds.classes, tuple(x.shape), y)
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.strip() == "4 ['cat', 'dog'] (3, 5, 7) 1"
