"""The CNN model zoo: builds by name, shapes, parameter counts and state-dict keys equal to the
same torch nn.Sequential (and the same outputs with copied weights), pickling, and a short training."""

import pickle

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F
from nnbasics import nn
from nnbasics.models import available_models, build_model
from nnbasics.optim import Adam


# ---------------------------------------------------------- torch twins
def _torch_lenet5(tnn, image_size=28, activation="relu", pool="max", cin=1, ncls=10):
    act = {"relu": tnn.ReLU, "tanh": tnn.Tanh}[activation]
    P = tnn.MaxPool2d if pool == "max" else tnn.AvgPool2d
    pad = 2 if image_size == 28 else 0
    return tnn.Sequential(tnn.Conv2d(cin, 6, 5, padding=pad), act(), P(2), tnn.Conv2d(6, 16, 5), act(), P(2),
                          tnn.Flatten(), tnn.Linear(400, 120), act(), tnn.Linear(120, 84), act(), tnn.Linear(84, ncls))


def _torch_lab_cnn(tnn, cin=1, ncls=10, size=28):
    return tnn.Sequential(tnn.Conv2d(cin, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Dropout(0.3), tnn.Flatten(), tnn.Linear(64 * (size // 4) ** 2, ncls))


def _torch_lab_cnn_deep(tnn, batch_norm=False):
    layers, c = [], 1
    for w in (32, 64, 128):
        layers.append(tnn.Conv2d(c, w, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(tnn.BatchNorm2d(w))
        layers += [tnn.ReLU(), tnn.MaxPool2d(2, ceil_mode=True), tnn.Dropout(0.3)]
        c = w
    layers += [tnn.Flatten(), tnn.Linear(128 * 4 * 4, 625, bias=not batch_norm)]
    if batch_norm:
        layers.append(tnn.BatchNorm1d(625))
    layers += [tnn.ReLU(), tnn.Dropout(0.3), tnn.Linear(625, 10)]
    return tnn.Sequential(*layers)


CASES = [
    ("lenet5", {}, 28, 61706, lambda tnn: _torch_lenet5(tnn)),
    ("lenet5", {"image_size": 32}, 32, 61706, lambda tnn: _torch_lenet5(tnn, 32)),
    ("lenet5", {"activation": "tanh", "pool": "avg"}, 28, 61706, lambda tnn: _torch_lenet5(tnn, 28, "tanh", "avg")),
    ("lab-cnn", {}, 28, 50186, lambda tnn: _torch_lab_cnn(tnn)),
    ("lab-cnn-deep", {}, 28, 1379557, lambda tnn: _torch_lab_cnn_deep(tnn)),
    ("lab-cnn-deep", {"batch_norm": True}, 28, None, lambda tnn: _torch_lab_cnn_deep(tnn, True)),
]


@pytest.mark.parametrize("name,kw,size,count,make_torch", CASES)
def test_zoo_matches_the_torch_sequential(torch, rng, name, kw, size, count, make_torch):
    net = build_model(name, rng=0, **kw)
    assert isinstance(net, nn.Sequential)
    tnet = make_torch(torch.nn)
    sd, tsd = net.state_dict(), tnet.state_dict()
    assert list(sd) == list(tsd)
    assert [tuple(v.shape) for v in sd.values()] == [tuple(v.shape) for v in tsd.values()]
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == sum(p.numel() for p in tnet.parameters())
    if count is not None:
        assert n_params == count
    # same weights -> same outputs (eval: dropout off, batch norm on running statistics)
    tnet.load_state_dict({k: torch.from_numpy(v._array.copy()) for k, v in sd.items()})
    net.eval()
    tnet.eval()
    x = rng.standard_normal((3, 1, size, size)).astype(np.float32)
    with nb.no_grad():
        y = net(nb.tensor(x))
    assert y.shape == (3, 10)
    np.testing.assert_allclose(y._array, tnet(torch.tensor(x)).detach().numpy(), atol=1e-5, rtol=1e-4)


def test_every_name_is_registered_and_records_its_spec():
    names = available_models()
    for n in ("lenet5", "lab-cnn", "lab-cnn-deep"):
        assert names.get(n)
    net = build_model("lab-cnn", num_classes=3, dropout=0.1, rng=0)
    assert net.spec["model"] == "lab-cnn"
    assert net.spec["num_classes"] == 3 and net.spec["dropout"] == 0.1 and net.spec["image_size"] == 28
    again = build_model(net.spec, rng=0)
    for (k, a), (_, b) in zip(net.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a._array, b._array, err_msg=k)  # the spec rebuilds the same model


def test_shapes_for_other_sizes_and_channels():
    x = nb.randn(2, 3, 32, 32, rng=0)
    with nb.no_grad():
        assert build_model("lab-cnn", in_channels=3, image_size=32, num_classes=5, rng=0)(x).shape == (2, 5)
        assert build_model("lab-cnn-deep", in_channels=3, image_size=32, rng=0)(x).shape == (2, 10)
        assert build_model("lenet5", in_channels=3, image_size=32, rng=0)(x).shape == (2, 10)
        assert build_model("lab-cnn", image_size=[12, 16], rng=0)(nb.randn(2, 1, 12, 16, rng=1)).shape == (2, 10)
        # odd sizes: lab-cnn floors (7 -> 3), lab-cnn-deep keeps the TF 'SAME' ceil (7 -> 4 -> 2 -> 1)
        assert build_model("lab-cnn", image_size=14, rng=0)[8].in_features == 64 * 3 * 3
        assert build_model("lab-cnn-deep", image_size=7, rng=0)[13].in_features == 128


def test_models_pickle_and_are_deterministic_from_the_seed():
    x = nb.randn(2, 1, 28, 28, rng=3)
    for name in ("lenet5", "lab-cnn", "lab-cnn-deep"):
        a, b = build_model(name, rng=5), build_model(name, rng=5)
        a.eval()
        clone = pickle.loads(pickle.dumps(a))
        with nb.no_grad():
            ya = a(x)._array
            np.testing.assert_array_equal(clone(x)._array, ya)
            np.testing.assert_array_equal(b.eval()(x)._array, ya)


@pytest.mark.parametrize("name,kw,match", [
    ("lab-cnn", {"image_size": 3}, "image_size"),
    ("lenet5", {"image_size": 12}, "too small"),
    ("lenet5", {"pool": "min"}, "pool"),
    ("lab-cnn", {"dropout": 1.0}, "dropout"),
    ("lab-cnn-deep", {"in_channels": 0}, "in_channels"),
    ("lab-cnn", {"kernel": 5}, "unknown key"),
])
def test_bad_arguments(name, kw, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, **kw)


def _halves(n, size, rng):
    """Two classes: the top half brighter (0) or the bottom half brighter (1), plus noise."""
    y = rng.integers(0, 2, n)
    x = rng.normal(0.0, 0.3, (n, 1, size, size)).astype(np.float32)
    half = size // 2
    x[y == 0, :, :half] += 1.0
    x[y == 1, :, half:] += 1.0
    return x, y


@pytest.mark.parametrize("name,kw,size", [("lab-cnn", {"image_size": 12}, 12), ("lab-cnn-deep", {"image_size": 12,
                                          "batch_norm": True, "hidden": 32}, 12), ("lenet5", {}, 28)])
def test_short_training_lowers_the_loss(name, kw, size):
    rng = np.random.default_rng(0)
    x, y = _halves(64, size, rng)
    net = build_model(name, num_classes=2, rng=1, **kw)
    opt = Adam(net.parameters(), lr=3e-3)
    xt, yt = nb.tensor(x), nb.tensor(y)
    losses = []
    for _ in range(10):
        loss = F.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.5 * losses[0], losses
    net.eval()
    with nb.no_grad():
        xv, yv = _halves(64, size, rng)
        acc = (net(nb.tensor(xv))._array.argmax(1) == yv).mean()
    assert acc > 0.9, acc
