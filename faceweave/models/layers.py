"""Small, standard building blocks shared by the faceweave networks.

* :func:`make_norm` — ``"batch"`` (BatchNorm2d), ``"instance"`` (InstanceNorm2d with affine) or ``"none"``.
* :class:`DownBlock` — 4×4 convolution, stride 2 (halves H and W), optional norm, LeakyReLU(0.2): the
  DCGAN / pix2pix encoder and discriminator block.
* :class:`UpBlock` — nearest-neighbour ×2 upsampling, 3×3 convolution, optional norm, ReLU: the
  "resize-convolution" decoder block (no checkerboard artefacts of transposed convolutions).
* :func:`reparameterize` — the VAE trick ``z = μ + exp(½ log σ²) · ε``, ``ε ~ N(0, I)``.
* :func:`channel_plan` — channel widths of a pyramid that doubles per level up to a cap.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("batch", "instance", "none")


def make_norm(kind: str, channels: int) -> nn.Module:
    """A 2-D normalisation layer by name (``batch``, ``instance`` or ``none``)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


class DownBlock(nn.Sequential):
    """Conv 4×4 / stride 2 → norm → LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "batch", slope: float = 0.2) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=norm == "none"),
            make_norm(norm, out_ch),
            nn.LeakyReLU(slope, inplace=True),
        )


class UpBlock(nn.Sequential):
    """Nearest ×2 upsample → conv 3×3 → norm → ReLU."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "batch") -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=norm == "none"),
            make_norm(norm, out_ch),
            nn.ReLU(inplace=True),
        )


def num_levels(image_size: int, bottom: int = 4) -> int:
    """How many ×2 levels separate ``image_size`` from ``bottom`` (image_size must be bottom·2^k)."""
    levels = math.log2(image_size / bottom)
    if levels < 1 or levels != int(levels):
        raise ValueError(f"image size {image_size} is not {bottom}·2^k with k ≥ 1")
    return int(levels)


def channel_plan(base: int, cap: int, levels: int) -> list[int]:
    """Widths ``[base, 2·base, 4·base, …]`` (``levels + 1`` entries), each capped at ``cap``."""
    return [min(base * 2**i, cap) for i in range(levels + 1)]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample ``z ~ N(μ, σ²)`` differentiably (``z = μ + σ·ε``)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps
