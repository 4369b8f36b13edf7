"""Reassigning a submodule or parameter keeps its place in the registry, as in PyTorch (children(), state_dict order)."""

import nnbasics as nb
from nnbasics import nn


def test_reassigned_submodule_and_parameter_keep_their_place(torch):
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, rng=0)
            self.b = nn.Linear(2, 2, rng=1)
            self.w = nn.Parameter(nb.ones(2))
            self.v = nn.Parameter(nb.ones(2))

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 2)
            self.b = torch.nn.Linear(2, 2)
            self.w = torch.nn.Parameter(torch.ones(2))
            self.v = torch.nn.Parameter(torch.ones(2))

    o, t = Ours(), Theirs()
    o.a = nn.Linear(2, 5, rng=2)  # model surgery, e.g. resnet.conv1 = nn.Conv2d(1, 64, ...)
    t.a = torch.nn.Linear(2, 5)
    o.w = nn.Parameter(nb.ones(3))
    t.w = torch.nn.Parameter(torch.ones(3))
    assert [n for n, _ in o.named_children()] == [n for n, _ in t.named_children()] == ["a", "b"]
    assert list(o.state_dict()) == list(t.state_dict()) == ["w", "v", "a.weight", "a.bias", "b.weight", "b.bias"]
    assert o.a.out_features == 5 and o.w.shape == (3,)
