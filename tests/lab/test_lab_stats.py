"""lab.stats: the one rule for noisy comparisons (several seeds, a 95% t-interval, a threshold)."""

import math

import numpy as np
import pytest

from nnbasics.lab import stats


def _t_cdf(x, df, n=200001):
    """Student's t CDF by integrating its density numerically (an independent check of the table)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    t = np.linspace(0.0, x, n)  # symmetric: P(T <= x) = 1/2 + the integral from 0 to x
    f = c * (1 + t * t / df) ** (-(df + 1) / 2)
    return 0.5 + float(np.sum((f[1:] + f[:-1]) / 2) * (t[1] - t[0]))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 19, 30, 31, 60, 200])
def test_t_quantile_is_the_975th_percentile(df):
    assert _t_cdf(stats.t_quantile(df), df) == pytest.approx(0.975, abs=2e-5)


def test_estimate_is_mean_sample_std_and_t_interval():
    e = stats.estimate([0.06, 0.04, 0.05, 0.07])
    assert e.n == 4 and e.mean == pytest.approx(0.055)
    assert e.std == pytest.approx(np.std([0.06, 0.04, 0.05, 0.07], ddof=1))
    assert e.half_width == pytest.approx(stats.t_quantile(3) * e.std / 2)
    assert (e.low, e.high) == pytest.approx((e.mean - e.half_width, e.mean + e.half_width))
    one = stats.estimate([0.3])
    assert one.n == 1 and math.isnan(one.half_width) and "1 seed" in one.text()
    assert stats.estimate([1.0, float("nan"), 3.0]).n == 2  # NaNs dropped


def test_decide_supported_only_when_the_interval_clears_the_threshold():
    assert stats.decide([0.06, 0.04, 0.05, 0.07]).supported is True
    assert stats.decide([-0.06, -0.04, -0.05, -0.07]).supported is False
    # within the noise: the mean is positive, the interval contains 0
    d = stats.decide([0.03, -0.02, 0.01], name="gap reduction")
    assert d.supported is None and d.verdict == "inconclusive"
    assert "gap reduction +0.007" in d.sentence() and "within the noise" in d.sentence()
    # a threshold other than 0, on either side
    assert stats.decide([0.9, 0.92, 0.95], threshold=0.8).supported is True
    assert stats.decide([0.9, 0.92, 0.95], threshold=0.8, above=False).supported is False
    assert stats.decide([0.5, 0.9, 1.2], threshold=0.8).supported is None
    # one seed is never enough, however large the effect
    assert stats.decide([10.0]).supported is None and "one seed" in stats.decide([10.0]).sentence()
    # no spread at all (a bound that holds every time): the effect is exact
    assert stats.decide([0.25] * 5, threshold=0.0).supported is True


def test_paired_differences_and_combining_parts():
    np.testing.assert_allclose(stats.paired([3, 4, 5], [1, 1, 1]), [2, 3, 4])
    with pytest.raises(ValueError, match="one value per seed"):
        stats.paired([1, 2], [1, 2, 3])
    yes, no, maybe = (stats.decide(v) for v in ([1, 1.1, 0.9], [-1, -1.1, -0.9], [1, -1, 0.2]))
    assert stats.all_of([yes, yes]) is True
    assert stats.all_of([yes, maybe]) is None
    assert stats.all_of([yes, maybe, no]) is False
    assert stats.all_of([yes, True]) is True and stats.all_of([]) is None


def test_rule_text_states_the_rule_and_warns_about_few_seeds():
    text = stats.rule_text(4, quick=True)
    assert "95% confidence interval" in text and "4 times, once per seed" in text and "t = 3.18" in text
    assert "inconclusive here" in text
    assert "single seed" in stats.rule_text(1, quick=False)
    assert "Quick mode" not in stats.rule_text(5, quick=False)
