"""With only the lab extra (no safetensors, no torch, no onnx), the README's train -> evaluate -> predict works
(issue 14 item 1: `train` trained every epoch, then lost the model to "save_bytes needs the 'safetensors'
package"). The packages are made unimportable in a subprocess; `.ci/run`'s third leg runs the same in a
fresh venv with `pip install -e ".[lab]"`."""

import json
import os
import subprocess
import sys

import numpy as np

HIDE = ("safetensors", "torch", "onnx", "onnxruntime")
RUNNER = ("import sys\n"
          f"for name in {HIDE!r}:\n"
          "    sys.modules[name] = None  # `import name` now raises ImportError\n"
          "from nnbasics.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")


def _nnbasics(*argv, cwd, hide=HIDE):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runner = RUNNER.replace(repr(HIDE), repr(hide))
    return subprocess.run([sys.executable, "-c", runner, *argv], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=180, check=False)


def test_train_evaluate_predict_without_safetensors_or_torch(tmp_path):
    proc = _nnbasics("train", "spiral", "--epochs", "3", "--output", "runs/x", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "runs" / "x"
    assert {"last.safetensors", "best.safetensors", "history.json", "config.json", "manifest.json"} <= {
        p.name for p in run.iterdir()}
    proc = _nnbasics("evaluate", "runs/x", "--json", "m.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    history = json.loads((run / "history.json").read_text())["history"]
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == history["val_accuracy"][-1]
    np.savetxt(tmp_path / "points.csv", np.array([[0.0, 0.0], [0.5, -0.2]]), delimiter=",")
    proc = _nnbasics("predict", "runs/x", "points.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [int(v) for v in proc.stdout.split()] and len(proc.stdout.split()) == 2
    probe = subprocess.run([sys.executable, "-c", RUNNER.replace("from nnbasics.cli import main\nsys.exit(main("
                                                                 "sys.argv[1:]))\n", "import safetensors\n")],
                           capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr  # the packages really were hidden


def test_ci_runs_the_readme_commands_with_only_the_lab_extra():
    """The README's train/evaluate/predict lines are the ones `.ci/run`'s lab-only leg runs."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    block = re.search(r"train a model, evaluate it and predict with it.*?```bash\n(.*?)```", readme,
                      re.DOTALL).group(1)
    lines = [ln for ln in block.splitlines() if ln.strip()]
    assert any("nnbasics train" in ln for ln in lines) and any("nnbasics predict" in ln for ln in lines)
    ci = (root / ".ci" / "run").read_text()
    leg = ci.split("pip install -q -e \".[lab]\"", 1)[1]
    for line in lines:
        assert line in leg, line


def test_the_core_alone_trains_and_says_why_there_is_no_figure(tmp_path):
    """No extra at all (no matplotlib, no tqdm either): the run is saved; history.html has the numbers."""
    proc = _nnbasics("train", "blobs", "--epochs", "2", "--n-train", "60", "--output", "r", cwd=tmp_path,
                     hide=(*HIDE, "matplotlib", "tqdm"))
    assert proc.returncode == 0, proc.stderr
    assert "history.png not drawn: matplotlib is not installed" in proc.stderr
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert "history.html" in names and "history.png" not in names and "last.safetensors" in names
    assert "matplotlib is not installed" in (tmp_path / "r" / "history.html").read_text()
