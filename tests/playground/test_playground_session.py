"""The session: controls as transactions, runs A and B in lockstep, presets, uploads, the worker and its frames."""

import time

import numpy as np
import pytest

from nnbasics.playground.config import ConfigError
from nnbasics.playground.csvdata import CsvError
from nnbasics.playground.presets import PRESETS
from nnbasics.playground.session import Session

SMALL = {"dataset": "xor", "n": 60, "layers": [{"units": 3, "activation": "tanh"}]}


@pytest.fixture
def session():
    s = Session(SMALL)
    yield s
    s.close()


def first_weight(s, run="a"):
    return next(s.runs[run].models[0].parameters()).detach().numpy().copy()


def test_controls_live_reset_data(session):
    session.step(5)
    w = first_weight(session)
    out = session.set_config({"lr": 0.2})
    assert out["applied"] == "live" and session.runs["a"].step == 5
    np.testing.assert_array_equal(first_weight(session), w)
    out = session.set_config({"layers": [{"units": 3, "activation": "relu"}]})
    assert out["applied"] == "reset" and session.runs["a"].step == 0
    rev = session.data_rev
    assert session.set_config({"noise": 0.5})["applied"] == "data" and session.data_rev == rev + 1
    assert session.set_config({"noise": 0.5})["applied"] is None


def test_changing_back_returns_to_the_same_seeded_start(session):
    start = first_weight(session)
    loss0 = session.runs["a"].start_loss
    session.step(7)
    session.set_config({"init": "he"})
    session.step(3)
    session.set_config({"init": "lecun"})
    assert session.runs["a"].step == 0 and session.runs["a"].start_loss == loss0
    np.testing.assert_array_equal(first_weight(session), start)


def test_failed_controls_change_nothing(session):
    session.step(4)
    before = (dict(session.configs), session.data, session.runs["a"])
    with pytest.raises(ConfigError):
        session.set_config({"lr": -1})
    with pytest.raises(ConfigError, match="weights"):
        session.set_config({"layers": [{"units": 1024}] * 4})
    with pytest.raises(ConfigError, match="upload"):
        session.set_config({"dataset": "csv"})
    with pytest.raises(CsvError):
        session.upload_csv("x,label\n1,a\n")
    with pytest.raises(ConfigError, match="preset"):
        session.apply_preset("no-such-story")
    assert (dict(session.configs), session.data, session.runs["a"]) == before and session.runs["a"].step == 4


def test_compare_runs_in_lockstep_from_the_same_start(session):
    session.compare(True, {"layers": [{"units": 3, "activation": "relu"}]})
    a, b = session.runs["a"], session.runs["b"]
    np.testing.assert_array_equal(first_weight(session, "a"), first_weight(session, "b"))  # same draws
    f = session.step(6)
    assert f["runs"]["a"]["step"] == f["runs"]["b"]["step"] == 6 and a.data is b.data
    session.set_config({"lr": 0.5}, run="b")
    assert session.configs["b"]["lr"] == 0.5 and session.configs["a"]["lr"] != 0.5
    session.set_config({"noise": 0.4}, run="b")  # data settings are shared
    assert session.configs["a"]["noise"] == session.configs["b"]["noise"] == 0.4
    session.set_config({"init": "he"})  # a reset of A resets B too: they stay in step
    assert session.runs["b"].step == 0
    with pytest.raises(ConfigError, match="shares run A's data"):
        session.compare(True, {"dataset": "moons"})
    session.compare(False)
    assert set(session.runs) == {"a"}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_set_up_two_runs_that_differ(session, name):
    frame = session.apply_preset(name, play=False)
    assert set(frame["runs"]) == {"a", "b"} and frame["preset"]["look_for"]
    assert frame["configs"]["a"] != frame["configs"]["b"]
    f = session.step(3)
    assert f["runs"]["b"]["step"] == 3


def test_upload_switches_to_the_file(session):
    text = "x1,x2,label\n" + "\n".join(f"{i % 5},{i % 7},{'yes' if i % 3 else 'no'}" for i in range(60))
    frame = session.upload_csv(text, "mine.csv")
    assert frame["configs"]["a"]["dataset"] == "csv" and session.data.class_names == ["no", "yes"]
    reg = "a,b,y\n" + "\n".join(f"{i},{i % 4},{i / 7}" for i in range(40))
    session.upload_csv(reg)
    assert session.configs["a"]["loss"] == "mse" and session.data.task == "regression"
    with pytest.raises(ConfigError, match="vote"):
        session.set_config({"members": 3})


def test_worker_plays_publishes_and_pauses():
    s = Session(SMALL).start()
    try:
        frame = s.play()
        seen = [frame["id"]]
        deadline = time.time() + 20
        while s.runs["a"].step < 20 and time.time() < deadline:
            f = s.wait_frame(seen[-1], timeout=5)
            if f is not None:
                seen.append(f["id"])
        assert s.runs["a"].step >= 20 and len(seen) >= 3 and seen == sorted(seen)
        s.pause()
        time.sleep(0.2)
        step = s.runs["a"].step
        time.sleep(0.3)
        assert s.runs["a"].step == step
    finally:
        s.close()
    assert s.wait_frame(-1, timeout=0.1) is None  # closed: readers are released


def test_play_stops_when_every_run_has_a_nan():
    s = Session({"layers": [{"units": 32, "activation": "relu"}] * 8, "init": "normal", "optimizer": "momentum",
                 "lr": 0.02, "batch_size": 32}).start()
    try:
        s.play()
        deadline = time.time() + 20
        while s.frame()["playing"] and time.time() < deadline:  # the frame published after the stop
            time.sleep(0.05)
        frame = s.frame()
        assert not s.playing and not frame["playing"] and frame["runs"]["a"]["nan"]["where"] == "loss"
    finally:
        s.close()


def test_step_takes_exactly_n_steps_whatever_the_frame_budget():
    s = Session(SMALL, budget=1e-9)  # the worker's per-frame budget; a step request ignores it
    assert s.step(40)["runs"]["a"]["step"] == 40
    assert s._advance(40, s.budget) < 40  # the worker's play loop does stop at the budget
