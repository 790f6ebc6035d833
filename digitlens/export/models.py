"""The architecture registry: every network `digitlens train --arch NAME` can build.

All take float32 [B, 1, 28, 28] in 0..1 (white on black) and return raw logits [B, classes]:
10 digits, or 11 with the last meaning "not a digit" (`build(name, num_classes=11)`);
softmax is applied by the consumer so that the exported graph stays a pure classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_Factory = TypeVar("_Factory", bound=Callable[..., nn.Module])


def register(name: str) -> Callable[[_Factory], _Factory]:
    def wrap(factory: _Factory) -> _Factory:
        REGISTRY[name] = factory
        return factory

    return wrap


def build(name: str, num_classes: int = 10) -> nn.Module:
    if name not in REGISTRY:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(sorted(REGISTRY))}")
    if num_classes not in (10, 11):
        raise ValueError(f"num_classes must be 10 (digits) or 11 (digits + not a digit), got {num_classes}")
    return REGISTRY[name](num_classes=num_classes)


class MLP(nn.Module):
    """784-50-10 with a sigmoid hidden layer: the classic two-layer network."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.hidden = nn.Linear(784, 50)
        self.out = nn.Linear(50, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.sigmoid(self.hidden(x.flatten(1))))


class CNN2(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc = nn.Linear(32 * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class KerasCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 26 -> 13
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 11 -> 5
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 28 -> 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 10 -> 5
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


class TwoScale(nn.Module):
    """Two branches over one 3x3 feature map: a deep strided path and one wide 12x12 view."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 3)  # 32 -> 30
        self.a2 = nn.Conv2d(12, 24, 3, stride=2, padding=2)  # 15 -> 9
        self.a3 = nn.Conv2d(24, 36, 3, stride=2, padding=1)  # 9 -> 5
        self.b2 = nn.Conv2d(12, 12, 12, stride=5, padding=1)  # 30 -> 5
        self.head = nn.Conv2d(48, num_classes, 5)  # 5 -> 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(F.pad(x, (2, 2, 2, 2))))
        a = F.relu(self.a3(F.relu(self.a2(F.max_pool2d(x, 2)))))
        b = F.relu(self.b2(x))
        return self.head(torch.cat([a, b], dim=1)).flatten(1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DigitNet(nn.Module):
    """The default: a small VGG-style net with batch norm and global average pooling.

    One convolution at full resolution, then two pairs at 14 and 7 pixels: about 5.5
    million multiply-adds per crop, so a frame's dozen crops cost well under a
    millisecond.  Global pooling makes it tolerant of the imperfect centring of real
    photo crops, and batch norm folds into the convolutions on export (free at inference).
    """

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(1, w),
            nn.MaxPool2d(2),  # 28 -> 14
            _block(w, 2 * w),
            _block(2 * w, 2 * w),
            nn.MaxPool2d(2),  # 14 -> 7
            _block(2 * w, 4 * w),
            _block(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x).flatten(1)))


register("mlp")(MLP)
register("cnn2")(CNN2)
register("keras-cnn")(KerasCNN)
register("lenet5")(LeNet5)
register("twoscale")(TwoScale)
register("digitnet")(DigitNet)


@register("digitnet20")
def _digitnet20(num_classes: int = 10) -> DigitNet:
    """DigitNet at width 20: 8.6 M multiply-adds per crop, for the 11-class model."""
    return DigitNet(width=20, num_classes=num_classes)


class DigitNetDeep(nn.Module):
    """DigitNet with its capacity moved to the small feature maps, where it is cheap.

    The same first three stages as DigitNet (16 channels at 28 px, 32 at 14 px), then 64
    and 128 channels at 7 px and a last 128-channel stage at 3 px: four times DigitNet's
    parameters (about 250 k) for 8.7 million multiply-adds per crop, under the 10 M
    budget of the 11-class recogniser.  Extra depth at low resolution is what separates the
    hard MNIST digits and the non-digit marks; extra width at 28 or 14 px would cost
    MACs without adding much.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(1, 16),
            nn.MaxPool2d(2),  # 28 -> 14
            _block(16, 32),
            _block(32, 32),
            nn.MaxPool2d(2),  # 14 -> 7
            _block(32, 64),
            _block(64, 128),
            nn.MaxPool2d(2),  # 7 -> 3
            _block(128, 128),
            nn.AdaptiveAvgPool2d(1),
        )
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x).flatten(1)))


register("digitnet-deep")(DigitNetDeep)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-adds for one 28x28 crop, counted from conv and linear layers by hooks."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total
