"""nnbasics run: the script runs as under `python SCRIPT.py`; unsupported APIs and script errors are reported."""

import sys

import pytest


def test_script_sees_main_argv_file_and_its_own_modules(script, run, tmp_path):
    script("VALUE = 41\n", name="helper.py")
    path = script("""
        import sys, os
        import helper
        print(__name__, sys.argv[1:], os.path.basename(__file__), helper.VALUE + 1)
        print(open("data.txt").read().strip())
    """)
    (tmp_path / "data.txt").write_text("relative path ok")
    status, out, err = run(path, "--epochs", "3")
    assert status == 0, err
    assert out.splitlines() == ["__main__ ['--epochs', '3'] main.py 42", "relative path ok"]


def test_import_forms_resolve_to_nnbasics(script, run):
    path = script("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch import optim
        from torch.utils.data import DataLoader
        import torchvision.transforms as T
        import nnbasics
        print(isinstance(torch.zeros(2), nnbasics.Tensor), nn.Linear.__mro__[1] is nnbasics.nn.Linear,
              F.relu is not None, optim.SGD.__name__, DataLoader.__name__, T.ToTensor.__name__)
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["True", "True", "True", "SGD", "DataLoader", "ToTensor"]


def test_the_hook_lives_only_in_the_run(script, run):
    path = script("import torch\n")
    run(path)
    from nnbasics.compat.finder import TorchFinder

    assert not any(isinstance(f, TorchFinder) for f in sys.meta_path)
    mod = sys.modules.get("torch")
    assert mod is None or not mod.__name__.startswith("nnbasics")


def test_unsupported_api_names_it_the_line_and_the_alternative(script, run):
    path = script("""
        import torch
        x = torch.ones(4)
        y = torch.fft.rfft(x)
    """)
    status, _out, err = run(path)
    assert status == 2
    assert "torch.fft is not supported by nnbasics" in err
    assert 'main.py", line 4' in err and "y = torch.fft.rfft(x)" in err
    assert "numpy.fft" in err
    assert "nnbasics/" not in err and "Traceback" not in err


def test_gpu_request_is_unsupported_with_the_no_gpu_advice(script, run):
    path = script("""
        import torch
        m = torch.nn.Linear(2, 2, device="cuda")
    """)
    status, _, err = run(path)
    assert status == 2
    assert "device='cuda'" in err and "no CUDA" in err and "line 3" in err


def test_missing_tensor_method_known_to_torch_is_unsupported(script, run):
    path = script("""
        import torch
        x = torch.ones(3)
        x.to_sparse()
    """)
    status, _, err = run(path)
    assert status == 2
    assert "torch.Tensor.to_sparse is not supported" in err and "line 4" in err


def test_typo_is_the_scripts_own_error(script, run):
    path = script("""
        import torch
        x = torch.zeross(3)
    """)
    status, _, err = run(path)
    assert status == 1
    assert "AttributeError: module 'torch' has no attribute 'zeross'" in err
    assert "not supported" not in err


def test_script_bug_shows_python_traceback_of_user_frames_only(script, run):
    path = script("""
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x):
                return self.fc(x)

        Net()(torch.ones(4, 5))
    """)
    status, _, err = run(path)
    assert status == 1
    assert err.startswith("Traceback (most recent call last):")
    assert 'line 13, in <module>' in err and "line 11, in forward" in err
    assert "nnbasics/" not in err and "raised inside nnbasics" in err
    assert "(4, 5)" in err  # nnbasics' own message about the shapes


def test_exit_code_and_keyboard_interrupt(script, run):
    assert run(script("import sys\nsys.exit(3)\n"))[0] == 3
    assert run(script("import sys\nsys.exit()\n"))[0] == 0
    status, _, err = run(script("raise KeyboardInterrupt\n"))
    assert status == 130 and "interrupted" in err


def test_unknown_ecosystem_package_is_unsupported(script, run):
    status, _, err = run(script("import torchtext\n"))
    assert status == 2 and "torchtext is not supported" in err and "nnbasics.data.text" in err


def test_missing_torch_submodule_falls_back_like_import_error(script, run):
    path = script("""
        try:
            import torch.distributed as dist
        except ImportError as e:
            print("fallback", type(e).__mro__[1].__name__)
        import torch.backends.cudnn as cudnn
        cudnn.benchmark = True
        print(cudnn.is_available(), hasattr(__import__("torch").backends, "mps"))
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["fallback", "UnsupportedTorchAPI", "False", "True"]


def test_notebook_runs_its_code_cells(tmp_path, run):
    import json

    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
        {"cell_type": "code", "metadata": {}, "source": ["%matplotlib inline\n", "import torch\n", "x = torch.ones(2)"],
         "outputs": [], "execution_count": 1},
        {"cell_type": "code", "metadata": {}, "source": "!pip install nothing\nprint(int(x.sum().item()))",
         "outputs": [], "execution_count": 2},
    ]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    status, out, err = run(path)
    assert status == 0, err
    assert out.strip() == "2"


def test_syntax_error_is_reported_like_python(script, run):
    status, _, err = run(script("x = (1,\n"))
    assert status == 1 and "SyntaxError" in err


@pytest.mark.parametrize("argv, message", [
    (["run", "missing.py"], "missing.py: no such file"),
    (["run", "--xray-output", "x", "main.py"], "only makes sense with --xray"),
])
def test_cli_usage_errors_exit_2(cli, script, argv, message):
    script("print('hi')\n")
    proc = cli(*argv)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_cli_passes_arguments_and_status(cli, script):
    script("import sys\nprint(sys.argv[1:])\nsys.exit(len(sys.argv))\n")
    proc = cli("run", "main.py", "--lr", "0.1", "-v")
    assert proc.stdout.strip() == "['--lr', '0.1', '-v']"
    assert proc.returncode == 4


def test_the_autograd_graph_can_be_walked_and_hooks_on_nodes_are_unsupported(script, run):
    path = script("""
        import torch
        x = torch.ones(2, requires_grad=True)
        loss = (x * 2).sin().sum()
        print(loss.grad_fn.name(), loss.grad_fn.next_functions[0][0].name(),
              loss.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0])
        loss.grad_fn.register_prehook(lambda g: g)
    """)
    status, out, err = run(path)
    assert out.split() == ["Sum", "Sin", "<AccumulateGrad>"]
    assert status == 2 and "torch.autograd.graph.Node.register_prehook is not supported" in err


def test_from_import_of_a_missing_name(script, run):
    status, _, err = run(script("from torch import fft\n"))
    assert status == 2 and "torch.fft is not supported" in err and "numpy.fft" in err
    status, _, err = run(script("from torch.nn.functional import relu, not_a_function\n"))
    assert status == 1 and "cannot import name 'not_a_function' from 'torch.nn.functional'" in err
    assert "nnbasics" not in err
