"""``torchvision.models``: the ResNet family, built from nnbasics layers, without pretrained weights.

``resnet18``/``34``/``50``/``101``/``152`` have torchvision's architecture, attribute names
(``conv1``, ``bn1``, ``layer1``..``layer4``, ``avgpool``, ``fc``), child order, state-dict keys and
initialization (He normal, fan-out, for convolutions; batch norm at weight 1, bias 0), drawn from
the global generator. Pretrained weights are downloads torchvision makes: ``weights=...`` or
``pretrained=True`` stops the script with advice (a torchvision state dict saved as safetensors
loads with ``model.load_state_dict``). Other architectures are not provided.

Example:
    >>> import nnbasics as nb
    >>> m = resnet18(num_classes=10)
    >>> m(nb.zeros(2, 3, 32, 32)).shape
    (2, 10)
"""

from ...torch import nn
from ...unsupported import UnsupportedTorchAPI, module_getattr

__all__ = ["ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def _conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 convolutions with a shortcut (ResNet-50/101/152; stride on the 3x3, as torchvision)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """He et al. 2016, https://arxiv.org/abs/1512.03385, laid out as ``torchvision.models.ResNet``.

    Shape: (N, 3, H, W) -> (N, num_classes).
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else getattr(m, "bn2", None)
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.constant_(last.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _builder(name, block, layers):
    def build(*, weights=None, progress=True, pretrained=False, **kwargs):
        if weights is not None or pretrained:
            raise UnsupportedTorchAPI(
                f"torchvision.models.{name}(weights=...)", "pretrained weights are files torchvision downloads; "
                f"nnbasics has none. Build {name}(weights=None) and train it, or load a state dict saved as "
                "safetensors with model.load_state_dict(torch.load(path))", kind="call")
        unknown = set(kwargs) - {"num_classes", "zero_init_residual"}
        if unknown:
            raise UnsupportedTorchAPI(f"torchvision.models.{name}({', '.join(sorted(unknown))}=...)",
                                      "nnbasics' ResNet takes num_classes and zero_init_residual", kind="call")
        return ResNet(block, layers, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"``torchvision.models.{name}``: the architecture, randomly initialized (see the module)."
    return build


resnet18 = _builder("resnet18", BasicBlock, [2, 2, 2, 2])
resnet34 = _builder("resnet34", BasicBlock, [3, 4, 6, 3])
resnet50 = _builder("resnet50", Bottleneck, [3, 4, 6, 3])
resnet101 = _builder("resnet101", Bottleneck, [3, 4, 23, 3])
resnet152 = _builder("resnet152", Bottleneck, [3, 8, 36, 3])

__getattr__ = module_getattr(__name__, {
    "vgg16": "VGG is not provided; torchvision.models.resnet18(weights=None) is, or build the layers with torch.nn",
    "vgg19": "VGG is not provided; torchvision.models.resnet18(weights=None) is, or build the layers with torch.nn",
})
