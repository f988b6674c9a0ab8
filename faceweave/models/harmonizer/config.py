"""HarmonizerConfig: sizes of the U-Net generator and the ResNet-style discriminator, and presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from faceweave.errors import FaceweaveError


@dataclass
class HarmonizerConfig:
    """Sizes of the harmonizer networks (seed 004 gives no layer details; these are ours).

    ``image_size`` is the side of the square face crop the generator sees (training and inference).
    The generator is a U-Net over the crop average-pooled to ``gen_input`` px, whose widths start at
    ``gen_channels`` and double per level (capped at ``gen_max_channels``), ``gen_levels`` stride-2
    levels deep; it predicts a coarse affine colour map and a small residual that are applied to the
    composite at full resolution inside a dilated band around the face mask (outside it the composite
    is returned unchanged). ``colour_input`` (ours): the generator also reads whether the engine
    already colour-transferred the face — a constant 5th input channel and a 40th context feature —
    so it need not guess which of two corrections a composite needs (False: the earlier layout, which
    older weights files declare by not naming the field). :meth:`demo` is the CPU preset that ships
    (≤ 30 ms per face at 256 px); :meth:`tiny` is for tests.
    """

    image_size: int = 256
    gen_input: int = 128
    gen_channels: int = 12
    gen_levels: int = 4
    gen_max_channels: int = 96
    gen_bottleneck_blocks: int = 1
    context_hidden: int = 64  # hidden width of the global-context MLP (0.1 release: 32)
    colour_input: bool = True  # the "engine colour-transferred the face" flag as an input (earlier weights: False)
    disc_input: int = 128
    disc_channels: int = 16
    disc_levels: int = 5
    disc_max_channels: int = 128

    @classmethod
    def demo(cls) -> HarmonizerConfig:
        return cls()

    @classmethod
    def tiny(cls) -> HarmonizerConfig:
        return cls(image_size=64, gen_input=32, gen_channels=8, gen_levels=3, gen_max_channels=16,
                   gen_bottleneck_blocks=1, context_hidden=16, disc_input=32, disc_channels=8, disc_levels=2,
                   disc_max_channels=16)

    @classmethod
    def preset(cls, name: str) -> HarmonizerConfig:
        presets = {"demo": cls.demo, "default": cls, "tiny": cls.tiny}
        if name not in presets:
            raise FaceweaveError(f"unknown harmonizer preset '{name}' (choose from {', '.join(presets)})")
        return presets[name]()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HarmonizerConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise FaceweaveError(f"unknown harmonizer config field(s): {', '.join(sorted(unknown))}")
        return cls(**{"colour_input": False, **d})  # files from before the flag input do not name it
