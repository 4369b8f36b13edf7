"""The Python-script export: a short, plain program that rebuilds a playground run and trains it.

The script uses only the library's public pieces (generators, ``build_from_spec``, optimizers,
losses, schedules) and repeats the playground's recipe exactly -- the data from the data seed,
the weights from ``default_rng([seed, 1, member])``, the batches from ``default_rng([seed, 2,
member])`` -- so ``main(steps)`` reaches the very weights the playground had after ``steps``
steps of the current setup. (Changes made mid-run are not replayed: the script trains the
setup as it is now, from the start.)
"""

from __future__ import annotations

import pprint

from .network import export_spec

__all__ = ["training_script"]

_HEAD = '''"""{title}

Rebuilds the playground's data, network and optimizer from their seeds and trains from the start
(the setup as exported; changes made mid-run are not replayed). Run: python {file} [--steps N]
"""

import argparse

import numpy as np

import nnbasics.functional as F
from nnbasics import as_tensor, no_grad
from nnbasics.data import stratified_split, stratified_subset, synthetic  # noqa: F401
from nnbasics.models.spec import build_from_spec
from nnbasics.optim import schedules  # noqa: F401
from nnbasics.training.ensemble import Ensemble  # noqa: F401
import nnbasics.optim as optim

SEED = {seed}
STEPS = {steps}
BATCH_SIZE = {batch_size}
MEMBERS = {members}
'''

_TWO_D = {
    "xor": "X, y = synthetic.xor({n}, rng=g)\n    X = X + g.normal(0.0, {noise!r} / 2, X.shape).astype(np.float32)",
    "spiral": "X, y = synthetic.spiral(n_per_class={per_class}, n_classes={classes}, noise={noise!r}, rng=g)",
    "circles": "X, y = synthetic.circles({n}, noise={noise!r} / 2, rng=g)",
    "moons": "X, y = synthetic.moons({n}, noise={noise!r}, rng=g)",
    "blobs": "X, y = synthetic.blobs({n}, centers=g.uniform(-1, 1, ({classes}, 2)), "
             "cluster_std=0.1 + {noise!r} / 2, rng=g)",
    "gaussian": "X, y = synthetic.blobs({n}, centers=[[0.5, 0.5], [-0.5, -0.5]], cluster_std=0.15 + {noise!r} / 2, "
                "rng=g)",
}


def _stratified(run) -> bool:
    """Whether the playground split class-balanced (classification with >= 2 samples of every class)."""
    d = run.data
    if d.task != "classification":
        return False
    import numpy as np

    return int(np.bincount(np.concatenate([d.y_train, d.y_test])).min()) >= 2


def _split_code(n_train, n_test, stratified):
    if stratified:
        return f"train, test = stratified_split(y, [{n_train}, {n_test}], rng=g)"
    return (f"perm = g.permutation({n_train + n_test})\n"
            f"    train, test = np.sort(perm[{n_test}:]), np.sort(perm[:{n_test}])")


