"""Head pose: Hopenet (Ruiz et al. 2018) on a ShuffleNetV2 1.0× backbone, from faceplugin ``fr_pose.onnx``.

Hopenet predicts each Euler angle as a classification over 66 bins of 3° covering [−99°, 99°) and
reads the angle as the softmax expectation: ``angle = 3 · Σ_i softmax(logits)_i · i − 99`` (Hopenet
§3.2). The backbone is ShuffleNetV2 (Ma et al. 2018) with stage widths 116/232/464, a 1024-channel
last convolution and global average pooling; BN is folded into the convolution biases.

Input: RGB in [0, 1], (B, 3, 224, 224), the face box widened by a quarter on each side
(:func:`faceweave.nets.align.pose_crop`); ImageNet mean/std normalisation is done inside.
"""

from __future__ import annotations

import torch
from torch import nn

BINS = 66
BIN_WIDTH_DEG = 3.0
ANGLE_OFFSET_DEG = 99.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=True)


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (B, g·c, H, W) → interleave the g groups."""
    b, ch, h, w = x.shape
    return x.view(b, groups, ch // groups, h, w).transpose(1, 2).reshape(b, ch, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit. Stride 1: split channels, transform one half. Stride 2: both branches downsample."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        half = out_ch // 2
        self.stride = stride
        if stride == 2:
            # branch 1: depthwise 3×3 / 2 (linear) → 1×1 + ReLU
            self.shortcut_depthwise = conv(in_ch, in_ch, 3, 2, groups=in_ch)
            self.shortcut_pointwise = conv(in_ch, half, 1)
        branch_in = in_ch if stride == 2 else half
        # branch 2: 1×1 + ReLU → depthwise 3×3 (linear) → 1×1 + ReLU
        self.pointwise_in = conv(branch_in, half, 1)
        self.depthwise = conv(half, half, 3, stride, groups=half)
        self.pointwise_out = conv(half, half, 1)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pointwise_out(self.depthwise(torch.relu(self.pointwise_in(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            left = torch.relu(self.shortcut_pointwise(self.shortcut_depthwise(x)))
            out = torch.cat([left, self.branch(x)], 1)
        else:
            keep, change = x.chunk(2, dim=1)
            out = torch.cat([keep, self.branch(change)], 1)
        return channel_shuffle(out, 2)


class HopenetShuffleNet(nn.Module):
    """Hopenet head-pose network. ``forward``: (B, 3, 224, 224) in [0, 1] → (yaw, pitch, roll) logits, each (B, 66)."""

    input_size = 224

    def __init__(self, widths: tuple[int, ...] = (24, 116, 232, 464), repeats: tuple[int, ...] = (4, 8, 4),
                 last: int = 1024) -> None:
        super().__init__()
        self.stem = conv(3, widths[0], 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        stages = []
        ch = widths[0]
        for out_ch, n in zip(widths[1:], repeats, strict=True):
            units = [ShuffleUnit(ch, out_ch, 2)] + [ShuffleUnit(out_ch, out_ch, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*units))
            ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.conv_last = conv(ch, last, 1)
        self.fc_yaw = nn.Linear(last, BINS)
        self.fc_pitch = nn.Linear(last, BINS)
        self.fc_roll = nn.Linear(last, BINS)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.pool(torch.relu(self.stem(x)))
        x = torch.relu(self.conv_last(self.stages(x)))
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.fc_yaw(f), self.fc_pitch(f), self.fc_roll(f)

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3) yaw, pitch, roll in degrees (differentiable softmax expectation)."""
        return torch.stack([bins_to_degrees(logits) for logits in self(x)], 1)


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """Hopenet's expectation over 66 bins of 3°: ``3 · Σ softmax·i − 99`` degrees."""
    idx = torch.arange(logits.shape[-1], device=logits.device, dtype=logits.dtype)
    return (torch.softmax(logits, -1) * idx).sum(-1) * BIN_WIDTH_DEG - ANGLE_OFFSET_DEG
