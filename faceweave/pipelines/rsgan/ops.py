"""RSGAN's operations on one face of a photo (Natsume et al. 2018, sec. 3.3 and 4): swap, edit, random parts,
interpolation. Each one prepares the face(s) (:mod:`.geometry`), works on the latents (:mod:`.latents`) and
pastes the result back (:mod:`.paste`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from faceweave.analysis.face import Face
from faceweave.errors import FaceweaveError, ParameterError
from faceweave.models.rsgan import RSGAN
from faceweave.pipelines.rsgan.attributes import apply_attributes, resolve_attributes
from faceweave.pipelines.rsgan.geometry import AlignedFace, prepare, region_mask
from faceweave.pipelines.rsgan.latents import (
    attribute_latents,
    edited_latents,
    encode,
    generate,
    interpolated_latents,
    mix,
    sampled_latents,
)
from faceweave.pipelines.rsgan.paste import TILE_SIZE, head_view, paste_back, upscale_crop


@dataclass
class OpResult:
    """What an operation made: result photos, the generator's raw crops, and the face they were made for."""

    photos: list[np.ndarray]
    crops: list[np.ndarray]
    aligned: AlignedFace
    reconstruction: np.ndarray | None = None  # G of the photo's own latents (crop)
    source: np.ndarray | None = field(default=None, repr=False)  # the photo the results were pasted into

    def tiles(self, raw: bool = False, size: int = TILE_SIZE) -> list[np.ndarray]:
        """One tile per result: the pasted-back photo's head frame, or (``raw``) the generator's crop."""
        if raw:
            return [upscale_crop(c, size) for c in self.crops]
        return [head_view(p, self.aligned, size) for p in self.photos]


def swap_faces(
    model: RSGAN,
    source: np.ndarray,
    source_face: Face,
    target: np.ndarray,
    target_face: Face,
    *,
    gd: bool = False,
    set_attrs: Mapping[str, float] | None = None,
    blend: str = "multiband",
    colour: bool = True,
) -> OpResult:
    """x' = G(z_A,xf, z_A,cf, z_B,xh, z_B,ch) with c* from the classifier, pasted into the target's face region.

    ``set_attrs`` edits the face attributes in the same pass (paper Fig. 1): c*_A is changed before
    z_cf is encoded. ``gd`` is RSGAN-GD (the face-mask region composed in the gradient domain).
    """
    size = model.config.image_size
    a, b = prepare(source, source_face, size), prepare(target, target_face, size)
    lat = encode(model, [a.crop, b.crop])
    la, lb = lat.take(0), lat.take(1)
    z = mix(la, lb)
    by_index = resolve_attributes(model.config.attribute_names, set_attrs or {})
    if by_index:
        z["cf"] = attribute_latents(model, apply_attributes(la.c, by_index))[0]
    crop = generate(model, z)[0]
    photo = paste_back(target, crop, b, region_mask(b, "face"), blend, gd=gd, colour=colour)
    return OpResult(photos=[photo], crops=[crop], aligned=b, source=target)


def edit_face(
    model: RSGAN,
    photo: np.ndarray,
    face: Face,
    set_attrs: Mapping[str, float],
    *,
    region: str = "face",
    residual: bool = True,
    blend: str = "multiband",
) -> OpResult:
    """Set attributes (names → values in [0, 1]) in the attribute latent of ``region`` and paste the change back."""
    by_index = resolve_attributes(model.config.attribute_names, set_attrs)
    if not by_index:
        raise FaceweaveError("nothing to edit: give at least one ATTRIBUTE=VALUE")
    al = prepare(photo, face, model.config.image_size)
    lat = encode(model, [al.crop])
    recon = generate(model, lat.z)[0]
    crop = generate(model, edited_latents(model, lat, by_index, region))[0]
    out = paste_back(photo, crop, al, region_mask(al, region), blend, base=recon if residual else None)
    return OpResult(photos=[out], crops=[crop], aligned=al, reconstruction=recon, source=photo)


def sample_parts(
    model: RSGAN,
    photo: np.ndarray,
    face: Face,
    *,
    random: str = "hair",
    n: int = 8,
    seed: int | None = 0,
    blend: str = "multiband",
) -> OpResult:
    """Keep one region of the face and draw the other region's latents from N(0, I) (paper Fig. 7)."""
    if n < 1:
        raise ParameterError("n", n, "need at least 1 sample")
    al = prepare(photo, face, model.config.image_size)
    lat = encode(model, [al.crop])
    crops = generate(model, sampled_latents(model, lat, random, n, seed))
    reg = region_mask(al, random)
    photos = [paste_back(photo, c, al, reg, blend) for c in crops]
    return OpResult(photos=photos, crops=crops, aligned=al, reconstruction=generate(model, lat.z)[0], source=photo)


def interpolate_parts(
    model: RSGAN,
    photo_a: np.ndarray,
    face_a: Face,
    photo_b: np.ndarray,
    face_b: Face,
    *,
    part: str = "face",
    steps: int = 5,
    blend: str = "multiband",
) -> OpResult:
    """``steps`` results moving ``part``'s latents linearly from A to B, the rest kept from A; pasted into A."""
    size = model.config.image_size
    a, b = prepare(photo_a, face_a, size), prepare(photo_b, face_b, size)
    lat = encode(model, [a.crop, b.crop])
    crops = generate(model, interpolated_latents(lat.take(0), lat.take(1), part, steps))
    reg = region_mask(a, part)
    photos = [paste_back(photo_a, c, a, reg, blend) for c in crops]
    return OpResult(photos=photos, crops=crops, aligned=a, source=photo_a)
