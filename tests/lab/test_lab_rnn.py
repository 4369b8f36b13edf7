"""lab rnn: at the longest delay the LSTM recalls the first symbol and the RNN is near chance; its gradient vanishes."""

import json

import numpy as np
import pytest

import nnbasics as nb
from nnbasics.functional import softmax
from nnbasics.lab.experiments import rnn
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("rnn")


def test_lstm_remembers_where_the_rnn_forgets(run):
    report, _ = run
    m = report.metrics
    T = m["longest_delay"]
    assert T == max(m["delays"])
    assert m["rnn_acc_by_delay"][str(min(m["delays"]))] >= 0.9  # the RNN can learn the task when the delay is short
    # ... not at the longest one, where the LSTM can. (The direction only: the size of one quick run's
    # gap at one delay moves with the float summation order of the kernels (issue 19 changed it: 4 seeds
    # x 300 steps at delay 30 gave 0.835 and then 0.531 for the LSTM, 0.411 for the RNN), while the
    # LSTM's accuracy over 24 fresh seeds did not drop (0.861 -> 0.913); the verdict's statistics and
    # the mean over the delays below are the measured claim.)
    assert m["lstm_acc_longest"] > m["rnn_acc_longest"]
    assert m["lstm_longest_solved_delay"] > (m["rnn_longest_solved_delay"] or 0)
    assert m["lstm_minus_rnn_longest"] == pytest.approx(m["lstm_acc_longest"] - m["rnn_acc_longest"])
    # the verdict's measure: each seed's mean accuracy over the delays, which the LSTM must lead
    seeds = rnn.settings(True)["repeats"]
    assert seeds >= 4 and len(m["lstm_acc_mean_over_delays_by_seed"]) == seeds
    assert m["lstm_acc_mean_over_delays"] > m["rnn_acc_mean_over_delays"] + 0.05
    assert m["lstm_acc_mean_over_delays"] == pytest.approx(np.mean(list(m["lstm_acc_by_delay"].values())))
    low = min(m["effect.accuracy"]["ci95_low"] - rnn.ACCURACY_MARGIN, m["effect.gradient"]["ci95_low"])
    assert report.verdict == ("supported" if low > 0 else "inconclusive") and report.rule


def test_gradient_vanishes_through_time_for_the_rnn_not_the_lstm(run):
    report, _ = run
    m = report.metrics
    T = m["longest_delay"] + 1
    assert len(m["grad_norms_rnn"]) == len(m["grad_norms_lstm"]) == T
    assert m["grad_log10_ratio_rnn"] < m["grad_log10_ratio_lstm"] - 3  # orders of magnitude apart
    assert m["grad_ratio_rnn"] == pytest.approx(m["grad_norms_rnn"][0] / m["grad_norms_rnn"][-1])
    assert m["grad_lstm_over_rnn"] == pytest.approx(m["grad_ratio_lstm"] / m["grad_ratio_rnn"])
    assert m["grad_ratio_lstm_bias0"] < m["grad_ratio_lstm"] / 100  # the open forget gate is what keeps it


def test_softmax_only_baseline_stays_within_the_context_free_bound(run):
    m = run[0].metrics
    for text in ("hihello", "sentence"):
        assert m[f"baseline_{text}_acc"] <= m[f"baseline_{text}_bound"] + 1e-9
        assert m[f"baseline_{text}_bound"] < 1.0 and m[f"baseline_{text}_lstm_acc"] == 1.0


