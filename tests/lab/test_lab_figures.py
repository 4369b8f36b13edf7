"""Every figure of every quick report passes lab.figcheck (issue 14 item 21), and the checks themselves catch
what they claim to: tiny text, ticks at 2.5 on integer data, unlabelled axes, colour without a key, a line hidden
under another, a 10-entry legend, a label across the frame."""

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nnbasics.lab import plots
from nnbasics.lab.figcheck import check_figure
from nnbasics.lab.registry import EXPERIMENTS

EXPERIMENTS_WITH_FIGURES = [n for n in EXPERIMENTS if n != "hinton"]  # hinton shows its sub-reports' PNGs


@pytest.mark.parametrize("name", EXPERIMENTS_WITH_FIGURES)
def test_every_figure_of_every_quick_report_is_readable(quick_report, name):
    report, _ = quick_report(name)
    assert report.figures
    assert {f.name: list(f.problems) for f in report.figures if f.problems} == {}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_report_states_its_rule_and_no_caption_claims_seeds_it_did_not_run(quick_report, name):
    report, _ = quick_report(name)
    assert "95%" in report.rule  # the rule is stated with the verdict
    effects = [v for k, v in report.metrics.items() if k.startswith("effect.")]
    if name != "hinton":  # every noisy comparison behind the verdict ran several seeds (or replicates, runs)
        assert effects and all(e["n"] >= 2 for e in effects), effects
    captions = [f.caption for f in report.figures] + [t.caption for t in report.tables]
    for caption in captions:
        for n in re.findall(r"over (\d+) seeds", caption):
            assert int(n) >= 2, caption
        if re.search(r"means? over seeds", caption):
            assert effects and min(e["n"] for e in effects) >= 2, caption


def test_shape_classes_are_named_in_the_cnn_samples():
    from nnbasics.data.synthetic import SHAPE_CLASSES
    from nnbasics.lab.experiments.cnn import _samples_figure

    X = np.zeros((8, 1, 16, 16), np.float32)
    fig = _samples_figure(X, np.arange(8), 2, 0, SHAPE_CLASSES)
    titles = [ax.get_title() for ax in fig.axes][:8]
    plt.close(fig)
    assert titles == list(SHAPE_CLASSES) and not any(t.startswith("class ") for t in titles)


# ------------------------------------------------------------------ the checks catch what they claim to
def _fig(width=6, height=4):
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def _problems(fig):
    fig.tight_layout()
    out = check_figure(fig)
    plt.close(fig)
    return "\n".join(out)


def test_a_clean_line_plot_passes():
    fig = plots.line_plot({"sigmoid": ([2, 5, 10, 20], [0.9, 0.6, 0.2, 0.1]),
                           "relu": ([2, 5, 10, 20], [0.9, 0.9, 0.88, 0.87])}, "hidden layers", "accuracy", "t")
    assert check_figure(fig) == []
    ticks = fig.axes[0].get_xticks()
    assert np.all(ticks == np.round(ticks))
    plt.close(fig)


def test_tiny_text_is_caught_with_its_size_on_the_page():
    fig, ax = _fig(width=16)  # 1600 px shown in a 900 px column: scaled by 0.56
    ax.plot([0, 1], [0, 1])
    ax.set(xlabel="x", ylabel="y")
    ax.set_title("small", fontsize=7)
    assert re.search(r"only 5\.\d px high .*'small'", _problems(fig))


def test_ticks_between_integers_are_caught():
    fig, ax = _fig()
    ax.plot([2, 5, 10, 20], [1, 2, 3, 4])
    ax.set(xlabel="hidden layers", ylabel="y")
    assert "ticks fall at 2.5" in _problems(fig)


def test_missing_axis_labels_and_colour_keys_are_caught():
    fig, ax = _fig()
    gx, gy = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    ax.contourf(gx, gy, (gx > gy).astype(float), levels=[-0.5, 0.5, 1.5])
    text = _problems(fig)
    assert "x axis has no label" in text and "y axis has no label" in text and "no legend or colorbar" in text


def test_a_line_hidden_under_another_is_caught_and_styles_fix_it():
    x, y = np.arange(10), np.full(10, 2.0)
    fig, ax = _fig()
    ax.plot(x, y, label="LeCun")
    ax.plot(x, y, label="Xavier")
    ax.set(xlabel="step", ylabel="loss")
    assert "'LeCun' and 'Xavier' coincide" in _problems(fig)
    fig = plots.line_plot({"LeCun": (x, y), "Xavier": (x, y)}, "step", "loss")
    assert check_figure(fig) == []  # each series its own dashes and markers
    plt.close(fig)


def test_long_legends_and_labels_across_the_frame_are_caught():
    fig, ax = _fig()
    for k in range(10):
        ax.plot([0, 1], [k, k + 1], label=f"p={k / 10:g}")
    ax.legend()
    ax.set(xlabel="x", ylabel="y")
    ax.annotate("207", (0.5, 10.0), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom")
    text = _problems(fig)
    assert "legend of 10 entries" in text and "'207' crosses the axes frame" in text
    fig = plots.bar_plot({"VAX": 1e-3, "nnbasics": 120.0, "PyTorch": 207.0}, "library", "GFLOP/s", "t", logy=True)
    assert check_figure(fig) == []  # bar_plot leaves room for its labels
    plt.close(fig)
