"""grad_fn.next_functions and name(): the graph as PyTorch exposes it (ops, AccumulateGrad for leaves, None)."""

import nnbasics as nb


def _shape(node, depth=0):
    """The graph below ``node`` as nested (name, [children]) with None for inputs without gradient."""
    if node is None:
        return None
    return (node.name(), [_shape(n, depth + 1) for n, _ in node.next_functions])


def test_next_functions_follow_the_graph_like_torch(torch):
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    c = nb.tensor([3.0, 4.0])
    y = (x * c + x).sum()
    ours = _shape(y.grad_fn)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tx * torch.tensor([3.0, 4.0]) + tx).sum()
    theirs = _shape(ty.grad_fn)

    def kinds(s):  # torch names nodes MulBackward0...; compare the structure and the leaf kinds
        if s is None:
            return None
        name, kids = s
        return ("leaf" if name.endswith("AccumulateGrad") else "op", [kinds(k) for k in kids])

    assert kinds(ours) == kinds(theirs)
    assert ours[0] == "Sum" and ours[1][0][0] == "Add"
    leaf = y.grad_fn.next_functions[0][0].next_functions[1][0]
    assert leaf.variable is x and repr(leaf) == "<AccumulateGrad>"


def test_next_functions_is_empty_after_backward_frees_the_graph():
    x = nb.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    assert y.grad_fn.next_functions
    y.backward()
    assert y.grad_fn.next_functions == ()
