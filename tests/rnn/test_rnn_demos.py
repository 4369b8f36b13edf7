"""The RNN lecture-lab demos: each one's claim, asserted over several seeds (quick settings)."""

import numpy as np
import pytest

from nnbasics.demo import charseq, grad_through_time, hihello, lstm_sentence, sine, softmax_baseline


@pytest.mark.parametrize("seed", range(5))
def test_hihello_exact_within_50_adam_steps(seed):
    r = hihello.run(steps=50, rng=seed)
    assert r["predicted"] == "ihello"
    assert r["first_exact_step"] is not None and r["first_exact_step"] <= 50
    assert r["losses"][-1] < r["losses"][0] / 5


@pytest.mark.parametrize("seed", range(3))
def test_charseq_reproduced_exactly(seed):
    r = charseq.run("if you want you", steps=100, rng=seed)
    assert r["predicted"] == r["target"] == "f you want you"


def test_charseq_longer_sentence():
    text = "if you want to build a ship, don't drum up people"
    r = charseq.run(text, steps=150, hidden=32, rng=0)
    assert r["predicted"] == text[1:]


def test_softmax_baseline_stalls_where_the_lstm_succeeds():
    r = softmax_baseline.run(steps=100, rng=0)
    bound = softmax_baseline.context_free_bound(softmax_baseline.DEFAULT_TEXT)
    assert r["context_free_bound"] == bound < 0.5
    assert r["baseline_accuracy"] <= bound + 1e-12  # it cannot beat a lookup table
    assert r["baseline_loss"] >= r["conditional_entropy"] - 1e-3  # nor the conditional entropy
    assert r["lstm_accuracy"] == 1.0 and r["lstm_predicted"] == r["target"]
    assert r["lstm_loss"] < r["baseline_loss"] / 5
    # stalled: the last quarter of training changed the baseline's loss by almost nothing
    b = r["baseline_losses"]
    assert b[-26] - b[-1] < 0.02


def test_context_free_statistics_by_hand():
    # "abab" + "ac": after 'a' comes b, b, c -> bound (2 + 1 ... ) counted per transition
    text = "ababac"  # a->b, b->a, a->b, b->a, a->c
    assert softmax_baseline.context_free_bound(text) == pytest.approx(4 / 5)
    h = -(3 / 5) * (2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))  # only 'a' is uncertain
    assert softmax_baseline.conditional_entropy(text) == pytest.approx(h)


def test_lstm_sentence_rebuilds_the_ship_sentence():
    r = lstm_sentence.run(steps=80, rng=0)
    assert r["num_windows"] == len(lstm_sentence.SENTENCE) - 10
    # the very first character has no context at all; the rest should come back
    assert r["accuracy"] >= 0.97, r["predicted"]
    assert r["predicted"][5:] == r["target"][5:]


@pytest.mark.parametrize("seed", range(2))
def test_sine_prediction_mse_below_threshold(seed):
    r = sine.run(steps=120, rng=seed)
    assert r["test_mse"] < 1e-3
    assert r["test_mse"] < r["baseline_mse"] / 20  # far better than "the next value equals this one"
    assert r["losses"][-1] < r["losses"][0] / 20


@pytest.mark.parametrize("seed", range(6))
def test_gradient_vanishes_through_time_in_the_rnn_much_faster_than_in_the_lstm(seed):
    r = grad_through_time.run(steps=50, rng=seed)
    rnn, lstm = r["rnn"], r["lstm"]
    assert len(rnn["norms"]) == 50
    np.testing.assert_allclose(rnn["norms"][-1], lstm["norms"][-1])  # both start from ||w||
    assert rnn["log10_ratio"] < -6  # the RNN's first step gets a millionth of the gradient, or less
    assert lstm["log10_ratio"] > rnn["log10_ratio"] + 2  # >= 100x more survives in the LSTM
    # decay is steady: the RNN's norm 25 steps back is already far below the LSTM's
    assert rnn["norms"][24] < lstm["norms"][24] / 10


def test_demo_mains_print_and_return(capsys):
    r = hihello.main(["--steps", "30", "--seed", "1"])
    out = capsys.readouterr().out
    assert "ihello" in out and "loss" in out and r["target"] == "ihello"
    grad_through_time.main(["--steps", "10"])
    assert "LSTM" in capsys.readouterr().out


def test_demo_arguments_are_checked():
    with pytest.raises(ValueError, match="steps must be a positive int"):
        hihello.run(steps=0)
    with pytest.raises(ValueError, match="at least 2 characters"):
        charseq.run("a")
    with pytest.raises(ValueError, match="window"):
        lstm_sentence.run(window=0)
    with pytest.raises(ValueError, match="hidden"):
        grad_through_time.run(hidden=0)
