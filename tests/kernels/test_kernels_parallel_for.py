"""parallel_for's pieces run on all threads or one after another on the caller, as adaptive's
chooser says; the same pieces either way (no OpenBLAS per-thread setting needed: runs on every leg)."""

from __future__ import annotations

import threading

import pytest

from nnbasics import threads
from nnbasics.kernels import adaptive, parallel


@pytest.mark.parametrize("pick", [1, 2])
def test_parallel_for_runs_the_same_pieces_on_the_threads_or_the_caller_as_the_choice_says(monkeypatch, pick):
    monkeypatch.setattr(adaptive, "_choices", {})
    monkeypatch.setattr(adaptive.ThreadChoice, "pick", lambda self: pick)
    recorded = []
    monkeypatch.setattr(adaptive.ThreadChoice, "record", lambda self, n, t: recorded.append(n))
    seen = []
    old = threads._threads
    try:
        threads.set_num_threads(2)
        parallel.parallel_for(10, lambda lo, hi: seen.append((lo, hi, threading.current_thread().name)))
    finally:
        threads._threads = old
    # 2 threads x PIECES_PER_THREAD pieces of range(10), whoever runs them
    assert sorted((lo, hi) for lo, hi, _ in seen) == [(10 * i // 8, 10 * (i + 1) // 8) for i in range(8)]
    names = {name for _, _, name in seen}
    if pick == 1:
        assert names == {threading.current_thread().name}  # every piece on the caller
    assert recorded == [pick]


def test_parallel_for_goes_to_one_thread_when_two_are_slower(monkeypatch):
    monkeypatch.setattr(adaptive, "_choices", {})
    clock = [0.0]
    monkeypatch.setattr(parallel.time, "perf_counter", lambda: clock[0])
    old = threads._threads
    counts = []

    def fn(lo, hi):  # a piece on a pool thread "takes" 5 units, on the caller 0.1 (a busy machine)
        clock[0] += 5.0 if threading.current_thread().name.startswith("nnbasics") else 0.1

    try:
        threads.set_num_threads(2)
        for _ in range(60):
            parallel.parallel_for(8, fn)
            choice = next(iter(adaptive._choices.values()))
            counts.append(choice.current)
    finally:
        threads._threads = old
    assert counts[-1] == 1 and counts.count(1) > 40


def test_each_caller_of_parallel_blas_for_has_its_own_thread_choice(monkeypatch):
    """Two call sites of one size (two layers of equal output size) must not share the chooser's
    timings: parallel_blas_for wraps every caller in the same chunk function (a bug: the choice for
    a cheap pass decided an expensive one's). Keys: the wrapped function's code, or the caller's key."""
    monkeypatch.setattr(adaptive, "_choices", {})
    monkeypatch.setattr(parallel, "blas_setter", lambda: (lambda n: 1))
    old = threads._threads

    def first(lo, hi):
        pass

    def second(lo, hi):
        pass

    try:
        threads.set_num_threads(2)
        parallel.parallel_blas_for(8, first, elements=parallel.MIN_ELEMENTS)
        parallel.parallel_blas_for(8, second, elements=parallel.MIN_ELEMENTS)
        parallel.parallel_blas_for(8, first, elements=parallel.MIN_ELEMENTS, key=("layer", 1))
        parallel.parallel_blas_for(8, first, elements=parallel.MIN_ELEMENTS, key=("layer", 2))
        parallel.parallel_blas_for(8, first, elements=parallel.MIN_ELEMENTS)
    finally:
        threads._threads = old
    sites = [k[0][0] for k in adaptive._choices]
    assert len(adaptive._choices) == 4
    assert first.__code__ in sites and second.__code__ in sites and ("layer", 1) in sites and ("layer", 2) in sites


def _drive(choice, cost, calls, clock=None, step=0.0):
    """``calls`` calls whose count n takes cost(n) seconds (the fake clock moves ``step`` a call)."""
    picked = []
    for _ in range(calls):
        n = choice.pick()
        picked.append(n)
        choice.record(n, cost(n))
        if clock is not None:
            clock[0] += step
    return picked


def test_a_switch_made_on_a_passing_disturbance_is_undone_after_confirm(monkeypatch):
    """Two threads look slow at first (OpenBLAS's threads spinning after NumPy loaded it), so the
    chooser goes to one; the disturbance passes. Without a second look, two threads 1.6x faster are
    tried again only after ~100 calls; with it, CONFIRM seconds after the switch."""
    clock = [0.0]
    monkeypatch.setattr(adaptive.time, "perf_counter", lambda: clock[0])
    choice = adaptive.ThreadChoice(2)
    _drive(choice, lambda n: 0.004 if n == 2 else 0.0025, 12, clock, 0.01)  # disturbed: two threads slow
    assert choice.current == 1
    quiet = lambda n: 0.0015 if n == 2 else 0.0025  # noqa: E731 -- it passed
    before = _drive(choice, quiet, 20, clock, 0.001)  # 20 ms on: not yet
    assert 2 not in before
    after = _drive(choice, quiet, 30, clock, adaptive.CONFIRM / 10)
    assert choice.current == 2 and after[-5:] == [2] * 5
    # and without the second look (the clock stands still), it stays on one thread for long
    clock[0] = 0.0
    stuck = adaptive.ThreadChoice(2)
    _drive(stuck, lambda n: 0.004 if n == 2 else 0.0025, 12)
    assert stuck.current == 1 and 2 not in _drive(stuck, quiet, 50)


def test_a_switch_under_steady_load_costs_one_more_trial(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(adaptive.time, "perf_counter", lambda: clock[0])
    choice = adaptive.ThreadChoice(2)
    picked = _drive(choice, lambda n: 0.060 if n == 2 else 0.016, 400, clock, 0.016)  # a competitor throughout
    assert choice.current == 1 and picked[-100:].count(1) >= 97
    after_switch = picked[picked.index(1):]
    assert after_switch.count(2) <= 2 * adaptive.TRIAL  # the second look, and at most one more trial

