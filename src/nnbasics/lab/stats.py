"""The lab's one rule for comparing noisy numbers: several seeds, a 95% interval, a threshold.

Every verdict that compares measurements which change from seed to seed (accuracies, gaps,
loss ratios) is decided here, the same way in every experiment:

1. the quantity is measured once per seed: ``x_1 .. x_n`` (for a comparison of two arms run
   with the same seeds -- the same initial weights and batches -- the paired differences
   ``x_i = a_i - b_i``);
2. its mean and a 95% confidence interval of the mean are computed with Student's t:
   ``mean ± t_{0.975, n-1} * s / sqrt(n)`` where ``s`` is the sample standard deviation
   (``ddof = 1``): the *noise* is the interval's half-width;
3. the claim is **supported** when the whole interval lies beyond the threshold (the effect
   exceeds the noise), **not supported** when the whole interval lies on the other side, and
   **inconclusive** when the interval contains the threshold -- or when fewer than two seeds
   ran, since one seed shows no spread.

With few seeds the interval is wide (t = 12.7 for 2 seeds, 4.30 for 3, 3.18 for 4, 2.78 for
5), so a small effect in a quick run can be inconclusive where the full run decides it: the
reports say so (:func:`rule_text`).

Example:
    >>> d = decide([0.06, 0.04, 0.05, 0.07], threshold=0.0, name="gap reduction")
    >>> d.supported, round(d.estimate.mean, 3)
    (True, 0.055)
    >>> decide([0.03, -0.02, 0.01], name="gap reduction").supported is None   # within noise
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "Decision", "Estimate", "all_of", "decide", "estimate", "paired", "rule_text",
           "t_quantile"]

#: Two-sided confidence of every interval in the lab.
CONFIDENCE = 0.95

# t_{0.975, df} for df = 1..30 (the two-sided 95% critical values of Student's t).
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)
_Z975 = 1.959963984540054


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (the 95% two-sided critical value).

    A table for df <= 30; above, the Cornish-Fisher expansion around the normal quantile
    (error < 1e-4).

    Example:
        >>> round(t_quantile(4), 3), round(t_quantile(1000), 3)
        (2.776, 1.962)
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
        raise ValueError(f"t_quantile: df must be an int >= 1; got {df!r}.")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


@dataclass(frozen=True)
class Estimate:
    """A quantity measured once per seed: its mean, spread and 95% interval.

    Attributes:
        values: the per-seed values.
        n: how many (non-NaN) values.
        mean: their mean (NaN when n = 0).
        std: sample standard deviation, ``ddof = 1`` (NaN when n < 2).
        half_width: the 95% interval's half-width ``t * std / sqrt(n)`` -- the noise (NaN when n < 2).
    """

    values: tuple
    n: int
    mean: float
    std: float
    half_width: float

    @property
    def low(self) -> float:
        """Lower end of the 95% interval (NaN when n < 2)."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the 95% interval (NaN when n < 2)."""
        return self.mean + self.half_width

    def text(self, fmt: str = ".3f", signed: bool = False) -> str:
        """``"0.052 ± 0.031"`` (mean ± 95% half-width), or the mean alone with ``"(1 seed)"``."""
        sign = "+" if signed else ""
        if self.n < 2:
            return f"{self.mean:{sign}{fmt}} (1 seed, no spread)" if self.n == 1 else "n/a"
        return f"{self.mean:{sign}{fmt}} ± {self.half_width:{fmt}}"

    def interval(self, fmt: str = ".3f") -> str:
        """``"[0.021, 0.083]"``; ``"n/a"`` with fewer than two values."""
        if self.n < 2:
            return "n/a"
        return f"[{self.low:+{fmt}}, {self.high:+{fmt}}]"

    def to_dict(self) -> dict:
        """The numbers, for ``metrics.json``."""
        return {"mean": self.mean, "std": self.std, "n": self.n, "ci95_low": self.low, "ci95_high": self.high,
                "values": list(self.values)}


def _num(x: float, fmt: str, signed: bool = False) -> str:
    """``x`` formatted, without a "-0.000" (a negative number that rounds to zero shows as 0)."""
    spec = ("+" if signed else "") + fmt
    text = format(x, spec)
    return format(0.0, spec) if float(text) == 0 else text


