"""Write ``src/nnbasics/compat/torch_api.json``: the public names of real PyTorch/torchvision, for ``nnbasics run``.

``nnbasics run`` uses the list to tell a torch API that nnbasics lacks ("torch.fft is not supported
by nnbasics: ...", exit 2) from a typo in the script ("module 'torch' has no attribute 'zeross'",
the script's own error). Rerun after moving to a new torch version::

    python bench/torch_api_names.py            # needs torch and torchvision installed
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

MODULES = (
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.nn.utils.rnn",
    "torch.nn.parameter", "torch.optim", "torch.optim.lr_scheduler", "torch.utils", "torch.utils.data",
    "torch.utils.data.dataset", "torch.utils.data.dataloader", "torch.utils.data.sampler", "torch.autograd",
    "torch.autograd.function", "torch.cuda", "torch.backends", "torch.onnx", "torch.serialization",
    "torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.transforms.functional",
    "torchvision.utils",
)
CLASSES = ("torch.Tensor", "torch.nn.Module", "torch.optim.Optimizer", "torch.utils.data.DataLoader",
           "torch.utils.data.Dataset")


def _import_torchvision():
    import torch

    # NOTE: torchvision's PyPI wheels are CUDA builds; beside a CPU torch their C ops do not load and
    # the import fails registering fakes for two of them. Declaring the schemas lets the pure-Python
    # parts (datasets, transforms, utils) import, which is all this list needs.
    for op in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass
    import torchvision  # noqa: F401


def collect() -> dict:
    import torch

    _import_torchvision()
    out = {"torch_version": torch.__version__, "modules": {}, "classes": {}}
    for name in MODULES:
        mod = importlib.import_module(name)
        out["modules"][name] = sorted(n for n in dir(mod) if not n.startswith("__"))
    for dotted in CLASSES:
        mod_name, _, cls_name = dotted.rpartition(".")
        cls = getattr(importlib.import_module(mod_name), cls_name)
        out["classes"][dotted] = sorted(n for n in dir(cls) if not n.startswith("__"))
    return out


def main(argv=None) -> int:
    target = Path(__file__).resolve().parents[1] / "src" / "nnbasics" / "compat" / "torch_api.json"
    data = collect()
    target.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {target} ({sum(len(v) for v in data['modules'].values())} module names, torch "
          f"{data['torch_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
