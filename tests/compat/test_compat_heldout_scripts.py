"""Beginner scripts written for this test (not from the corpus) print the same under nnbasics run as under torch.

Each script prints only what does not depend on the random stream (the two sides draw different
numbers): learning rates and momenta of every scheduler over a training loop, losses of fixed
tensors, shapes. The torch side runs the same file in this process with the real torch.
"""

import runpy

SCHEDULES = """
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
X, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)


def run(make_opt, make_sched, per_batch, epochs=3, metric=False):
    opt = make_opt(model.parameters())
    sched = make_sched(opt)
    seen = []
    for epoch in range(epochs):
        for i, (xb, yb) in enumerate(loader):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
            if per_batch:
                sched.step()
            elif per_batch is None:
                sched.step(epoch + i / len(loader))
        if not per_batch:
            sched.step(1.0) if metric else sched.step() if per_batch is False else None
        group = opt.param_groups[0]
        seen.append((round(group["lr"], 6), round(group.get("momentum", group.get("betas", [0])[0]), 6)))
    return seen


sgd = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)
adam = lambda p: torch.optim.Adam(p, lr=0.01)
lr_scheduler = torch.optim.lr_scheduler
print("onecycle", run(sgd, lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, epochs=3, steps_per_epoch=len(loader)),
                      True))
print("onecycle adam", run(adam, lambda o: lr_scheduler.OneCycleLR(o, 0.01, total_steps=12, three_phase=True), True))
print("cyclic", run(sgd, lambda o: lr_scheduler.CyclicLR(o, 0.001, 0.1, step_size_up=3, mode="triangular2"), True))
print("warm restarts", run(sgd, lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), None, 5))
print("polynomial", run(sgd, lambda o: lr_scheduler.PolynomialLR(o, total_iters=4, power=2), False, 5))
print("constant", run(sgd, lambda o: lr_scheduler.ConstantLR(o, factor=0.5, total_iters=2), False, 4))
print("multiplicative", run(sgd, lambda o: lr_scheduler.MultiplicativeLR(o, lambda e: 0.5), False, 3))
print("plateau", run(sgd, lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5), False, 4, True))
"""

LOSSES = """
import torch
import torch.nn as nn
import torch.nn.functional as F

logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 0.0], [0.0, 3.0, 1.0]])
target = torch.tensor([0, 2, -100, 1])
print(round(F.cross_entropy(logits, target, ignore_index=-100).item(), 5))
print(round(F.cross_entropy(logits, torch.tensor([0, 2, 1, 1]), ignore_index=1).item(), 5))
print(round(F.cross_entropy(logits, target, label_smoothing=0.2).item(), 5))
print([round(v, 5) for v in F.cross_entropy(logits, target, reduction="none").tolist()])
print(round(nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]))(logits, target).item(), 5))
print(round(F.nll_loss(F.log_softmax(logits, 1), target, reduction="sum").item(), 5))
print(round(F.cross_entropy(logits.unsqueeze(2).expand(4, 3, 5), target.unsqueeze(1).expand(4, 5)).item(), 5))
print(round(F.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0, 1.0, 0.0]),
                                               pos_weight=torch.tensor(3.0)).item(), 5))
"""


def _both(script, run, torch, capsys, source, name):
    path = script(source, name=name)
    status, ours, err = run(path)
    assert status == 0, err
    capsys.readouterr()
    done = runpy.run_path(str(path), run_name="__main__")  # the run's hook is gone: the real torch
    assert done["torch"] is torch
    theirs = capsys.readouterr().out
    return ours.splitlines(), theirs.splitlines()


def test_every_scheduler_in_a_training_loop_matches_torch(script, run, torch, capsys):
    ours, theirs = _both(script, run, torch, capsys, SCHEDULES, "schedules.py")
    assert len(theirs) == 8
    assert ours == theirs


def test_cross_entropy_options_match_torch(script, run, torch, capsys):
    ours, theirs = _both(script, run, torch, capsys, LOSSES, "losses.py")
    assert len(theirs) == 8
    assert ours == theirs
