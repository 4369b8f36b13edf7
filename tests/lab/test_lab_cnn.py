"""lab cnn: on the generated shapes a small CNN beats a parameter-matched and a much wider MLP, and loses less to shifts."""

import json

import numpy as np
import pytest

from nnbasics.lab.experiments import cnn
from nnbasics.lab.html import check_html


@pytest.fixture(scope="module")
def run(quick_report):
    return quick_report("cnn")


def test_cnn_beats_both_mlps_with_fewer_parameters(run):
    report, _ = run
    m = report.metrics
    assert m["cnn_test_acc"] > m["mlp_test_acc"] + 0.05  # the parameter-matched MLP
    assert m["cnn_test_acc"] > m["mlp_wide_test_acc"]
    assert m["cnn_minus_best_mlp"] == pytest.approx(m["cnn_test_acc"] - max(m["mlp_test_acc"], m["mlp_wide_test_acc"]))
    assert abs(m["mlp_params"] - m["cnn_params"]) < 0.1 * m["cnn_params"]  # matched budget
    assert m["mlp_wide_params"] > 10 * m["cnn_params"]
    assert m["n_train"] == 1600 and m["n_test"] == 800 and m["seeds"] >= 3 and len(m["cnn_test_accs"]) == m["seeds"]
    # the verdict is the lab's rule: the per-seed leads, their interval above 0
    for name in ("mlp", "mlp_wide"):
        effect = m[f"effect.cnn_minus_{name}"]
        assert effect["n"] == m["seeds"] and effect["ci95_low"] > 0
    assert report.verdict == "supported" and "95% interval" in report.because and report.rule
    assert f"{m['cnn_params']:,} parameters" in report.because


def test_translation_hurts_the_mlps_more(run):
    report, _ = run
    m = report.metrics
    assert m["shifts"][0] == 0 and len(m["cnn_shift_acc"]) == len(m["shifts"])
    for name in ("cnn", "mlp", "mlp_wide"):
        assert m[f"{name}_shift_acc"][0] == pytest.approx(m[f"{name}_test_acc"])  # shift 0 is the test set
        assert m[f"{name}_shift_drop"] == pytest.approx(m[f"{name}_shift_acc"][0] - m[f"{name}_shift_acc"][-1])
    assert m["cnn_shift_drop"] < m["mlp_shift_drop"] and m["cnn_shift_drop"] < m["mlp_wide_shift_drop"]
    assert min(m["cnn_shift_acc"]) > max(m["mlp_shift_acc"][-1], m["mlp_wide_shift_acc"][-1])


def test_files_figures_filters_and_feature_maps_written(run):
    report, out = run
    page = check_html((out / "report.html").read_text())
    assert page.ok, page.problems
    assert len(page.images) == len(report.figures) == 6
    for name in ("curves", "translation", "samples", "filters", "feature_maps_conv1", "feature_maps_conv2"):
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["verdict"] == report.verdict and saved["metrics"]["cnn_test_acc"] == report.metrics["cnn_test_acc"]
    assert report.metrics["filters_shape"] == [8, 1, 3, 3]
    assert "shapes" in report.data_note and "Quick mode" in report.data_note
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["seeds"]["train"] != cfg["seeds"]["shift"]


def _entry(accs, params):
    return {"test_accs": accs, "params": params}


def test_verdict_is_computed_and_can_refute():
    win = {"cnn": _entry([0.95, 0.96, 0.94], 3304), "mlp": _entry([0.80, 0.82, 0.81], 3188),
           "mlp_wide": _entry([0.90, 0.91, 0.89], 67848)}
    supported, because, decisions = cnn.cnn_verdict(win)
    assert supported is True and set(decisions) == {"mlp", "mlp_wide"} and "beyond the noise" in because
    lose = {**win, "mlp_wide": _entry([0.97, 0.975, 0.965], 67848)}
    supported, because, _ = cnn.cnn_verdict(lose)
    assert supported is False and "did not beat" in because and "mlp_wide" in because
    with pytest.raises(ValueError, match="'cnn' entry"):
        cnn.cnn_verdict({"mlp": _entry([0.5], 1)})


