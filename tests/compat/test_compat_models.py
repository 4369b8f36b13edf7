"""torchvision.models' ResNets under nnbasics run: torchvision's layout and keys, trainable, no pretrained weights."""

import numpy as np

import nnbasics as nb
from nnbasics.compat.torchvision import models


def test_resnet18_has_torchvisions_layout_and_state_dict():
    m = models.resnet18(num_classes=10)
    sd = m.state_dict()
    assert len(sd) == 122  # torchvision 0.28's resnet18 state dict
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["conv1.weight"] == (64, 3, 7, 7)
    assert shapes["layer2.0.downsample.0.weight"] == (128, 64, 1, 1)
    assert shapes["layer4.1.bn2.running_var"] == (512,) and shapes["fc.weight"] == (10, 512)
    assert [n for n, _ in m.named_children()] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                                   "layer4", "avgpool", "fc"]
    w = sd["layer3.0.conv1.weight"].numpy()
    assert abs(w.std() - np.sqrt(2 / (256 * 9))) < 0.1 * np.sqrt(2 / (256 * 9))  # He normal, fan-out = 256 * 3 * 3
    assert len(models.resnet50().state_dict()) == 320


def test_siamese_style_surgery_and_training(script, run):
    path = script("""
        import torch
        import torch.nn as nn
        import torchvision
        torch.manual_seed(0)
        resnet = torchvision.models.resnet18(weights=None)
        resnet.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
        features = resnet.fc.in_features
        body = nn.Sequential(*(list(resnet.children())[:-1]))
        head = nn.Linear(features, 2)
        opt = torch.optim.Adam(list(body.parameters()) + list(head.parameters()), lr=1e-3)
        x, y = torch.randn(8, 1, 28, 28), torch.tensor([0, 1] * 4)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(head(body(x).view(8, -1)), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(features, body(x).shape, losses[-1] < losses[0])
        torchvision.models.resnet18(pretrained=True)
    """)
    status, out, err = run(path)
    assert out.split() == ["512", "(8,", "512,", "1,", "1)", "True"]
    assert status == 2 and "torchvision.models.resnet18(weights=...) is not supported" in err
    assert "line 21" in err


def test_resnet_forward_shapes():
    m = models.resnet34(num_classes=3).eval()
    assert m(nb.zeros(1, 3, 64, 64)).shape == (1, 3)
