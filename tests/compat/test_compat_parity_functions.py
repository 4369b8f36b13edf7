"""torch's functions, constructors and nn.functional under nnbasics run agree with real torch on fixed inputs."""

import numpy as np
import pytest


def _assert_tree_close(a, b, path="", rtol=1e-5, atol=1e-6):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_tree_close(a[k], b[k], f"{path}.{k}", rtol, atol)
    elif isinstance(a, (list, tuple)) and a and isinstance(a[0], (dict, str)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_tree_close(x, y, f"{path}[{i}]", rtol, atol)
    elif isinstance(a, str) or a is None or isinstance(a, bool):
        assert a == b, f"{path}: {a!r} != {b!r}"
    else:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert x.shape == y.shape, f"{path}: shape {x.shape} != {y.shape}"
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=path)


def test_constructors_and_dtype_rules(both):
    nb, pt = both("""
        import numpy as np
        import torch
        def d(t):
            return str(t.dtype).replace("torch.", "")
        out = {
            "tensor_int": d(torch.tensor([1, 2])), "tensor_float": d(torch.tensor([1.0, 2])),
            "tensor_bool": d(torch.tensor([True])), "np64": d(torch.tensor(np.zeros(2))),
            "from_numpy32": d(torch.from_numpy(np.zeros(2, np.float32))),
            "Tensor_list": d(torch.Tensor([1, 2])), "Tensor_sizes": list(torch.Tensor(2, 3).shape),
            "FloatTensor": d(torch.FloatTensor([1, 2])), "LongTensor": d(torch.LongTensor([1.7, 2])),
            "LongTensor_vals": torch.LongTensor([1.7, 2]).tolist(), "ByteTensor": d(torch.ByteTensor(3)),
            "arange_int": torch.arange(5).tolist(), "arange_int_dtype": d(torch.arange(5)),
            "arange_float": torch.arange(0, 1, 0.1).tolist(), "arange_float_dtype": d(torch.arange(0, 1, 0.1)),
            "arange_n": len(torch.arange(1, 2.5, 0.5)), "linspace": torch.linspace(0, 1, 5).tolist(),
            "eye": torch.eye(2, 3).tolist(), "full_int": d(torch.full((2,), 3)), "full_float": d(torch.full((2,), 3.0)),
            "full_bool": d(torch.full((2,), True)), "zeros": list(torch.zeros((2, 3)).shape),
            "ones_dtype": d(torch.ones(2, dtype=torch.long)), "like": d(torch.zeros_like(torch.arange(3))),
            "empty": list(torch.empty(3, 2).shape), "float_is_32": torch.float == torch.float32,
            "long_is_64": torch.long == torch.int64, "double": d(torch.tensor([1.0], dtype=torch.double)),
            "isinstance_float": isinstance(torch.ones(2), torch.FloatTensor),
            "isinstance_long": isinstance(torch.ones(2), torch.LongTensor),
            "is_tensor": torch.is_tensor(torch.ones(1)), "is_fp": torch.is_floating_point(torch.ones(1)),
            "numel": torch.numel(torch.ones(2, 3)), "eps": float(torch.finfo(torch.float32).eps),
            "default": d(torch.zeros(1).dtype and torch.zeros(1)),
        }
        save(out)
    """)
    assert nb == pt


def test_joining_where_and_comparisons(both):
    nb, pt = both("""
        import torch
        a = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
        b = torch.tensor([[0.5, 0.5], [-1.0, 2.0]])
        save({
            "cat0": torch.cat([a, b]), "cat1": torch.cat((a, b), dim=1), "stack": torch.stack([a, b], 2),
            "hstack": torch.hstack([a, b]), "vstack": torch.vstack([a[0], b[0]]),
            "where": torch.where(a > 0, a, b), "where_scalar": torch.where(a > 0, a, 0.0),
            "nonzero": [t.tolist() for t in torch.where(a > 0)],
            "einsum": torch.einsum("ij,jk->ik", a, b), "meshgrid": [g.tolist() for g in torch.meshgrid(
                torch.tensor([1, 2]), torch.tensor([3, 4, 5]), indexing="ij")],
            "allclose": torch.allclose(a, a + 1e-9), "equal": torch.equal(a, b), "isclose": torch.isclose(a, b),
            "cat_empty": torch.cat([torch.tensor([]), torch.tensor([1.0, 2.0])]),
        })
    """)
    _assert_tree_close(nb, pt)


