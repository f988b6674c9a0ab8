"""RSGANConfig: every size of the RSGAN networks in one dataclass (saved as JSON beside the weights)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from faceweave.errors import FaceweaveError
from faceweave.models.layers import NORMS


@dataclass
class RSGANConfig:
    """Sizes of the RSGAN separator, composer, discriminator and classifier networks.

    The paper gives no layer details; the widths below are ours. ``RSGANConfig()`` is the full-size
    128-px model meant for GPU training at the paper's scale (CelebA, batch 50);
    :meth:`demo` is a small 64-px model that trains on a CPU and ships as ≤ 10 MB fp16;
    :meth:`tiny` is for tests.
    """

    image_size: int = 128
    attribute_names: list[str] = field(default_factory=list)  # may be empty: then c is a [B, 0] tensor
    z_face: int = 256  # dimension of z_xf
    z_hair: int = 256  # dimension of z_xh
    z_attr_face: int = 32  # dimension of z_cf (0 when there are no attributes)
    z_attr_hair: int = 32  # dimension of z_ch (0 when there are no attributes)
    attr_hidden: int = 128  # hidden width of the attribute encoders F_E-cf, F_E-ch
    enc_channels: int = 64  # first width of the image encoders F_E-xf, F_E-xh (doubles per level)
    enc_max_channels: int = 256
    dec_channels: int = 32  # last width of the part decoders F_D-f, F_D-h (doubles towards 4×4)
    dec_max_channels: int = 256
    gen_channels: int = 64  # last width of the composer G
    gen_max_channels: int = 512
    disc_channels: int = 64  # D_g, D_p and the classifier C
    disc_max_channels: int = 512
    patch_levels: int = 3  # stride-2 levels of the patch discriminator (3 → 70×70 receptive field)
    norm: str = "batch"  # separators and composer
    disc_norm: str = "instance"  # D_g, D_p, C: per-sample statistics, so real and fake batches never mix
    logvar_clamp: float = 20.0  # |log σ²| is clamped for numerical safety

    # ------------------------------------------------------------------ presets
    @classmethod
    def demo(cls, attribute_names: list[str] | None = None) -> RSGANConfig:
        """Small 64-px model for CPU training and the demo weights (≈5M generator-side, ≈4.4M inference params)."""
        return cls(
            image_size=64,
            attribute_names=list(attribute_names or []),
            z_face=128,
            z_hair=128,
            z_attr_face=16,
            z_attr_hair=16,
            attr_hidden=64,
            enc_channels=32,
            enc_max_channels=128,
            dec_channels=16,
            dec_max_channels=96,
            gen_channels=32,
            gen_max_channels=192,
            disc_channels=32,
            disc_max_channels=128,
        )

    @classmethod
    def tiny(cls, image_size: int = 32, attribute_names: list[str] | None = None) -> RSGANConfig:
        """A very small model for unit tests."""
        return cls(
            image_size=image_size,
            attribute_names=list(attribute_names or []),
            z_face=16,
            z_hair=16,
            z_attr_face=4,
            z_attr_hair=4,
            attr_hidden=16,
            enc_channels=8,
            enc_max_channels=32,
            dec_channels=8,
            dec_max_channels=32,
            gen_channels=8,
            gen_max_channels=32,
            disc_channels=8,
            disc_max_channels=32,
            patch_levels=2,
        )

    PRESETS = ("default", "demo", "tiny")

    @classmethod
    def preset(cls, name: str) -> RSGANConfig:
        """``default``, ``demo`` or ``tiny``."""
        if name == "default":
            return cls()
        if name == "demo":
            return cls.demo()
        if name == "tiny":
            return cls.tiny()
        raise FaceweaveError(f"unknown RSGAN preset {name!r}; expected one of {', '.join(cls.PRESETS)}")

    # ------------------------------------------------------------------ derived
    @property
    def n_attr(self) -> int:
        return len(self.attribute_names)

    @property
    def z_dims(self) -> dict[str, int]:
        """Latent sizes keyed ``xf``, ``cf``, ``xh``, ``ch`` (attribute latents are 0-D without attributes)."""
        has_c = self.n_attr > 0
        return {
            "xf": self.z_face,
            "cf": self.z_attr_face if has_c else 0,
            "xh": self.z_hair,
            "ch": self.z_attr_hair if has_c else 0,
        }

    def validate(self) -> RSGANConfig:
        size = self.image_size
        if size < 8 or size & (size - 1):
            raise FaceweaveError(f"RSGAN image_size must be a power of two ≥ 8 (64, 128, 256), got {size}")
        if self.norm not in NORMS or self.disc_norm not in NORMS:
            raise FaceweaveError(f"RSGAN norm must be one of {NORMS}")
        if min(self.z_face, self.z_hair) < 1:
            raise FaceweaveError("RSGAN z_face and z_hair must be ≥ 1")
        if 2**self.patch_levels > size // 4:
            raise FaceweaveError(f"patch_levels={self.patch_levels} is too deep for {size}-px images")
        if len(set(self.attribute_names)) != len(self.attribute_names):
            raise FaceweaveError("RSGAN attribute names must be unique")
        return self

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RSGANConfig:
        """Build from a dict; ``{"preset": "demo", ...}`` starts from a preset. Unknown keys are errors."""
        data = dict(data)
        base = cls.preset(data.pop("preset")) if "preset" in data else cls()
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise FaceweaveError(f"unknown RSGAN config keys: {', '.join(unknown)}")
        if "attribute_names" in data:
            data["attribute_names"] = [str(a) for a in data["attribute_names"]]
        return dataclasses.replace(base, **data).validate()
