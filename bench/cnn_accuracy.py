"""Accuracy of the lab CNN on Fashion-MNIST: nnbasics and PyTorch on the same recipe (issue 4, item 6).

Recipe: ``build_model("lab-cnn")`` (conv 3x3 32, ReLU, max-pool, conv 3x3 64, ReLU, max-pool,
dropout 0.3, linear 3136->10), Adam lr 1e-3, batch 128, cross-entropy, float32, pixels scaled
to [0, 1], no augmentation. Both frameworks start from the *same* weights (nnbasics' init,
PyTorch's default distributions, copied into torch with ``load_state_dict``) and see the
batches in the same order (one NumPy permutation per epoch from ``--seed``); only the dropout
masks differ (each framework draws its own). Test accuracy on the 10,000 test images after
every epoch, and the wall time of each epoch, printed as a markdown table.

Claim checked (issue 4): at least 90% test accuracy within 5 epochs, and within 0.5 points of
PyTorch.

Usage::

    python bench/cnn_accuracy.py                                   # 5 epochs, all data, 2 threads
    python bench/cnn_accuracy.py --epochs 1 --train-images 10000   # quick check that it runs
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-images", type=int, default=60000)
    p.add_argument("--test-images", type=int, default=10000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--normalize", action="store_true",
                   help="standardize the pixels with the training set's mean and std (both frameworks)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):  # BLAS reads it when NumPy loads
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
                   MKL_NUM_THREADS=str(args.threads))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import numpy as np

    import nnbasics as nb
    import nnbasics.functional as F
    from nnbasics.models import build_model
    from nnbasics.optim import Adam

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from cnn_epoch import read_idx

    d = args.data
    x = (read_idx(f"{d}/train-images-idx3-ubyte.gz")[: args.train_images].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    y = read_idx(f"{d}/train-labels-idx1-ubyte.gz")[: args.train_images].astype(np.int64)
    xt = (read_idx(f"{d}/t10k-images-idx3-ubyte.gz")[: args.test_images].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    yt = read_idx(f"{d}/t10k-labels-idx1-ubyte.gz")[: args.test_images].astype(np.int64)
    if args.normalize:  # statistics of the training images only
        mean, std = float(x.mean()), float(x.std())
        x, xt = (x - mean) / std, (xt - mean) / std
    perms = [np.random.default_rng([args.seed, e]).permutation(len(x)) for e in range(args.epochs)]

    model = build_model("lab-cnn", rng=args.seed)
    init = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    rows = {}

    # ---- nnbasics
    opt = Adam(model.parameters(), lr=args.lr)
    acc, secs = [], []
    for e in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        for i in range(0, len(x), args.batch):
            idx = perms[e][i:i + args.batch]
            loss = F.cross_entropy(model(nb.as_tensor(x[idx])), nb.as_tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        secs.append(time.perf_counter() - t0)
        model.eval()
        with nb.no_grad():
            pred = np.concatenate([model(nb.as_tensor(xt[i:i + 1000])).numpy().argmax(1) for i in range(0, len(xt), 1000)])
        acc.append(float((pred == yt).mean()))
        print(f"nnbasics epoch {e + 1}: test acc {acc[-1]:.4f}, {secs[-1]:.1f} s", file=sys.stderr)
    rows["nnbasics"] = (acc, secs)

    # ---- torch, same initial weights and batch order
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        tn = torch.nn
        tm = tn.Sequential(tn.Conv2d(1, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                           tn.Conv2d(32, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                           tn.Dropout(0.3), tn.Flatten(), tn.Linear(3136, 10))
        tm.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
        topt = torch.optim.Adam(tm.parameters(), lr=args.lr)
        tx, ty, txt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt)
        acc, secs = [], []
        for e in range(args.epochs):
            tm.train()
            t0 = time.perf_counter()
            for i in range(0, len(x), args.batch):
                idx = torch.from_numpy(perms[e][i:i + args.batch])
                loss = tn.functional.cross_entropy(tm(tx[idx]), ty[idx])
                topt.zero_grad()
                loss.backward()
                topt.step()
            secs.append(time.perf_counter() - t0)
            tm.eval()
            with torch.no_grad():
                pred = torch.cat([tm(txt[i:i + 1000]).argmax(1) for i in range(0, len(xt), 1000)]).numpy()
            acc.append(float((pred == yt).mean()))
            print(f"torch epoch {e + 1}: test acc {acc[-1]:.4f}, {secs[-1]:.1f} s", file=sys.stderr)
        rows["torch"] = (acc, secs)

    print(f"\nlab CNN, Fashion-MNIST: {len(x)} training / {len(xt)} test images, batch {args.batch}, "
          f"Adam lr {args.lr}, {args.threads} thread(s), seed {args.seed}"
          f"{', pixels standardized' if args.normalize else ''}\n")
    names = list(rows)
    print("| epoch | " + " | ".join(f"{n} test acc | {n} s" for n in names) + " |")
    print("|---:|" + "---:|---:|" * len(names))
    for e in range(args.epochs):
        print(f"| {e + 1} | " + " | ".join(f"{rows[n][0][e]:.2%} | {rows[n][1][e]:.1f}" for n in names) + " |")
    if "torch" in rows:
        gap = 100 * (rows["nnbasics"][0][-1] - rows["torch"][0][-1])
        print(f"\nfinal: nnbasics {rows['nnbasics'][0][-1]:.2%}, torch {rows['torch'][0][-1]:.2%}, "
              f"difference {gap:+.2f} points")


if __name__ == "__main__":
    main()