def test_functional_extras(both):
    nb, pt = both("""
        import torch
        import torch.nn.functional as F
        x = torch.tensor([[[-1.0, 0.5, 2.0, 3.0], [0.1, -0.2, 0.3, -0.4]]])  # (1, 2, 4)
        p = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
        q = torch.tensor([[0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
        save({
            "pad1": F.pad(x, (1, 2)), "pad2": F.pad(x, (1, 0, 0, 1), value=-1.0),
            "one_hot": F.one_hot(torch.tensor([0, 2, 1])), "one_hot_n": F.one_hot(torch.tensor([1]), 4),
            "softmax_implicit_2d": F.softmax(p, dim=None) if False else F.softmax(p, 1),
            "softmax_dim0": F.softmax(x, 0), "log_softmax": F.log_softmax(p, dim=-1), "softmin": F.softmin(p, 1),
            "kl": F.kl_div(q.log(), p, reduction="batchmean"), "kl_sum": F.kl_div(q.log(), p, reduction="sum"),
            "kl_none": F.kl_div(q.log(), p, reduction="none"),
            "cos": F.cosine_similarity(p, q), "pdist": F.pairwise_distance(p, q),
            "threshold": F.threshold(x, 0.2, -5.0), "glu": F.glu(x, -1), "hardswish": F.hardswish(x),
            "relu_inplace": F.relu(x, inplace=False), "leaky": F.leaky_relu(x, 0.2),
            "maxpool1d": F.max_pool1d(x, 2), "avgpool1d": F.avg_pool1d(x, 2),
            "mse_legacy": F.mse_loss(p, q, reduce=False), "mse_sum": F.mse_loss(p, q, size_average=False),
            "nll": F.nll_loss(p.log(), torch.tensor([2, 0])), "ce": F.cross_entropy(p, torch.tensor([1, 2])),
            "bce": F.binary_cross_entropy(p, q), "dropout_eval": F.dropout(x, 0.5, training=False),
            "normalize": F.normalize(p, dim=1), "linear": F.linear(p, q, torch.tensor([1.0, 2.0])),
        })
    """)
    _assert_tree_close(nb, pt)


def test_softmax_without_dim_uses_torchs_legacy_dim(both):
    nb, pt = both("""
        import warnings
        import torch
        import torch.nn.functional as F
        warnings.simplefilter("ignore")
        save({"d1": F.softmax(torch.tensor([1.0, 2.0, 3.0])), "d2": F.softmax(torch.tensor([[1.0, 2.0], [0.0, 5.0]])),
              "d3": F.softmax(torch.arange(12.0).reshape(2, 3, 2)), "d4": F.log_softmax(torch.ones(1, 2, 2, 2))})
    """)
    _assert_tree_close(nb, pt)


def test_packed_sequences(both):
    nb, pt = both("""
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence
        seqs = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0]), torch.tensor([6.0])]
        padded = pad_sequence(seqs, batch_first=True)
        packed = pack_sequence(seqs)
        back, lengths = pad_packed_sequence(packed, batch_first=True)
        unsorted = pack_padded_sequence(padded[[2, 0, 1]], [1, 3, 2], batch_first=True, enforce_sorted=False)
        back2, lengths2 = pad_packed_sequence(unsorted, batch_first=False, total_length=4)
        save({"padded": padded, "data": packed.data, "batch_sizes": packed.batch_sizes, "back": back,
              "lengths": lengths, "u_data": unsorted.data, "u_sorted": unsorted.sorted_indices,
              "u_unsorted": unsorted.unsorted_indices, "back2": back2, "lengths2": lengths2,
              "pad_value": pad_sequence(seqs, padding_value=-1.0)})
    """)
    _assert_tree_close(nb, pt)