def estimate(values) -> Estimate:
    """Mean, sample std and 95% t-interval of per-seed ``values`` (NaNs are dropped).

    Args:
        values: a 1-D sequence of numbers, one per seed.

    Returns:
        Estimate.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    n = int(v.size)
    mean = float(v.mean()) if n else math.nan
    if n < 2:
        return Estimate(tuple(float(x) for x in v), n, mean, math.nan, math.nan)
    std = float(v.std(ddof=1))
    return Estimate(tuple(float(x) for x in v), n, mean, std, t_quantile(n - 1) * std / math.sqrt(n))


def paired(a, b) -> np.ndarray:
    """Per-seed differences ``a_i - b_i`` of two arms run with the same seeds (common random numbers).

    Raises:
        ValueError: when the arms have different numbers of seeds.
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired: both arms need one value per seed; got {a.size} and {b.size}.")
    return a - b


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`: the estimate, the threshold and the three-way answer.

    Attributes:
        supported: True (interval beyond the threshold), False (interval on the other side),
            None (the interval contains the threshold, or fewer than two seeds).
        estimate: the per-seed estimate.
        threshold: the value the effect must clear.
        name: what the effect is, in words.
        above: True when the claim is that the effect is *above* the threshold.
    """

    supported: bool | None
    estimate: Estimate
    threshold: float
    name: str
    above: bool = True
    fmt: str = ".3f"
    unit: str = "seeds"

    @property
    def verdict(self) -> str:
        return {True: "supported", False: "not supported", None: "inconclusive"}[self.supported]

    def sentence(self) -> str:
        """One clause with the numbers: the effect, its 95% interval, the threshold and the outcome.

        Example: ``"accuracy-gap reduction +0.017 ± 0.017 (95% interval [-0.000, +0.034], 4 seeds):
        within the noise"``.
        """
        e, f = self.estimate, self.fmt
        if e.n < 2:
            return (f"{self.name} {_num(e.mean, f, True)} from one {self.unit.rstrip('s')}: no spread to compare it "
                    "with (inconclusive)")
        side = "above" if self.above else "below"
        beyond = "beyond the noise" if self.threshold == 0 else f"{side} {_num(self.threshold, f)} beyond the noise"
        how = {True: beyond,
               False: f"on the wrong side of {_num(self.threshold, f)}" if self.threshold or not self.above
               else "the opposite way, beyond the noise",
               None: "within the noise" if self.threshold == 0 else
               f"the interval contains {_num(self.threshold, f)} (needs to lie {side} it)"}[self.supported]
        return (f"{self.name} {_num(e.mean, f, True)} ± {_num(e.half_width, f)} (95% interval "
                f"[{_num(e.low, f, True)}, {_num(e.high, f, True)}], {e.n} {self.unit}): {how}")

    def to_dict(self) -> dict:
        return {**self.estimate.to_dict(), "threshold": self.threshold, "above": self.above,
                "verdict": self.verdict}


def decide(values, *, threshold: float = 0.0, above: bool = True, name: str = "effect",
           fmt: str = ".3f", unit: str = "seeds") -> Decision:
    """Apply the lab's rule to per-seed ``values`` (module docstring).

    Args:
        values: one value per seed (paired differences for a comparison: :func:`paired`).
        threshold: the value the effect must clear (0: any effect beyond the noise).
        above: the claim is ``effect > threshold`` (True) or ``effect < threshold`` (False).
        name: the effect in words (for :meth:`Decision.sentence`).
        fmt: number format in sentences.
        unit: what one value comes from, plural (``"seeds"``, ``"replicates"``, ``"timed runs"``).

    Returns:
        Decision: supported when the 95% interval lies entirely beyond ``threshold``, not
        supported when entirely on the other side, inconclusive otherwise or with < 2 seeds.

    Example:
        >>> decide([1.0, 1.0, 1.0], threshold=0.5).supported   # no spread at all: the effect is exact
        True
    """
    e = estimate(values)
    thr = float(threshold)
    if e.n < 2 or not math.isfinite(e.half_width):
        supported = None
    elif (e.low > thr) if above else (e.high < thr):
        supported = True
    elif (e.high < thr) if above else (e.low > thr):
        supported = False
    else:
        supported = None
    return Decision(supported, e, thr, str(name), bool(above), fmt, str(unit))


def all_of(decisions) -> bool | None:
    """Combine the parts of a claim: True when every part is supported, False when any part is
    refuted (its interval on the wrong side), None otherwise."""
    parts = [d.supported if isinstance(d, Decision) else d for d in decisions]
    if parts and all(p is True for p in parts):
        return True
    if any(p is False for p in parts):
        return False
    return None


def rule_text(n_seeds: int, *, quick: bool, paired_arms: bool = True, unit: str = "seed") -> str:
    """The rule in words, for a report's "How the verdict is decided" paragraph.

    Args:
        n_seeds: seeds behind each compared number in this run.
        quick: quick mode (its few seeds may be too few to decide a small effect).
        paired_arms: the compared arms share seeds (the differences are paired).
        unit: what one measurement comes from (``"seed"``, ``"replicate"``, ``"timed run"``).
    """
    pairing = (f" The compared arms share their {unit}s (the same initial weights and batches), so the rule is applied "
               f"to the per-{unit} differences." if paired_arms else "")
    t = t_quantile(n_seeds - 1) if n_seeds >= 2 else math.inf
    few = ""
    if n_seeds < 2:
        few = f" This run has a single {unit}, so no comparison can be decided: every such verdict is inconclusive."
    elif quick:
        few = (f" Quick mode runs {n_seeds} {unit}s, so the interval is wide (t = {t:.2f}): a small effect may come "
               "out inconclusive here and be decided by the full run, which uses more data.")
    return (f"**How the verdict is decided.** Each compared number is measured {n_seeds} times, once per {unit}; a "
            "comparison counts as *supported* only when the effect exceeds the noise: the 95% confidence interval of "
            f"its mean over {unit}s (Student's t with n - 1 degrees of freedom, mean ± t × std / √n) lies entirely "
            "beyond the "
            "threshold stated with it. It is *not supported* when the whole interval lies on the other side, and "
            "*inconclusive* when the interval contains the threshold." + pairing + few)
