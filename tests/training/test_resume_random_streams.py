"""Random streams a checkpoint does not know about (issue 15 item 11).

A custom transform that draws from its own Generator (ignoring the rng the DataLoader passes it)
made a resumed run differ from an uninterrupted one, silently. fit now finds such generators in
the training data (attributes, lists and dicts, closures) and ModelCheckpoint saves them, so the
resume is exact; random states it cannot save (RandomState, random.Random) are named in a warning.
"""

import random
import warnings

import numpy as np
import pytest

from nnbasics import nn
from nnbasics.data import DataLoader, TensorDataset
from nnbasics.optim import SGD
from nnbasics.training import ModelCheckpoint, fit, load_checkpoint
from nnbasics.training.resume import data_generators

_X = np.random.default_rng(0).standard_normal((24, 3)).astype(np.float32)
_Y = (_X[:, 0] > 0).astype(np.int64)


class OwnNoise:
    """Adds noise from its own Generator; ignores the loader's rng."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, x, rng=None):
        return x + self.rng.normal(size=x.shape).astype(x.dtype)


def closure_noise(seed):
    g = np.random.default_rng(seed)

    def transform(x, rng=None):
        return x + g.normal(size=x.shape).astype(x.dtype)

    return transform


class Pipeline:
    def __init__(self, seed):
        self.steps = [lambda x, rng=None: x, OwnNoise(seed)]

    def __call__(self, x, rng=None):
        for s in self.steps:
            x = s(x)
        return x


class NoisyDataset(TensorDataset):
    """A dataset that draws fresh noise for every sample it returns, from its own Generator."""

    def __init__(self, X, y, seed):
        super().__init__(X, y)
        self.noise = {"gen": np.random.default_rng(seed)}

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return x + self.noise["gen"].normal(size=np.shape(x)).astype(np.float32), y


_MAKERS = {
    "attribute": lambda: (TensorDataset(_X, _Y), OwnNoise(7)),
    "closure": lambda: (TensorDataset(_X, _Y), closure_noise(7)),
    "inside a list": lambda: (TensorDataset(_X, _Y), Pipeline(7)),
    "dataset's own, in a dict": lambda: (NoisyDataset(_X, _Y, 7), None),
}


def _train(make, epochs, directory, resume=None):
    dataset, transform = make()
    loader = DataLoader(dataset, batch_size=8, shuffle=True, transform=transform, rng=3)
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=0))
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, loader, epochs=epochs, optimizer=opt, callbacks=[ModelCheckpoint(directory, monitor="loss")],
        progress=False, resume=resume)
    return {k: np.asarray(v).copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("where", sorted(_MAKERS))
def test_a_resume_repeats_the_data_pipelines_own_random_draws(where, tmp_path):
    straight = _train(_MAKERS[where], 3, tmp_path / "a")
    _train(_MAKERS[where], 1, tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every stream was saved: no warning
        resumed = _train(_MAKERS[where], 3, tmp_path / "b", resume=tmp_path / "b" / "last.safetensors")
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k], err_msg=k)
    saved = load_checkpoint(tmp_path / "b" / "last.safetensors",
                            nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))).rng_states
    assert "loader" in saved and any(name.startswith("data.") for name in saved), sorted(saved)


def test_the_streams_are_named_by_where_they_live():
    loader = DataLoader(NoisyDataset(_X, _Y, 1), batch_size=4, transform=Pipeline(2), rng=0)
    found, unsaved = data_generators(loader, known=[loader.generator])
    assert list(found) == ["data.transform.steps[1].rng", "data.dataset.noise['gen']"]
    assert unsaved == []


@pytest.mark.parametrize("state", [np.random.RandomState(0), random.Random(0)])
def test_a_state_that_cannot_be_saved_is_named_in_a_warning(state, tmp_path):
    class Legacy:
        def __init__(self):
            self.rs = state

        def __call__(self, x, rng=None):
            return x

    loader = DataLoader(TensorDataset(_X, _Y), batch_size=8, transform=Legacy(), rng=0)
    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    with pytest.warns(RuntimeWarning, match=r"data\.transform\.rs \((RandomState|Random)\) cannot be saved"):
        fit(model, loader, epochs=1, optimizer=SGD(model.parameters(), lr=0.1), progress=False)


def test_a_checkpoint_without_a_data_stream_warns_on_resume(tmp_path):
    from nnbasics.training import save_checkpoint

    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    opt = SGD(model.parameters(), lr=0.1)
    save_checkpoint(tmp_path / "c.safetensors", model, opt, epoch=1)
    loader = DataLoader(TensorDataset(_X, _Y), batch_size=8, transform=OwnNoise(0), rng=0)
    with pytest.warns(UserWarning, match=r"saved no 'loader', 'data\.transform\.rng' random streams"):
        fit(model, loader, epochs=2, optimizer=opt, progress=False, resume=tmp_path / "c.safetensors")