def test_a_lead_within_the_noise_is_inconclusive():
    # the CNN leads the wide MLP by +0.01 on average, but the seeds disagree by more than that
    close = {"cnn": _entry([0.95, 0.93, 0.96], 3304), "mlp": _entry([0.80, 0.82, 0.81], 3188),
             "mlp_wide": _entry([0.92, 0.945, 0.945], 67848)}
    supported, because, decisions = cnn.cnn_verdict(close)
    assert supported is None and decisions["mlp_wide"].supported is None and "within the noise" in because
    assert "0.010" in because  # the numbers are in the sentence
    # a single seed shows no spread: never "supported", however large the lead
    one = {"cnn": _entry([0.99], 3304), "mlp": _entry([0.5], 3188)}
    assert cnn.cnn_verdict(one)[0] is None


def test_shift_images_moves_each_direction_and_fills_zeros():
    x = np.arange(1, 21, dtype=np.float32).reshape(1, 1, 4, 5)
    X = np.repeat(x, 4, axis=0)
    out = cnn.shift_images(X, 1, directions=[0, 1, 2, 3])  # up, down, left, right
    np.testing.assert_array_equal(out[0, 0, :3], x[0, 0, 1:])
    np.testing.assert_array_equal(out[0, 0, 3], 0)
    np.testing.assert_array_equal(out[1, 0, 1:], x[0, 0, :3])
    np.testing.assert_array_equal(out[1, 0, 0], 0)
    np.testing.assert_array_equal(out[2, 0, :, :4], x[0, 0, :, 1:])
    np.testing.assert_array_equal(out[2, 0, :, 4], 0)
    np.testing.assert_array_equal(out[3, 0, :, 1:], x[0, 0, :, :4])
    np.testing.assert_array_equal(out[3, 0, :, 0], 0)
    np.testing.assert_array_equal(cnn.shift_images(X, 0, rng=0), X)
    assert not cnn.shift_images(X, 7, rng=0).any()  # moved out of the frame entirely
    a, b = cnn.shift_images(X, 2, rng=3), cnn.shift_images(X, 2, rng=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shift must be an int >= 0"):
        cnn.shift_images(X, -1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        cnn.shift_images(X[0], 1)


def test_models_parameter_counts_and_matched_width():
    net = cnn.build_image_model({"kind": "cnn", "channels": [8, 16]}, (1, 16, 16), 8, rng=0)
    assert cnn.parameter_count(net) == (8 * 9 + 8) + (16 * 8 * 9 + 16) + (16 * 4 * 4 * 8 + 8)
    assert cnn.parameter_count(cnn.build_image_model({"kind": "lab-cnn"}, (1, 28, 28), 10, rng=0)) == 50186
    h = cnn.matched_hidden(50186, 784, 10)
    mlp = cnn.build_image_model({"kind": "mlp", "hidden": [h]}, (1, 28, 28), 10, rng=0)
    assert abs(cnn.parameter_count(mlp) - 50186) <= 795 // 2 + 1  # within half a unit's worth
    with pytest.raises(ValueError, match="kind"):
        cnn.build_image_model({"kind": "vit"}, (1, 16, 16), 8)
    with pytest.raises(ValueError, match="target_params"):
        cnn.matched_hidden(0, 10, 2)


def test_feature_maps_are_the_rectified_correlation_with_the_filters(rng):
    net = cnn.build_image_model({"kind": "cnn", "channels": [3, 5]}, (1, 8, 8), 4, rng=1)
    x = rng.random((1, 8, 8)).astype(np.float32)
    maps = cnn.feature_maps(net, x)
    assert [m.shape for m in maps] == [(3, 8, 8), (5, 4, 4)]
    w = cnn.first_conv_filters(net)  # (3, 1, 3, 3)
    b = np.asarray(net[0].bias._array)
    xp = np.pad(x[0].astype(np.float64), 1)
    expected = np.zeros((3, 8, 8))
    for c in range(3):
        for i in range(8):
            for j in range(8):
                expected[c, i, j] = max(0.0, float((w[c, 0] * xp[i:i + 3, j:j + 3]).sum() + b[c]))
    np.testing.assert_allclose(maps[0], expected, atol=1e-5, rtol=1e-4)
    assert (maps[1] >= 0).all()
    w[...] = 0  # a copy: the model keeps its weights
    assert np.abs(np.asarray(net[0].weight._array)).sum() > 0
    assert net.training  # mode restored
    with pytest.raises(ValueError, match="no Conv2d"):
        cnn.first_conv_filters(cnn.build_image_model({"kind": "mlp", "hidden": [4]}, (1, 8, 8), 4, rng=0))