def test_packed_sequence_through_rnn_matches_per_sequence_runs(script, run):
    path = script("""
        import torch
        from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence
        torch.manual_seed(0)
        for cls in (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU):
            rnn = cls(3, 4, num_layers=2, batch_first=True)
            seqs = [torch.randn(5, 3), torch.randn(3, 3), torch.randn(2, 3)]
            out, h = rnn(pack_sequence(seqs))
            padded, lengths = pad_packed_sequence(out, batch_first=True)
            h_n = h[0] if isinstance(h, tuple) else h
            for i, s in enumerate(seqs):
                o_i, h_i = rnn(s.unsqueeze(0))
                h_i = h_i[0] if isinstance(h_i, tuple) else h_i
                assert (padded[i, :len(s)] - o_i[0]).abs().max().item() < 1e-5, cls
                assert padded[i, len(s):].abs().sum().item() == 0
                assert (h_n[:, i] - h_i[:, 0]).abs().max().item() < 1e-5, cls
        print("ok", lengths.tolist())
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.strip() == "ok [5, 3, 2]"


@pytest.mark.parametrize("fn", ["grad", "function"])
def test_autograd_grad_and_custom_function(both, fn):
    nb, pt = both(f"""
        import torch
        from torch.autograd import Variable
        x = Variable(torch.tensor([1.0, -2.0, 3.0]), requires_grad=True)
        if "{fn}" == "grad":
            y = (x * x * x).sum()
            (g,) = torch.autograd.grad(y, x)
            save({{"g": g, "x_grad_untouched": x.grad is None}})
        else:
            class Cube(torch.autograd.Function):
                @staticmethod
                def forward(ctx, inp, scale):
                    ctx.save_for_backward(inp)
                    ctx.scale = scale
                    return inp.pow(3) * scale
                @staticmethod
                def backward(ctx, grad_output):
                    (inp,) = ctx.saved_tensors
                    return grad_output * 3 * inp.pow(2) * ctx.scale, None
            y = Cube.apply(x, 2.0)
            (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
            save({{"y": y.detach(), "grad": x.grad}})
    """)
    _assert_tree_close(nb, pt)


def test_inplace_of_the_functional_dropouts_threshold_and_hardswish_changes_the_input(both):
    """Found by the audit (issue 13): torch.nn.functional.dropout/dropout2d/alpha_dropout, threshold and
    hardswish under nnbasics run accepted inplace=True and left the input unchanged (the result only was
    returned), so `F.dropout(x, 0.5, self.training, inplace=True); return x` trained without dropout."""
    nb, pt = both("""
        import torch
        import torch.nn.functional as F
        torch.manual_seed(0)
        x = torch.ones(400)
        r = F.dropout(x, 0.5, training=True, inplace=True)
        c = torch.ones(2, 6, 3, 3)
        F.dropout2d(c, 0.5, inplace=True)
        t = torch.tensor([-1.0, 0.5, 2.0])
        F.threshold(t, 0.6, -5.0, inplace=True)
        h = torch.tensor([-4.0, 0.5, 4.0])
        F.hardswish(h, inplace=True)
        a = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        y = a * 1
        F.threshold(y, 0.6, -5.0, inplace=True)
        y.sum().backward()
        save({"same": r is x, "dropped": sorted(set(x.tolist())), "maps": sorted(set(c.sum((2, 3)).flatten().tolist())),
              "threshold": t.tolist(), "hardswish": h.tolist(), "grad": a.grad.tolist(), "y": y.tolist()})
    """)
    _assert_tree_close(nb, pt)


def test_out_of_the_creation_functions_cat_stack_and_where_is_written(both):
    """Found by the audit (issue 13): torch.cat/stack/where and zeros/arange/linspace/eye/randn... under
    nnbasics run accepted out= and ignored it, leaving the buffer unchanged without a word."""
    nb, pt = both("""
        import torch
        def filled(make, buf):
            r = make(buf)
            return {"values": buf.tolist(), "returned_out": r is buf}
        save({
            "cat": filled(lambda o: torch.cat([torch.ones(2), torch.zeros(1)], out=o), torch.empty(3)),
            "cat_resized": filled(lambda o: torch.cat([torch.ones(2), torch.zeros(1)], out=o), torch.empty(0)),
            "stack": filled(lambda o: torch.stack([torch.ones(2), torch.zeros(2)], out=o), torch.empty(2, 2)),
            "where": filled(lambda o: torch.where(torch.tensor([True, False]), torch.ones(2), torch.zeros(2), out=o),
                            torch.empty(2)),
            "zeros": filled(lambda o: torch.zeros(2, out=o), torch.ones(2)),
            "arange": filled(lambda o: torch.arange(4, out=o), torch.empty(4, dtype=torch.long)),
            "linspace": filled(lambda o: torch.linspace(0, 1, 3, out=o), torch.empty(3)),
            "eye": filled(lambda o: torch.eye(2, out=o), torch.empty(2, 2)),
            "randn_changed": bool((torch.randn(3, out=torch.zeros(3)) != 0).all()),
        })
    """)
    _assert_tree_close(nb, pt)


def test_autograd_backward_refuses_what_it_cannot_do_instead_of_ignoring_it():
    """torch.autograd.backward(y, inputs=[x]) / create_graph=True were silently run as a plain backward."""
    from nnbasics.compat import torch

    x = torch.ones(2, requires_grad=True)
    for kwargs in ({"inputs": [x]}, {"create_graph": True}):
        with pytest.raises(NotImplementedError, match="first-order"):
            torch.autograd.backward((x * x).sum(), **kwargs)
    assert x.grad is None
    torch.autograd.backward([(x * 3).sum()])
    assert x.grad.tolist() == [3.0, 3.0]
