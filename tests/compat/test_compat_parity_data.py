"""torch.utils.data under nnbasics run gives torch's batches, types and dtypes (parity with real torch)."""

import numpy as np


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-6, atol=1e-7)


def test_default_collate_and_loader_shapes(both):
    nb, pt = both("""
        import numpy as np
        import torch
        from torch.utils.data import DataLoader, Dataset, TensorDataset

        class Mixed(Dataset):
            def __len__(self):
                return 5
            def __getitem__(self, i):
                return {"x": np.full((2,), i, dtype=np.float64), "n": i, "f": i / 2, "s": f"s{i}",
                        "t": (torch.tensor([i, i + 1]), i % 2 == 0)}

        batches = list(DataLoader(Mixed(), batch_size=2))
        b = batches[0]
        ds = TensorDataset(torch.arange(7, dtype=torch.float32).reshape(7, 1), torch.arange(7))
        plain = [(x.tolist(), y.tolist()) for x, y in DataLoader(ds, batch_size=3, drop_last=True)]
        item = ds[2]
        save({"n_batches": len(batches), "len": len(DataLoader(Mixed(), batch_size=2)),
              "x": b["x"], "x_dtype": str(b["x"].dtype).split(".")[-1], "n": b["n"],
              "n_dtype": str(b["n"].dtype).split(".")[-1], "f_dtype": str(b["f"].dtype).split(".")[-1],
              "s": b["s"], "t0": b["t"][0], "t1": b["t"][1], "t_type": type(b["t"]).__name__,
              "plain": plain, "item_types": [type(v).__name__ for v in item], "item": item,
              "last": batches[-1]["n"]})
    """)
    assert nb.pop("item_types") == pt.pop("item_types") == ["Tensor", "Tensor"]
    assert nb == pt


def test_samplers_random_split_and_subset_are_partitions(both):
    nb, pt = both("""
        import torch
        from torch.utils.data import (BatchSampler, DataLoader, RandomSampler, SequentialSampler, Subset,
                                      TensorDataset, WeightedRandomSampler, random_split)
        torch.manual_seed(0)
        ds = TensorDataset(torch.arange(10))
        a, b = random_split(ds, [7, 3])
        c, d, e = random_split(ds, [0.5, 0.3, 0.2])
        seen = sorted(int(x) for batch in DataLoader(ds, batch_size=4, shuffle=True) for x in batch[0])
        bs = list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=False))
        w = list(WeightedRandomSampler([0, 0, 1.0], 5))
        sub = Subset(ds, [4, 2])
        save({"sizes": [len(a), len(b)], "fsizes": [len(c), len(d), len(e)],
              "union": sorted(int(a[i][0]) for i in range(len(a))) + sorted(int(b[i][0]) for i in range(len(b))),
              "seen": seen, "bs": bs, "w": w, "sub": [int(sub[0][0]), int(sub[1][0])], "rs": len(list(RandomSampler(ds)))})
    """)
    assert nb["sizes"] == pt["sizes"] == [7, 3]
    assert nb["fsizes"] == pt["fsizes"]
    assert sorted(nb["union"]) == list(range(10))
    assert nb["seen"] == pt["seen"] == list(range(10))
    for key in ("bs", "w", "sub", "rs"):
        assert nb[key] == pt[key], key


def test_manual_seed_makes_loader_order_and_init_reproducible(script, run):
    path = script("""
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        def once():
            torch.manual_seed(7)
            w = torch.nn.Linear(3, 2).weight.detach().numpy().copy()
            order = [int(x) for (b,) in DataLoader(TensorDataset(torch.arange(8)), batch_size=8, shuffle=True)
                     for x in b]
            return w, order, torch.randn(2).tolist()
        a, b = once(), once()
        print(bool((a[0] == b[0]).all()), a[1] == b[1], a[2] == b[2], a[1] != list(range(8)))
    """)
    status, out, err = run(path)
    assert status == 0, err
    assert out.split() == ["True"] * 4
