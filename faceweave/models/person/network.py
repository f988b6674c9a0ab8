"""The multi-scale transformation network (poster, "TransformationNetwork"; Ulyanov et al. [3]).

Branches run on the input downsampled by 2^k (k = K−1 … 0); the coarsest branch's features are
upsampled ×2 and concatenated with the next finer branch's, and so on up to full resolution, where a
1×1 convolution gives RGB. The poster does not say how the output is formed. ``output="direct"``
(the default, as in Ulyanov et al.): x̂ = sigmoid(to_rgb(h)), the image itself. ``output="residual"``
(person files written before the field existed): x̂ = clamp(x + to_rgb(h)) with to_rgb initialised to
zero, i.e. training starts at the identity mapping — which our CPU runs never left (docs/person.md).
``canvas=True`` (ours, not in the poster): a learned S×S RGB image added to the output logits, a
position-dependent bias; the trainer starts it at the logit of the person's mean aligned face, so the
convolutions learn the input-dependent part (pose, expression, light) around it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TransformationConfig:
    size: int = 128  # side of the aligned frame
    scales: int = 4  # branches: size, size/2, size/4, size/8
    branch_channels: int = 8  # Ulyanov et al. use 8 per branch
    join_channels: tuple[int, ...] = (32, 32, 16, 8)  # after each concatenation, coarse → fine (small, for speed)
    output: str = "direct"  # "direct": x̂ = sigmoid(to_rgb(h)); "residual": x̂ = clamp(x + to_rgb(h)), starts at x
    canvas: bool = False  # a learned image added to the output logits (ours; see the module docstring)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TransformationConfig:
        d = dict(d)
        d.setdefault("output", "residual")  # person files written before the field existed
        if "join_channels" in d:
            d["join_channels"] = tuple(d["join_channels"])  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="reflect"), nn.LeakyReLU(0.2))


class TransformationNet(nn.Module):
    """x (B, 3, S, S) in [0, 1], aligned to the reference frame → x̂, the same face as the trained person."""

    def __init__(self, config: TransformationConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or TransformationConfig()
        if len(c.join_channels) != c.scales:
            raise ValueError("join_channels needs one entry per scale")
        if c.output not in ("direct", "residual"):
            raise ValueError(f"output must be 'direct' or 'residual', not {c.output!r}")
        self.branches = nn.ModuleList(
            nn.Sequential(_conv(3, c.branch_channels), _conv(c.branch_channels, c.branch_channels))
            for _ in range(c.scales)
        )
        joins = []
        prev = 0
        for ch in c.join_channels:  # coarse → fine
            joins.append(nn.Sequential(_conv(prev + c.branch_channels, ch), _conv(ch, ch)))
            prev = ch
        self.joins = nn.ModuleList(joins)
        self.to_rgb = nn.Conv2d(prev, 3, 1)
        self.canvas = nn.Parameter(torch.zeros(1, 3, c.size, c.size)) if c.canvas else None
        if c.output == "residual":  # start at the identity mapping x̂ = x
            nn.init.zeros_(self.to_rgb.weight)
            nn.init.zeros_(self.to_rgb.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.config.scales
        h = None
        for i in range(k):  # i = 0 is the coarsest branch
            factor = 2 ** (k - 1 - i)
            xi = F.avg_pool2d(x, factor) if factor > 1 else x
            b = self.branches[i](xi)
            if h is not None:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
                b = torch.cat([h, b], 1)
            h = self.joins[i](b)
        assert h is not None
        out = self.to_rgb(h)
        if self.canvas is not None:
            out = out + self.canvas
        if self.config.output == "residual":
            return (x + out).clamp(0, 1)
        return torch.sigmoid(out)