def test_files_and_figures_written(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok, page.problems
    assert len(page.images) == len(report.figures) == 4
    for name in ("accuracy_vs_delay", "gradient_through_time", "training_loss", "softmax_baseline"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["verdict"] == report.verdict
    assert saved["metrics"]["grad_ratio_rnn"] == pytest.approx(report.metrics["grad_ratio_rnn"])
    assert "recall task" in report.data_note


GOOD = {"delay": 30, "acc_rnn": [0.27, 0.3, 0.25], "acc_lstm": [0.95, 0.97, 0.99], "grad_log10_rnn": [-8, -9, -8.5],
        "grad_log10_lstm": [-1, -1.2, -0.8], "chance": 0.25}


def test_verdict_is_computed_and_can_refute():
    supported, because, decisions = rnn.rnn_verdict(**GOOD)
    assert supported is True and set(decisions) == {"accuracy", "gradient"}
    supported, because, _ = rnn.rnn_verdict(**{**GOOD, "acc_lstm": [0.26, 0.24, 0.2]})
    assert supported is False and "not more accurate" in because
    supported, because, _ = rnn.rnn_verdict(**{**GOOD, "grad_log10_lstm": [-9, -10, -9.5]})
    assert supported is False and "does not decay more slowly" in because


def test_a_lead_within_the_noise_is_inconclusive():
    # the LSTM wins in two seeds and loses in the third: its mean lead is not beyond the noise
    supported, because, decisions = rnn.rnn_verdict(**{**GOOD, "acc_lstm": [0.95, 0.97, 0.2]})
    assert supported is None and decisions["accuracy"].supported is None and "contains 0.050" in because
    one = {k: (v[:1] if isinstance(v, list) else v) for k, v in GOOD.items()}
    assert rnn.rnn_verdict(**one)[0] is None  # one seed: no spread


def test_recall_task_layout(rng):
    X, y = rnn.recall_task(7, delay=5, n_symbols=3, noise=0.5, rng=0)
    assert X.shape == (7, 6, 4) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 0, :3], np.eye(3, dtype=np.float32)[y])
    np.testing.assert_array_equal(X[:, 0, 3], 1)
    np.testing.assert_array_equal(X[:, 1:, 3], 0)
    assert X[:, 1:, :3].std() > 0.2
    X2, y2 = rnn.recall_task(7, delay=5, n_symbols=3, noise=0.5, rng=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X0, _ = rnn.recall_task(2, delay=0, rng=1)
    assert X0.shape == (2, 1, 5)
    Xq, _ = rnn.recall_task(4, delay=3, noise=0.0, rng=1)
    assert not Xq[:, 1:].any()
    with pytest.raises(ValueError, match="delay must be an int >= 0"):
        rnn.recall_task(4, delay=-1)
    with pytest.raises(ValueError, match="noise must be a number >= 0"):
        rnn.recall_task(4, delay=2, noise=-0.1)


def test_gate_bias_goes_to_the_forget_and_update_gates():
    H = 6
    for cell in ("lstm", "gru"):
        a = rnn.build_recurrent(cell, 4, H, 0.0, rng=3)
        b = rnn.build_recurrent(cell, 4, H, 2.5, rng=3)
        d = np.asarray(b.rnn.bias_ih_l0._array) - np.asarray(a.rnn.bias_ih_l0._array)
        expected = np.zeros_like(d)
        expected[H:2 * H] = 2.5
        np.testing.assert_allclose(d, expected, atol=1e-6)
    a, b = rnn.build_recurrent("rnn", 4, H, 0.0, rng=3), rnn.build_recurrent("rnn", 4, H, 2.5, rng=3)
    np.testing.assert_array_equal(a.rnn.bias_ih_l0._array, b.rnn.bias_ih_l0._array)
    with pytest.raises(ValueError, match="cell must be one of"):
        rnn.build_recurrent("transformer", 4, H)


@pytest.mark.parametrize("cell", rnn.CELLS)
def test_step_by_step_cell_reproduces_the_layer_and_the_last_gradient(cell):
    model = rnn.build_recurrent(cell, 3, 5, 1.0, rng=2)
    X, y = rnn.recall_task(7, delay=4, n_symbols=3, rng=4)
    norms = rnn.loss_gradient_norms(model, X, y)
    assert norms.shape == (5,) and (norms > 0).all()
    # the same forward pass as the fused layer
    cellm = rnn._cell_copy(model)
    state = None
    for t in range(X.shape[1]):
        state = cellm(nb.tensor(X[:, t].astype(np.float64)), state)
    h = (state[0] if isinstance(state, tuple) else state)._array  # (N, H)
    out, _ = model.rnn(nb.tensor(X))
    np.testing.assert_allclose(h, out._array[:, -1], atol=1e-5, rtol=1e-4)
    # dCE/dh_T = (softmax(z) - onehot(y)) W / N
    W = np.asarray(model.classifier.weight._array, np.float64)
    z = h @ W.T + np.asarray(model.classifier.bias._array, np.float64)
    p = softmax(nb.tensor(z), dim=-1)._array
    p[np.arange(len(y)), y] -= 1
    np.testing.assert_allclose(norms[-1], np.linalg.norm(p @ W / len(y)), rtol=1e-10)


def test_train_recall_is_deterministic_and_summarize_averages():
    kw = {"cell": "gru", "delay": 2, "steps": 15, "batch_size": 8, "lr": 1e-2, "hidden": 4, "n_symbols": 2,
          "noise": 0.3, "gate_bias": 1.0, "n_test": 20, "patience": 0}
    a, b = rnn.train_recall(seed=5, **kw), rnn.train_recall(seed=5, **kw)
    assert a["losses"] == b["losses"] and a["test_acc"] == b["test_acc"] and a["steps_run"] == 15
    s = rnn.summarize([{"cell": "rnn", "delay": 3, "test_acc": 0.5, "steps_run": 10},
                       {"cell": "rnn", "delay": 3, "test_acc": 1.0, "steps_run": 30},
                       {"cell": "lstm", "delay": 3, "test_acc": 0.75, "steps_run": 20}])
    assert s["rnn"][3] == pytest.approx({"acc": 0.75, "acc_std": 0.25, "acc_ci95": 12.7062 * np.sqrt(0.125) / np.sqrt(2),
                                         "n": 2, "steps_run": 20.0})
    assert s["lstm"][3]["acc"] == 0.75 and s["lstm"][3]["n"] == 1
    assert rnn.longest_solved({5: {"acc": 0.95}, 15: {"acc": 0.5}, 30: {"acc": 0.92}}) == 30
    assert rnn.longest_solved({5: {"acc": 0.89}}) is None
