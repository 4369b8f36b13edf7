"""dropout2d on a 2-D (N, features) input: element-wise dropout with a warning, as PyTorch (pytorch/examples' mnist_rnn)."""

import numpy as np
import pytest

import nnbasics as nb
import nnbasics.functional as F


def test_two_d_input_is_dropped_elementwise_with_a_warning(torch):
    x = nb.ones(64, 50)
    with pytest.warns(UserWarning, match="2-D input"):
        y = F.dropout2d(x, 0.5, training=True, rng=0).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    rows_mixed = np.mean([(r == 0).any() and (r == 2).any() for r in y])
    assert rows_mixed > 0.9  # element-wise, not whole rows
    assert abs((y == 0).mean() - 0.5) < 0.05
    with pytest.warns(UserWarning):
        t = torch.nn.functional.dropout2d(torch.ones(64, 50), 0.5, training=True).numpy()
    assert set(np.unique(t)) == {0.0, 2.0} and np.mean([(r == 0).any() and (r == 2).any() for r in t]) > 0.9
    with pytest.warns(UserWarning):
        assert F.dropout2d(x, 0.5, training=False) is x
    with pytest.warns(UserWarning):
        module = nb.nn.Dropout2d(0.25)(nb.ones(8, 9))
    assert module.shape == (8, 9)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.dropout2d(nb.ones(5), 0.5)
