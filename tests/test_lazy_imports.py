"""``import nnbasics`` leaves the layers and optimizers for their first use (issue 19: import time),
and every way of reaching them works as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nnbasics as nb

CODE = """
import sys
import nnbasics as nb
assert 'nnbasics.nn' not in sys.modules and 'nnbasics.optim' not in sys.modules, 'imported at import'
assert nb.nn.Linear(2, 3, rng=0).weight.shape == (3, 2)
assert 'nnbasics.nn' in sys.modules
from nnbasics import optim
assert optim.SGD is nb.optim.SGD
ns = {}
exec('from nnbasics import *', ns)
assert ns['nn'] is nb.nn and ns['optim'] is nb.optim
print('ok')
"""


def test_nn_and_optim_load_on_first_use_and_every_spelling_reaches_them():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_an_unknown_name_is_an_attribute_error_and_dir_lists_the_lazy_ones():
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        nb.not_a_name  # noqa: B018
    assert {"nn", "optim", "tensor"} <= set(dir(nb))
    assert not hasattr(nb, "also_not_a_name")