def _data_code(run) -> str:
    cfg, d = run.cfg, run.data
    n_train, n_test = len(d.y_train), len(d.y_test)
    head = f"def load_data():\n    g = np.random.default_rng([{cfg['data_seed']}, 0])  # the data seed's stream\n    "
    if d.name in _TWO_D:
        classes = cfg["classes"] if d.name in ("spiral", "blobs") else 2
        gen = _TWO_D[d.name].format(n=cfg["n"], noise=cfg["noise"], classes=classes,
                                    per_class=max(1, cfg["n"] // classes))
        body = (f"{gen}\n    X = X.astype(np.float32)\n    {_split_code(n_train, n_test, _stratified(run))}\n"
                "    return X[train], y[train], X[test], y[test]\n")
    elif d.name == "shapes":
        body = (f"X, y = synthetic.shapes({n_train}, size=16, noise={cfg['noise']!r} / 2, rng=g)\n"
                f"    Xt, yt = synthetic.shapes({n_test}, size=16, noise={cfg['noise']!r} / 2, rng=g)\n"
                "    return X, y, Xt, yt\n")
    elif d.kind == "image":
        body = (f"from nnbasics.data import load_dataset\n\n    X, y = load_dataset({d.name!r}, 'train', download=False)\n"
                f"    Xt, yt = load_dataset({d.name!r}, 'test', download=False)\n"
                f"    tr, te = stratified_subset(y, {n_train}, rng=g), stratified_subset(yt, {n_test}, rng=g)\n"
                "    return X[tr], y[tr], Xt[te], yt[te]\n")
    else:
        body = _csv_code(run, n_train, n_test)
    return head + body


def _csv_code(run, n_train, n_test):
    d, cfg = run.data, run.cfg
    reg = d.task == "regression"
    code = ("from nnbasics.playground.csvdata import parse_csv  # the playground's CSV rules (header, label column)\n\n"
            f"    with open({d.source!r}, encoding='utf-8') as f:  # the uploaded file\n"
            "        table = parse_csv(f.read())\n"
            "    X, y = table.X, table.y\n"
            f"    {_split_code(n_train, n_test, _stratified(run))}\n"
            "    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]\n")
    if cfg["standardize"]:
        code += ("    mean, std = X_train.mean(0), X_train.std(0)\n"
                 "    std = np.where(std > 0, std, 1.0).astype(np.float32)\n"
                 "    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std  # the playground standardizes\n")
        if reg:
            code += ("    m, s = float(y_train.mean()), float(y_train.std()) or 1.0\n"
                     "    y_train, y_test = (y_train - m) / s, (y_test - m) / s\n")
    return code + "    return X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test\n"


def _optimizer_code(cfg) -> str:
    lr, wd = cfg["lr"], cfg["l2"]
    name = cfg["optimizer"]
    if name == "sgd":
        return f"optim.SGD(params, lr={lr!r}, weight_decay={wd!r})"
    if name in ("momentum", "nesterov"):
        m = cfg["momentum"] if name == "momentum" or cfg["momentum"] > 0 else 0.9
        return f"optim.SGD(params, lr={lr!r}, momentum={m!r}, weight_decay={wd!r}, nesterov={name == 'nesterov'})"
    cls = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}[name]
    return f"optim.{cls}(params, lr={lr!r}, weight_decay={wd!r})"


def _lr_code(cfg) -> str:
    lr, T = cfg["lr"], cfg["schedule_steps"]
    return {
        "constant": f"{lr!r}",
        "step": f"schedules.step_lr(step, {lr!r}, step_size={T}, gamma=0.5)",
        "exponential": f"schedules.exponential_lr(step, {lr!r}, gamma=0.1 ** (1.0 / {T}))",
        "cosine": f"schedules.cosine_annealing_lr(min(step, {T}), {lr!r}, T_max={T})",
        "warmup": f"schedules.linear_warmup(step, {lr!r}, warmup_steps={T}, start_factor=0.01)",
    }[cfg["schedule"]]


def _loss_code(run) -> str:
    if run.data.task == "regression":
        return "F.mse_loss(out, as_tensor(yb))"
    if run.cfg["loss"] == "mse":
        return f"F.mse_loss(out, as_tensor(np.eye({run.data.n_classes}, dtype=np.float32)[yb]))  # one-hot targets"
    return "F.cross_entropy(out, as_tensor(yb))"


_BODY = '''

SPEC = {spec}


def lr_at(step):
    return {lr}


def batches(n, rng):
    """Full minibatches of a fresh permutation per epoch (the playground's batch order)."""
    b = min(BATCH_SIZE, n)
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - b + 1, b):
            yield perm[i:i + b]


def main(steps=STEPS):
    X_train, y_train, X_test, y_test = load_data()
    models, optimizers, streams = [], [], []
    for m in range(MEMBERS):
        model = build_from_spec(SPEC, rng=np.random.default_rng([SEED, 1, m]))  # the seeded start
        params = model.parameters()
        models.append(model)
        optimizers.append({optimizer})
        streams.append(batches(len(y_train), np.random.default_rng([SEED, 2, m])))
    for step in range(steps):
        for model, opt, stream in zip(models, optimizers, streams):
            idx = next(stream)
            xb, yb = as_tensor(X_train[idx]), y_train[idx]
            opt.zero_grad()
            out = model(xb)
            loss = {loss}
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            opt.step()
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            print(f"step {{step + 1}}: loss {{loss.item():.4f}}")
    for model in models:
        model.eval()
    with no_grad():
{report}
    return models


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="train the playground's network from its seeded start")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {{STEPS}})")
    main(parser.parse_args().steps)
'''


def _report_code(run) -> str:
    if run.data.task == "regression":
        return ("        pred = models[0](as_tensor(X_test)).numpy()\n"
                "        print(f\"test MSE {float(((pred - y_test) ** 2).mean()):.4f} (standardized units)\")")
    if run.cfg["members"] > 1:
        return ("        vote = Ensemble(models, combine='vote').predict(X_test)\n"
                "        print(f\"test accuracy of the vote: {float((vote == y_test).mean()):.4f}\")")
    return ("        pred = models[0](as_tensor(X_test)).numpy().argmax(1)\n"
            "        print(f\"test accuracy {float((pred == y_test).mean()):.4f}\")")


def training_script(run) -> str:
    """The text of a script that rebuilds ``run``'s setup and trains it (see the module docstring)."""
    cfg = run.cfg
    spec = pprint.pformat(export_spec(run.spec), indent=1, width=110, sort_dicts=False)
    title = f"nnbasics playground export: {run.data.note}."
    head = _HEAD.format(title=title, file="train_playground.py", seed=cfg["seed"], steps=run.step or 1000,
                        batch_size=cfg["batch_size"], members=cfg["members"])
    body = _BODY.format(spec=spec, lr=_lr_code(cfg), optimizer=_optimizer_code(cfg), loss=_loss_code(run),
                        report=_report_code(run))
    return head + "\n\n" + _data_code(run) + body
