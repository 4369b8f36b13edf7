"""One thread or several, whichever the running job measures faster (for calls whose result does not depend on it).

On a quiet machine two threads beat one; with another busy process on a two-core machine a
thread of ours is descheduled for milliseconds at a time, and a call that waits for its
pieces can take several times as long on two threads as on one (issue 19: PyTorch's LSTM step
under load, 5x its one-thread time). Which is faster depends on the machine's load *now*, so
:class:`ThreadChoice` measures it on the job itself: it runs the current choice, times every
call, and every so often runs the other choice for :data:`TRIAL` calls, then keeps the faster.

The trials cost at most about ``1 / PATIENCE`` of the time: the number of calls between two
trials grows with how much slower the other choice was (a choice ten times slower is tried ten
times less often) and shrinks as the current choice gets slower; once the current choice's
recent median is slower than the other's last one, the other is tried at once (a competitor
that appears is noticed within a few calls). Each trial the other choice loses doubles the
patience before the next (up to ``BACKOFF`` times: trials then cost ~1/160 of the time, where a
steady machine kept them at 1/20 and a 2-thread LSTM step carried a trial every other step);
a switch starts again at ``PATIENCE``. So a competitor that leaves is noticed after at most
``PATIENCE * BACKOFF`` times what a trial costs (seconds, for a big model's call). A trial whose
call takes more than :data:`ABORT` times the current choice's estimate ends there, lost: under
load a native pool's two threads take 30-50x one thread's time for the char-LSTM's step product
(2.5-4.9 ms against 0.09), and the rest of such a trial would only add to what it cost.

A switch is checked once more :data:`CONFIRM` seconds later, whatever the times say: a switch
made on a passing disturbance would otherwise stand for ~100 calls (a choice 1.6x slower is
tried that rarely). The common one: OpenBLAS's own threads spin for ~0.1 s after NumPy loads the
library, on the core a program's first calls - and the first trials - need (the lab's CIFAR-like
CNN on 2 threads kept one thread for its convolutions in half of the runs: 20-29 ms a step
against 18-19).

Only for work whose result is the same whatever the thread count
(:func:`nnbasics.kernels.parallel.run_pieces`, and :func:`~nnbasics.kernels.parallel.parallel_for`,
whose pieces are fixed by the thread setting, not by the threads that run them): the choice
changes the time, never the numbers.

Example:
    >>> from nnbasics.kernels.adaptive import ThreadChoice
    >>> choice = ThreadChoice(2)
    >>> n = choice.pick()        # threads for the next call
    >>> choice.record(n, 0.010)  # its wall time in seconds
    >>> choice.pick() in (1, 2)
    True
"""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["ABORT", "BACKOFF", "CONFIRM", "KEEP", "PATIENCE", "TRIAL", "ThreadChoice", "choice_for"]

#: Calls of the other choice per trial (their median decides).
TRIAL = 3
#: Time on the current choice per time spent on trials (at least).
PATIENCE = 20
#: Most times PATIENCE is doubled by trials the other choice lost in a row.
BACKOFF = 8
#: A trial call slower than this many times the current choice's estimate ends the trial, lost.
ABORT = 2.0
#: Recent times kept per choice (their median is its estimate).
KEEP = 5
#: Seconds after a switch at which the count it left is tried once more (see the module doc).
CONFIRM = 0.25
#: Most choosers kept (one per call site and shape); the least recently used is dropped beyond it.
MAX_KEYS = 256


class ThreadChoice:
    """Picks between ``many`` threads and one by timing both on the running job (see the module doc).

    Args:
        many: the thread count to compare with one (>= 2); it is tried first.
        mean: estimate each choice by the mean of its recent times, not their median: for calls
            whose slow cases are rare and long (a native thread pool's barrier waiting for a
            descheduled thread: a few calls in ten take milliseconds, the median never shows them).
    """

    def __init__(self, many: int, mean: bool = False):
        self.mean = mean
        self.current, self.other = many, 1
        self.times = {many: deque(maxlen=KEEP), 1: deque(maxlen=KEEP)}
        self.trial_left = 0
        self.since = 0  # calls on the current choice since the last trial
        self.patience = PATIENCE  # doubled by each trial the other choice loses, up to BACKOFF times
        self.confirm_at = None  # perf_counter time of the check a switch is due (CONFIRM)
        self._lock = threading.Lock()

    def _estimate(self, n):
        t = self.times[n]
        if not t:
            return None
        if self.mean:
            return sum(t) / len(t)
        t = sorted(t)  # the median (not statistics.median: importing it costs ~3 ms)
        return (t[(len(t) - 1) // 2] + t[len(t) // 2]) / 2

    def pick(self) -> int:
        """The thread count for the next call."""
        with self._lock:
            if self.trial_left:
                return self.other
            cur, other = self._estimate(self.current), self._estimate(self.other)
            # due: never tried, or the current choice now looks slower than the other did, or the
            # time since the last trial is PATIENCE times what a trial of the other costs
            due = cur is not None and (other is None and self.since >= TRIAL or other is not None and (
                cur > other or self.since * cur >= self.patience * TRIAL * other))
            if not due and self.confirm_at is not None and self.since >= TRIAL:
                due = time.perf_counter() >= self.confirm_at  # a switch's second look
            if due:
                self.confirm_at = None
                self.trial_left = TRIAL
                self.times[self.other].clear()  # a trial's own times decide
                return self.other
            return self.current

    def record(self, n: int, seconds: float) -> None:
        """The wall time of a call made with ``n`` threads (the count :meth:`pick` gave)."""
        with self._lock:
            self.times[n].append(seconds)
            if n == self.current:
                self.since += 1
            elif self.trial_left:
                self.trial_left -= 1
                cur = self._estimate(self.current)
                if cur is not None and seconds > ABORT * cur:
                    self.trial_left = 0  # clearly slower: the rest of the trial would only cost
                if not self.trial_left:
                    if self._estimate(self.other) < self._estimate(self.current):
                        self.current, self.other = self.other, self.current
                        self.patience = PATIENCE
                        self.confirm_at = time.perf_counter() + CONFIRM
                    else:
                        self.patience = min(2 * self.patience, PATIENCE * BACKOFF)
                    self.since = 0


_choices: dict = {}
_choices_lock = threading.Lock()


def choice_for(key, many: int, mean: bool = False) -> ThreadChoice:
    """The :class:`ThreadChoice` of one call site and size (``key``: any hashable), made on first use
    (``mean``: see :class:`ThreadChoice`)."""
    key = (key, many)
    with _choices_lock:
        c = _choices.pop(key, None)
        if c is None:
            c = ThreadChoice(many, mean)
            if len(_choices) >= MAX_KEYS:
                _choices.pop(next(iter(_choices)))
        _choices[key] = c  # most recently used last
        return c
