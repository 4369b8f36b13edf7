"""torch.save / torch.load under nnbasics run: safetensors files, never pickle; real torch reads the state dicts."""

import pytest


def test_state_dict_checkpoint_and_tensor_round_trip(script, run, tmp_path):
    path = script("""
        import torch
        import torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        model(torch.randn(5, 3)).sum().backward()
        opt.step()
        torch.save(model.state_dict(), "model.pt")
        torch.save({"epoch": 5, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                    "loss": 0.25, "history": [1.0, float("nan")], "pair": (1, "a"), "none": None}, "ckpt.pt")
        torch.save(torch.arange(6).reshape(2, 3), "t.pt")

        fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        fresh.load_state_dict(torch.load("model.pt"))
        x = torch.randn(2, 3)
        same = bool((fresh(x) - model(x)).abs().max().item() == 0)
        ck = torch.load("ckpt.pt", map_location="cpu", weights_only=True)
        opt2 = torch.optim.Adam(fresh.parameters(), lr=0.5)
        opt2.load_state_dict(ck["optimizer_state_dict"])
        t = torch.load("t.pt")
        print(same, ck["epoch"], ck["loss"], ck["history"][0], ck["history"][1] != ck["history"][1], ck["pair"],
              ck["none"], sorted(ck["model_state_dict"]) == sorted(model.state_dict()), opt2.param_groups[0]["lr"],
              t.tolist(), str(t.dtype))
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["True", "5", "0.25", "1.0", "True", "(1,", "'a')", "None", "True", "0.01",
                           "[[0,", "1,", "2],", "[3,", "4,", "5]]", "int64"]
    assert (tmp_path / "model.pt").read_bytes()[:1] != b"\x80"  # not a pickle


def test_saved_state_dict_loads_into_real_torch(script, run, tmp_path, torch):
    from safetensors.torch import load_file

    path = script("""
        import torch
        torch.manual_seed(1)
        torch.save(torch.nn.Linear(3, 2).state_dict(), "w.pt")
    """)
    assert run(path)[0] == 0
    sd = load_file(str(tmp_path / "w.pt"))
    m = torch.nn.Linear(3, 2)
    m.load_state_dict(sd)
    assert m.weight.shape == (2, 3)


def test_real_torch_pickle_loads_through_weights_only(script, run, tmp_path, torch):
    m = torch.nn.Linear(3, 2)
    torch.save({"state_dict": m.state_dict(), "epoch": 3}, tmp_path / "real.pth")
    torch.save(m, tmp_path / "module.pth")
    path = script("""
        import torch
        ck = torch.load("real.pth")
        net = torch.nn.Linear(3, 2)
        net.load_state_dict(ck["state_dict"])
        print(ck["epoch"], net.weight.shape)
        torch.load("module.pth")
    """)
    status, out, err = run(path)
    assert out.split()[0] == "3"
    expected = m.weight.detach().numpy()
    assert status == 2
    assert "torch.load" in err and "line 7" in err and "state_dict" in err
    assert "Unsupported global" in err and "torch.nn.modules.linear.Linear" in err
    assert expected.shape == (2, 3)


def test_a_whole_module_reloads_in_the_saving_process_only(script, run, tmp_path):
    path = script("""
        import torch
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
        torch.save(net, "m.pt")
        with torch.no_grad():
            net[0].weight.fill_(0.0)
        back = torch.load("m.pt")
        x = torch.ones(4, 2)
        print(type(back).__name__, back is not net, float(back[0].weight.abs().sum()) > 0,
              bool((back(x) - net(x)).abs().sum() > 0))
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["Sequential", "True", "True", "True"]
    later = script("import torch\ntorch.load('m.pt')\n", name="later.py")
    from nnbasics.compat.torch import serialization

    serialization._TEMPLATES.clear()  # a new process knows no architecture
    status, _, err = run(later)
    assert status == 2
    assert "saved by another process" in err and "model.state_dict()" in err


def test_saving_an_arbitrary_object_is_refused(script, run, tmp_path):
    path = script("""
        import torch
        class Thing:
            pass
        torch.save({"x": Thing()}, "m.pt")
    """)
    status, _, err = run(path)
    assert status == 2
    assert "torch.save of a __main__.Thing (at x) is not supported" in err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("bad", [b"", b"garbage that is not safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}"])
def test_damaged_file_is_one_message(script, run, tmp_path, bad):
    (tmp_path / "bad.pt").write_bytes(bad)
    status, _, err = run(script("import torch\ntorch.load('bad.pt')\n"))
    assert status == 1
    assert "bad.pt" in err and "nnbasics/" not in err
