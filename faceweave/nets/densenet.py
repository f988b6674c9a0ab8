"""DenseNet-121 (Huang et al. 2017) facial-expression classifier, from faceplugin ``fr_expression.onnx``.

Growth rate 32, blocks of (6, 12, 24, 16) bottleneck layers (BN-ReLU-1×1 conv to 128 channels,
BN-ReLU-3×3 conv to 32), transitions that halve channels and resolution. In the shipped file the
stem's BN and each layer's second BN are folded into the preceding convolution's bias; the
pre-activation BNs on concatenated features remain BatchNorm layers here.

Its intermediate activations are the perceptual feature space faceweave uses where the papers use
VGG (no VGG/ResNet ImageNet weights ship in any installable package): :meth:`DenseNet121.features`
returns them by name. Input: RGB in [0, 1], (B, 3, 224, 224), no further normalisation (the original
divides uint8 by 255). The 7 outputs are expression logits; the original code ships no label names,
so faceweave uses them only as a feature space and for the parity check.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

GROWTH = 32
BOTTLENECK = 4 * GROWTH
BLOCKS = (6, 12, 24, 16)
NUM_CLASSES = 7
# Names accepted by DenseNet121.features, in network order (block1 = 56×56 … block4 = 7×7).
FEATURE_LAYERS = ("stem", "block1", "transition1", "block2", "transition2", "block3", "transition3", "block4")


class DenseLayer(nn.Module):
    """BN → ReLU → 1×1 conv (+ folded BN) → ReLU → 3×3 conv: adds ``GROWTH`` channels."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.bottleneck = nn.Conv2d(in_ch, BOTTLENECK, 1, bias=True)
        self.conv = nn.Conv2d(BOTTLENECK, GROWTH, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.relu(self.bottleneck(torch.relu(self.norm(x)))))


class DenseBlock(nn.Module):
    def __init__(self, in_ch: int, n: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(in_ch + i * GROWTH) for i in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


class Transition(nn.Module):
    """BN → ReLU → 1×1 conv halving channels → 2×2 average pool."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.conv = nn.Conv2d(in_ch, in_ch // 2, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(torch.relu(self.norm(x))))


class DenseNet121(nn.Module):
    """DenseNet-121. ``forward``: (B, 3, 224, 224) in [0, 1] → (B, 7) expression logits."""

    input_size = 224

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 7, 2, 3, bias=True)  # BN folded
        self.pool = nn.MaxPool2d(3, 2, 1)
        ch = 64
        blocks, transitions = [], []
        for i, n in enumerate(BLOCKS):
            blocks.append(DenseBlock(ch, n))
            ch += n * GROWTH
            if i < len(BLOCKS) - 1:
                transitions.append(Transition(ch))
                ch //= 2
        # interleaved registration keeps the parameter order equal to the network order
        self.block1, self.transition1 = blocks[0], transitions[0]
        self.block2, self.transition2 = blocks[1], transitions[1]
        self.block3, self.transition3 = blocks[2], transitions[2]
        self.block4 = blocks[3]
        self.final_norm = nn.BatchNorm2d(ch)
        self.classifier = nn.Linear(ch, num_classes)

    def features(
        self, x: torch.Tensor, layers: Sequence[str] = ("block1", "block2", "block3")
    ) -> dict[str, torch.Tensor]:
        """Activations after the named stages (see :data:`FEATURE_LAYERS`); runs only as deep as needed."""
        unknown = [n for n in layers if n not in FEATURE_LAYERS]
        if unknown:
            raise ValueError(f"unknown DenseNet layer(s) {unknown}; expected names from {FEATURE_LAYERS}")
        wanted = set(layers)
        deepest = max(FEATURE_LAYERS.index(n) for n in layers)
        out: dict[str, torch.Tensor] = {}
        x = self.pool(torch.relu(self.stem(x)))
        for name in FEATURE_LAYERS[: deepest + 1]:
            if name != "stem":
                x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block4(self.features(x, ("transition3",))["transition3"])
        x = torch.relu(self.final_norm(x)).mean((2, 3))
        return self.classifier(x)
