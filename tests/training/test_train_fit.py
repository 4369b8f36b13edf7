"""fit / evaluate / predict: learning, determinism, data forms, modes, exact epoch metrics, progress, errors."""

import io
import sys

import numpy as np
import pytest

import nnbasics as nb
from nnbasics import nn
from nnbasics.data import DataLoader, TensorDataset
from nnbasics.optim import SGD, Adam
from nnbasics.training import History, evaluate, fit, predict


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, size=n)
    X = (centers[y] + rng.normal(size=(n, 2))).astype(np.float32)
    return X, y.astype(np.int64)


def mlp(seed=0, p=0.2, out=3):
    return nn.Sequential(nn.Linear(2, 16, rng=seed), nn.ReLU(), nn.Dropout(p, rng=seed + 1), nn.Linear(16, out, rng=seed))


def test_fit_learns_blobs_and_reports_history():
    X, y = blobs()
    Xv, yv = blobs(90, seed=1)
    model = mlp()
    h = fit(model, (X, y), epochs=8, optimizer=Adam(model.parameters(), lr=0.03), validation_data=(Xv, yv),
            rng=0, progress=False)
    assert isinstance(h, History) and h.epoch == list(range(8))
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert h["val_accuracy"][-1] >= 0.95
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert evaluate(model, (Xv, yv))["accuracy"] == h["val_accuracy"][-1]
    assert h["lr"] == [0.03] * 8


def test_same_seed_same_history_different_seed_different():
    X, y = blobs(120)

    def run(seed):
        model = mlp()
        return fit(model, (X, y), epochs=3, optimizer=Adam(model.parameters(), lr=0.01), batch_size=16, rng=seed,
                   progress=False), model

    (h1, m1), (h2, m2), (h3, _) = run(7), run(7), run(8)
    assert h1["loss"] == h2["loss"] and h1["accuracy"] == h2["accuracy"]
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p._array, q._array)
    assert h1["loss"] != h3["loss"]  # the seed drives the shuffling


def test_data_forms_dataloader_list_of_batches_and_arrays_agree():
    X, y = blobs(60)

    def run(data, **kw):
        model = mlp(p=0.0)
        h = fit(model, data, epochs=2, optimizer=SGD(model.parameters(), lr=0.1), progress=False, **kw)
        return h["loss"], [p._array.copy() for p in model.parameters()]

    a = run((X, y), batch_size=16, shuffle=False)
    b = run(DataLoader(TensorDataset(X, y), batch_size=16))
    c = run([(X[i:i + 16], y[i:i + 16]) for i in range(0, 60, 16)])
    d = run([(nb.tensor(X[i:i + 16]), nb.tensor(y[i:i + 16])) for i in range(0, 60, 16)])
    for other in (b, c, d):
        assert other[0] == a[0]
        for p, q in zip(a[1], other[1]):
            np.testing.assert_array_equal(p, q)


def test_float64_arrays_are_cast_to_the_model_dtype():
    X, y = blobs(40)
    seen = []
    model = mlp()
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    fit(model, (X.astype(np.float64), y), epochs=1, optimizer=SGD(model.parameters(), lr=0.1), progress=False)
    assert set(seen) == {np.dtype(np.float32)}


def test_epoch_metrics_are_exact_with_unequal_batches():
    X, y = blobs(50)
    model = mlp(p=0.0)
    # lr = 0: the weights never change, so the epoch's loss/accuracy must equal evaluate() over the whole set.
    h = fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=0.0), batch_size=7, rng=0,
            metrics=["accuracy", "top2_accuracy"], progress=False)
    whole = evaluate(model, (X, y), metrics=["accuracy", "top2_accuracy"], batch_size=50)
    assert h["accuracy"][0] == whole["accuracy"]
    assert h["top2_accuracy"][0] == whole["top2_accuracy"]
    assert h["loss"][0] == pytest.approx(whole["loss"], rel=1e-6)
    assert evaluate(model, (X, y), batch_size=3)["loss"] == pytest.approx(whole["loss"], rel=1e-6)


def test_modes_train_during_fit_eval_in_evaluation_and_restored():
    X, y = blobs(30)
    model = mlp()
    model.eval()
    model[2].train()  # a mixed state must come back as it was
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append((m.training, nb.is_grad_enabled())))
    fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=0.1), batch_size=10,
        validation_data=(X, y), validation_batch_size=30, progress=False)
    assert seen == [(True, True)] * 3 + [(False, False)]
    assert [m.training for m in model.modules()] == [False, False, False, True, False]
    seen.clear()
    evaluate(model, (X, y))
    predict(model, X)
    assert seen == [(False, False), (False, False)]
    assert [m.training for m in model.modules()] == [False, False, False, True, False]


