"""torch's names under nnbasics run: placeholders for classes nnbasics lacks, torch.nn.modules paths, stubs."""


def test_missing_nn_class_can_be_subclassed_and_stops_when_built(script, run):
    path = script("""
        import torch.nn as nn

        class TransformerModel(nn.Transformer):  # defined, never used: the script trains an LSTM
            pass

        class RNNModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(3, 4)

        m = RNNModel()
        m.rnn.flatten_parameters()
        print("lstm ok", issubclass(TransformerModel, nn.Module))
        TransformerModel(d_model=8)
    """)
    status, out, err = run(path)
    assert out.strip() == "lstm ok True"
    assert status == 2
    assert "torch.nn.Transformer is not supported" in err and "line 15" in err and "nn.LSTM" in err


def test_internal_module_paths_and_safe_globals(script, run):
    path = script("""
        import torch
        import torch.nn.modules.loss
        names = [torch.nn.modules.rnn.LSTM, torch.nn.modules.linear.Linear, torch.nn.modules.sparse.Embedding,
                 torch.nn.modules.dropout.Dropout, torch.nn.modules.loss.MSELoss]
        m = torch.nn.Linear(2, 2)
        torch.save(m, "m.pt")
        with torch.serialization.safe_globals(names):
            back = torch.load("m.pt")
        torch.serialization.add_safe_globals([torch.nn.Linear])
        print([n is getattr(torch.nn, n.__name__) for n in names], type(back).__name__,
              torch.accelerator.is_available(), torch.accelerator.current_accelerator())
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.strip() == "[True, True, True, True, True] Linear False None"


def test_gpu_stubs_report_absence(script, run):
    path = script("""
        import torch
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        torch.cuda.manual_seed_all(1)
        torch.backends.cudnn.deterministic = True
        mps = torch.backends.mps.is_available()
        print(device, torch.cuda.device_count(), mps, torch.backends.cudnn.is_available(), device == "cpu")
        torch.cuda.get_device_name(0)
    """)
    status, out, err = run(path)
    assert out.strip() == "cpu 0 False False False"  # a torch.device never equals a string, in torch too
    assert status == 2 and "torch.cuda.get_device_name" in err and "no CUDA" in err


def test_layer_subclass_passes_device_and_dtype_positionally(script, run):
    path = script("""
        import torch
        import torch.nn as nn

        class Layer(nn.Linear):  # pytorch/examples' forward-forward layer
            def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
                super().__init__(in_features, out_features, bias, device, dtype)

        a = Layer(3, 2)
        b = Layer(3, 2, True, "cpu", torch.float64)
        print(a.weight.dtype, b.weight.dtype, a(torch.ones(1, 3)).shape)
        Layer(3, 2, True, "cuda")
    """)
    status, out, err = run(path)
    assert out.split() == ["float32", "float64", "(1,", "2)"]
    assert status == 2 and "device='cuda'" in err and "line 7, in __init__" in err
