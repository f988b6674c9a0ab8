"""RSGAN's latents of aligned crops: encode with c*, mix, edit, sample, interpolate, decode.

Latent values are posterior *means* (deterministic): the same photo always gives the same result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from faceweave.choices import RANDOM_PARTS, REGIONS, check_choice
from faceweave.errors import ParameterError
from faceweave.models.rsgan import RSGAN
from faceweave.pipelines.rsgan.attributes import apply_attributes

FACE_KEYS = ("xf", "cf")
HAIR_KEYS = ("xh", "ch")


@dataclass
class Latents:
    """Posterior means of the four encoders and the classifier's c*, for a batch of crops."""

    z: dict[str, torch.Tensor]
    c: torch.Tensor

    def take(self, i: int, n: int = 1) -> Latents:
        """Row ``i`` repeated ``n`` times."""
        return Latents({k: v[i : i + 1].expand(n, -1).clone() for k, v in self.z.items()},
                       self.c[i : i + 1].expand(n, -1).clone())


def to_tensor(crops: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 S×S×3 crops → [B, 3, S, S] in [-1, 1]."""
    a = np.stack([np.asarray(c) for c in crops]).astype(np.float32) / 255.0
    return RSGAN.to_model_range(torch.from_numpy(a).permute(0, 3, 1, 2).contiguous())


def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """[B, 3, S, S] in [-1, 1] → uint8 S×S×3 crops."""
    a = RSGAN.from_model_range(x.detach().float()).permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)) for v in a]


@torch.no_grad()
def encode(model: RSGAN, crops: Sequence[np.ndarray]) -> Latents:
    """Posterior means with c = c* (the classifier's attributes), as the paper does at test time."""
    x = to_tensor(crops)
    c = model.classify(x)
    return Latents(z=dict(model.encode(x, c).mu), c=c)


@torch.no_grad()
def attribute_latents(model: RSGAN, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ_cf, μ_ch) of an attribute vector ``c``."""
    return model.enc_cf(c)[0], model.enc_ch(c)[0]


@torch.no_grad()
def generate(model: RSGAN, z: Mapping[str, torch.Tensor]) -> list[np.ndarray]:
    """G(z_xf, z_cf, z_xh, z_ch) as uint8 crops."""
    return to_uint8(model.compose(z["xf"], z["cf"], z["xh"], z["ch"]))


def mix(face_from: Latents, hair_from: Latents) -> dict[str, torch.Tensor]:
    """Face latents of one, hair latents of the other (the paper's swap)."""
    return {"xf": face_from.z["xf"], "cf": face_from.z["cf"], "xh": hair_from.z["xh"], "ch": hair_from.z["ch"]}


@torch.no_grad()
def edited_latents(model: RSGAN, lat: Latents, by_index: Mapping[int, float], region: str) -> dict[str, torch.Tensor]:
    """Latents with c* replaced by ``by_index`` (attribute index → value) in the attribute latent(s) of ``region`` only.

    The appearance latents keep the encoding under the photo's own c* (the conditional VAE's split:
    z_x holds what c does not), so only z_cf and/or z_ch are re-encoded.
    """
    check_choice("region", region, REGIONS)
    cf, ch = attribute_latents(model, apply_attributes(lat.c, by_index))
    z = dict(lat.z)
    if region in ("face", "both"):
        z["cf"] = cf
    if region in ("hair", "both"):
        z["ch"] = ch
    return z


@torch.no_grad()
def sampled_latents(model: RSGAN, lat: Latents, random: str, n: int, seed: int | None) -> dict[str, torch.Tensor]:
    """``n`` latents keeping one region of ``lat`` (row 0) and drawing the other region's two latents from N(0, I)."""
    check_choice("random", random, RANDOM_PARTS)
    g = torch.Generator().manual_seed(int(seed) if seed is not None else int.from_bytes(os.urandom(4), "little"))
    prior = model.sample_prior(n, device="cpu", generator=g)
    z = lat.take(0, n).z
    for k in FACE_KEYS if random == "face" else HAIR_KEYS:
        z[k] = prior[k]
    return z


def part_keys(part: str) -> tuple[str, ...]:
    if part == "face":
        return FACE_KEYS
    if part == "hair":
        return HAIR_KEYS
    if part == "both":
        return FACE_KEYS + HAIR_KEYS
    check_choice("part", part, REGIONS)
    raise AssertionError(part)


def interpolated_latents(a: Latents, b: Latents, part: str, steps: int) -> dict[str, torch.Tensor]:
    """``steps`` latents from A to B (both ends included), moving only the latents of ``part``."""
    if steps < 2:
        raise ParameterError("steps", steps, "need at least 2 (the two ends)")
    keys = part_keys(part)
    t = torch.linspace(0.0, 1.0, steps)[:, None]
    z = a.take(0, steps).z
    for k in keys:
        za, zb = a.z[k][0:1], b.z[k][0:1]
        z[k] = za + t * (zb - za)
    return z