def test_predict_matches_the_model_in_eval_mode():
    X, _ = blobs(23)
    model = mlp()
    out = predict(model, X, batch_size=5)
    with nb.no_grad():
        ref = model.eval()(nb.tensor(X))._array
    assert out.shape == (23, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(predict(model, (X, np.zeros(23))), out)
    np.testing.assert_array_equal(predict(model, DataLoader(TensorDataset(X), batch_size=4)), out)


def test_initial_epoch_and_losses_given_as_modules_callables_and_names():
    X, y = blobs(40)
    model = mlp()
    h = fit(model, (X, y), epochs=3, initial_epoch=2, optimizer=SGD(model.parameters(), lr=0.1),
            loss=nn.CrossEntropyLoss(), progress=False)
    assert h.epoch == [2]
    h2 = fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=0.1),
             loss=lambda out, t: nb.functional.cross_entropy(out, t), progress=False)
    assert np.isfinite(h2["loss"][0])
    binary = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Tanh(), nn.Linear(8, 1, rng=0))
    yb = (y == 0).astype(np.int64)  # (N,) integer labels for a (N, 1) logit: cast and reshaped
    hb = fit(binary, (X, yb), epochs=10, optimizer=Adam(binary.parameters(), lr=0.05), loss="bce_with_logits",
             batch_size=8, rng=0, progress=False)
    assert hb["accuracy"][-1] > 0.9


def test_grad_clip_norm_bounds_each_step():
    X, y = blobs(40)
    model = mlp(p=0.0)
    before = [p._array.copy() for p in model.parameters()]
    fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=1.0), batch_size=10, grad_clip_norm=1e-3,
        progress=False)
    moved = np.sqrt(sum(((p._array - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert 0 < moved <= 4 * 1e-3 * (1 + 1e-5)


def test_progress_quiet_when_not_a_terminal(capsys):
    X, y = blobs(30)
    model = mlp()
    fit(model, (X, y), epochs=2, optimizer=SGD(model.parameters(), lr=0.1), progress=None)
    fit(model, (X, y), epochs=2, optimizer=SGD(model.parameters(), lr=0.1), progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_epoch_lines_for_the_cli(capsys):
    X, y = blobs(30)
    model = mlp()
    fit(model, (X, y), epochs=2, optimizer=SGD(model.parameters(), lr=0.1), validation_data=(X, y), progress="epoch")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - loss ") and " - val_accuracy " in lines[0] and lines[0].endswith("s")


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_shows_loss_and_metrics(monkeypatch):
    X, y = blobs(30)
    model = mlp()
    fake = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    fit(model, (X, y), epochs=2, optimizer=SGD(model.parameters(), lr=0.1), batch_size=10, validation_data=(X, y))
    text = fake.getvalue()
    assert "Epoch 2/2" in text and "3/3" in text
    assert "loss " in text and "accuracy " in text and "val_loss " in text


def test_progress_bar_updates_the_running_loss_every_batch():
    from nnbasics.training import ProgressBar

    X, y = blobs(30)
    model = mlp()
    fake = _FakeTTY()
    h = fit(model, (X, y), epochs=1, optimizer=SGD(model.parameters(), lr=0.1), batch_size=10, shuffle=False,
            progress=ProgressBar(file=fake, mininterval=0))
    frames = [f for f in fake.getvalue().split("\r") if f.strip()]
    # mid-epoch frames (1/3, 2/3) already carry the running loss and accuracy: the bar is live
    for done in ("1/3", "2/3"):
        frame = next(f for f in frames if f" {done} " in f)
        assert "loss " in frame and "accuracy " in frame, frame
    first = next(f for f in frames if " 1/3 " in f)
    assert f"loss {h['loss'][0]:.4f}" not in first  # the running value of batch 1, not the epoch's


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"epochs": -1}, ValueError, "epochs of fit must be an int >= 0"),
    ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'. Valid names: "),
    ({"metrics": ["f1"]}, ValueError, "unknown metric 'f1'"),
    ({"progress": "loud"}, ValueError, "progress must be None"),
    ({"callbacks": [print]}, TypeError, "callbacks must be Callback instances"),
    ({"grad_clip_norm": 0}, ValueError, "grad_clip_norm of fit must be a number > 0"),
    ({"batch_size": 0}, ValueError, "batch_size of fit must be an int >= 1"),
    ({"optimizer": "adam"}, TypeError, "optimizer must be an nnbasics Optimizer"),
])
def test_bad_arguments(kwargs, exc, match):
    X, y = blobs(20)
    model = mlp()
    args = {"epochs": 1, "optimizer": SGD(model.parameters(), lr=0.1), "progress": False, **kwargs}
    with pytest.raises(exc, match=match):
        fit(model, (X, y), **args)


def test_bad_data():
    X, y = blobs(20)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    with pytest.raises(ValueError, match="batch_size only apply when train_data is an \\(X, y\\) pair"):
        fit(model, loader, epochs=1, optimizer=opt, batch_size=8, progress=False)
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(model, ((X[i:i + 4], y[i:i + 4]) for i in range(0, 20, 4)), epochs=2, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="same number of samples"):
        fit(model, (X, y[:10]), epochs=1, optimizer=opt, progress=False)
    with pytest.raises(TypeError, match="must be a DataLoader"):
        fit(model, "data.csv", epochs=1, optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="must hold inputs and targets"):
        fit(model, [(X,)], epochs=1, optimizer=opt, progress=False)

    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(TypeError, match="returned a tuple; it must return one Tensor"):
        fit(nn.Sequential(nn.Linear(2, 2, rng=0), Pair()), (X, y), epochs=1,
            optimizer=SGD(nn.Linear(2, 2).parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="the loss must return a scalar Tensor"):
        fit(model, (X, y), epochs=1, optimizer=opt, loss=lambda o, t: o, progress=False)
