"""AEIConfig: every size of AEI-Net (FaceShifter's adaptive embedding integration network) in one dataclass.

The thesis (seed 001, Fig. 4.1/A.1, taken from FaceShifter) draws the 256-px network: a U-Net
attribute encoder 3→32→…→1024 down to 2×2 with eight attribute levels z_att^1..8 (2×2 … 256×256),
an AAD generator starting from z_id (512-D) at 2×2 with widths 1024, 1024, 1024, 1024, 512, 256, 128,
64, and a multi-scale PatchGAN discriminator. ``AEIConfig.paper()`` is that network; the widths
follow one rule so that any power-of-two size works:

* encoder width at resolution r:   min(base · S / (2r), max)        (S = image size)
* generator width at resolution r: min(2 · base · S / r, max)
* attribute levels: r = 2, 4, …, S  (log2(S) levels)

``AEIConfig.cpu()`` is a narrow 64-px network that trains on this project's CPU; ``small()`` is the
128-px real-time network (faceweave's, not the thesis's): the same structure — multi-level U-Net
attribute encoder, AAD ResBlks with the learned mask, z_id from the frozen 512-D net — with fewer
channels, fewer attribute levels (8×8 … S×S: ``min_level``) and depthwise-separable 3×3 convolutions
in the AAD ResBlks (``separable``); ``tiny()`` is for tests.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from faceweave.errors import FaceweaveError

ID_DIM = 512  # z_id: the ArcFace-style identity embedding


@dataclass
class AEIConfig:
    """Sizes of the attribute encoder, AAD generator and discriminator (defaults: the paper's 256 px)."""

    image_size: int = 256
    base_channels: int = 32  # encoder width at S/2 (FaceShifter: 32)
    max_channels: int = 1024  # width cap of encoder and generator (FaceShifter: 1024)
    id_dim: int = ID_DIM
    disc_channels: int = 64  # first width of each PatchGAN (pix2pixHD: 64)
    disc_max_channels: int = 512
    disc_layers: int = 6  # stride-2 layers per PatchGAN (FaceShifter: 6)
    disc_scales: int = 3  # multi-scale discriminator: 3 PatchGANs on the image at 1, 1/2, 1/4 size
    # the identity crop: the central share of the AEI frame that is resized to the identity net's 112 px
    # (FaceShifter crops [19:237] of 256, i.e. 218/256; our AEI frame is built so that this box is
    # exactly ArcFace's 112×112 alignment template, see faceweave.models.aei.frame)
    id_crop: float = 218 / 256
    # coarsest attribute level (FaceShifter: 2, i.e. z_att^1 is 2×2); a larger one drops the coarse levels
    min_level: int = 2
    # depthwise 3×3 + pointwise 1×1 instead of the AAD ResBlks' full 3×3 convolutions (faceweave's, for speed)
    separable: bool = False

    PRESETS = ("paper", "small", "cpu", "tiny")

    def __post_init__(self) -> None:
        s = self.image_size
        if s < 16 or s & (s - 1):
            raise FaceweaveError(f"AEIConfig.image_size must be a power of two ≥ 16, not {s}")
        if self.base_channels < 1 or self.max_channels < self.base_channels:
            raise FaceweaveError("AEIConfig: need 1 ≤ base_channels ≤ max_channels")
        m = self.min_level
        if m < 2 or m & (m - 1) or m > s // 4:
            raise FaceweaveError(f"AEIConfig.min_level must be a power of two in [2, image_size/4], not {m}")
        if not 0.5 <= self.id_crop <= 1.0:
            raise FaceweaveError(f"AEIConfig.id_crop must be in [0.5, 1], not {self.id_crop}")

    # ------------------------------------------------------------------ presets
    @classmethod
    def paper(cls) -> AEIConfig:
        """FaceShifter's 256-px AEI-Net (the thesis trains it 500k steps, batch 8, one V100)."""
        return cls()

    @classmethod
    def cpu(cls) -> AEIConfig:
        """64-px narrow AEI-Net that trains on a CPU (the demo weights)."""
        return cls(image_size=64, base_channels=16, max_channels=256, disc_channels=32, disc_max_channels=128,
                   disc_layers=3, disc_scales=2)

    @classmethod
    def small(cls) -> AEIConfig:
        """128-px real-time AEI-Net (faceweave's): narrow, attribute levels 8…128, separable convs."""
        return cls(image_size=128, base_channels=6, max_channels=96, disc_channels=32, disc_max_channels=128,
                   disc_layers=3, disc_scales=2, min_level=8, separable=True)

    @classmethod
    def tiny(cls) -> AEIConfig:
        """32-px network for tests."""
        return cls(image_size=32, base_channels=4, max_channels=32, disc_channels=8, disc_max_channels=16,
                   disc_layers=2, disc_scales=2)

    @classmethod
    def preset(cls, name: str) -> AEIConfig:
        if name not in cls.PRESETS:
            raise FaceweaveError(f"unknown AEI preset '{name}' (use one of {', '.join(cls.PRESETS)})")
        return getattr(cls, name)()

    # ------------------------------------------------------------------ derived sizes
    @property
    def levels(self) -> list[int]:
        """Resolutions of z_att^1..n (min_level, …, S; FaceShifter: 2, 4, …, S)."""
        return [2**k for k in range(int(math.log2(self.min_level)), int(math.log2(self.image_size)) + 1)]

    def enc_channels(self, r: int) -> int:
        """Width of the encoder's down-sampling output at resolution r (< S)."""
        return min(self.base_channels * self.image_size // (2 * r), self.max_channels)

    def att_channels(self, r: int) -> int:
        """Channels of z_att at resolution r: the bottleneck, then up-path ⊕ skip, the last one bilinear."""
        if r == self.min_level:
            return self.enc_channels(r)
        if r == self.image_size:
            return 2 * self.enc_channels(r // 2)
        return 2 * self.enc_channels(r)

    def gen_channels(self, r: int) -> int:
        """Width of the generator's features at resolution r."""
        return min(2 * self.base_channels * self.image_size // r, self.max_channels)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AEIConfig:
        d = dict(d)
        name = d.pop("preset", None)
        base = cls.preset(name).to_dict() if name else {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise FaceweaveError(f"unknown AEIConfig fields: {', '.join(unknown)}")
        return cls(**{**base, **d})
