"""Issue 14's friction items on the command line: help with no command, --version, class names,
the models listing, a shape mistake found before anything is written, sizes and wording."""

import json
import re

import pytest

import nnbasics
from nnbasics.cli import main

QUICK = ["--n-train", "60", "--n-test", "30", "--hidden", "8", "--batch-size", "20", "--progress", "none"]


def _exit2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and "usage:" not in err
    return err


def test_no_command_prints_help_and_version_is_there(capsys):
    """Item 6: `nnbasics` alone lists the commands (it used to run a 2,000-step XOR demo)."""
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nnbasics") and "train-lm" in out and "step" not in out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith(f"nnbasics {nnbasics.__version__} (NumPy ")


def test_models_lists_input_shapes_and_parameter_counts(capsys):
    """Item 12: the listing counts parameters; `models NAME` describes one model with summary()."""
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    mlp = next(line for line in out.splitlines() if line.startswith("mlp "))
    assert "(N, 784)" in mlp and "55,050" in mlp  # 784*64+64 + 64*64+64 + 64*10+10
    assert re.search(r"^lenet5 +\(N, 1, 28, 28\) +61,706 ", out, re.MULTILINE)
    assert main(["models", "mlp", "--dataset", "spiral"]) == 0
    out = capsys.readouterr().out
    assert "0 (Linear)" in out and "Total params: 4,547" in out  # 2*64+64 + 64*64+64 + 64*3+3
    assert main(["models", "lenet5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 61706
    assert "Did you mean 'mlp'?" in _exit2(["models", "mpl"], capsys)


def test_train_prints_the_architecture_and_wording(tmp_path, capsys):
    """Items 12 and 16: train prints the layers and parameter count first; "1 epoch", not "1 epochs"."""
    assert main(["train", "blobs", *QUICK, "--epochs", "1", "--output", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.index("0 (Linear)") < out.index("Total params: 51") < out.index("training mlp")  # 2*8+8 + 8*3+3
    assert "for 1 epoch ->" in out
    err = _exit2(["train", "blobs", "--epochs", "x"], capsys)
    assert "--epochs: expected a positive integer, e.g. 20; got 'x'" in err  # train's default, not xor's 2000


def test_n_train_that_the_dataset_cannot_give_is_reported(tmp_path, capsys):
    """Item 15: spiral makes equally many samples per class; --n-train 5 gives 3 and says so."""
    assert main(["train", "spiral", "--n-train", "5", "--n-test", "30", "--epochs", "1", "--progress", "none",
                 "--hidden", "4", "--output", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "--n-train 5: spiral gives 3 samples" in err and "multiple of 3" in err
    assert "--n-test" not in err


@pytest.mark.parametrize("argv, layer", [
    (["spiral", "--model", "lab-cnn"], r"layer '0' \(Conv2d\) was given \(20, 2\): Conv2d expected input \(N, 1, H, W\)"),
    (["spiral", "--spec", "@bad.toml"], r"layer '0' \(Linear\) was given \(20, 2\): .*in_features = 3"),
    (["spiral", "--spec", "@few.toml"], r"the model scores 2 classes but the labels go up to 2"),
])
def test_a_model_that_does_not_fit_is_one_message_and_nothing_is_written(argv, layer, tmp_path, capsys):
    """Item 3: one batch runs before training; the message names the layer and both shapes; no folder."""
    (tmp_path / "bad.toml").write_text('[[layers]]\ntype = "linear"\nin_features = 3\nout_features = 8\n'
                                       '[[layers]]\ntype = "linear"\nin_features = 8\nout_features = 3\n')
    (tmp_path / "few.toml").write_text('[[layers]]\ntype = "linear"\nin_features = 2\nout_features = 2\n')
    argv = [str(tmp_path / a[1:]) if a.startswith("@") else a for a in argv]
    out = tmp_path / "run"
    err = _exit2(["train", *argv, "--batch-size", "20", "--output", str(out)], capsys)
    assert re.search(layer, err), err
    assert "spiral (one sample: (2,))" in err and len(err.strip().splitlines()) == 2
    assert not out.exists()


def test_image_models_take_the_data_image_size(tmp_path, capsys):
    """lab-cnn (28x28 by default) on the 16x16 shapes dataset: its image_size comes from the data."""
    out = tmp_path / "r"
    assert main(["train", "shapes", "--model", "lab-cnn", "--n-train", "32", "--n-test", "16", "--epochs", "1",
                 "--progress", "none", "--output", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["model_spec"]["image_size"] == 16
    assert main(["evaluate", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "horizontal bar" in printed and "filled square" in printed  # item 7: class names, not 0-7
