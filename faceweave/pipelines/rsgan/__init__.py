"""RSGAN inference on any photo (Natsume et al. 2018, sec. 3.3 and 4): swap, edit, random parts, interpolation.

Every operation follows the same three steps:

1. **prepare** (:mod:`.geometry`) — the face is aligned to CelebA's 178×218 template
   (:func:`faceweave.analysis.align.align_face`), then cut to the *hair-crop frame* the model works in
   (the 178×178 box at (0, 20), resized to the model's ``image_size``), exactly as the training set
   was built (:mod:`faceweave.data.sample`).
   :class:`AlignedFace` keeps that crop, the 2×3 matrix from the photo to it, and the RSGAN face
   mask (hull of landmarks 27–67 stretched 1.3×/1.4×) in the same frame.
2. **latents** (:mod:`.latents`) — the four posterior means (z_xf, z_cf, z_xh, z_ch) are computed with the classifier's
   c* (never labels), mixed, edited, sampled or interpolated, and decoded by the composer G.
3. **paste back** (:mod:`.paste`) — the generated crop is warped back into the photo with the inverse matrix and
   blended only inside a feathered region (the face mask, or the head/hair region); RSGAN-GD composes
   the face-mask region in the gradient domain (Poisson, :func:`faceweave.compose.blend.poisson_blend`).

Regions in the model frame: ``face`` is the RSGAN face mask; ``hair`` is the head (person mask from
mediapipe's selfie segmentation on the aligned crop, grown a little so new hair has room) minus the
face; ``both`` is their union. All of them fade to 0 at the edge of the frame, so nothing outside
the model's frame ever changes.

Latent values are posterior *means* (deterministic): the same photo always gives the same result.

Modules: :mod:`.weights` (the model, found through the registry), :mod:`.attributes` (``set_attrs``
parsing), :mod:`.geometry`, :mod:`.latents`, :mod:`.paste`, :mod:`.ops` (the operations on one face),
:mod:`.separation` (a diagnostic), :mod:`.photos` (the public functions on photos, re-exported by
:mod:`faceweave.api`). Every name below is importable from this package; torch is imported only
when one of them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("CHECKPOINT_ENV", "WEIGHTS_CARD", "default_checkpoint", "load_model"), "weights"),
    **dict.fromkeys(("apply_attributes", "parse_assignments", "resolve_attributes"), "attributes"),
    **dict.fromkeys(("AlignedFace", "compose_affine", "crop_region_masks", "edge_fade", "frame_matrix", "prepare",
                     "region_mask", "transform_points"), "geometry"),
    **dict.fromkeys(("FACE_KEYS", "HAIR_KEYS", "Latents", "attribute_latents", "edited_latents", "encode", "generate",
                     "interpolated_latents", "mix", "part_keys", "sampled_latents", "to_tensor", "to_uint8"),
                    "latents"),
    **dict.fromkeys(("TILE_SIZE", "feather_mask", "head_view", "paste_back", "photo_box", "upscale_crop",
                     "warp_to_photo"), "paste"),
    **dict.fromkeys(("OpResult", "edit_face", "interpolate_parts", "sample_parts", "swap_faces"), "ops"),
    **dict.fromkeys(("SEPARATION_QUESTIONS", "region_separation_votes", "region_swap_distances"), "separation"),
    **dict.fromkeys(("attributes", "edit", "interpolate", "sample"), "photos"),
}
_FROM_ELSEWHERE: dict[str, str] = {
    "make_sheet": "faceweave.compose.sheet",
    "sheet_shape": "faceweave.compose.sheet",
    "REGIONS": "faceweave.choices",
    "Region": "faceweave.choices",
}

__all__ = sorted([*_EXPORTS, *_FROM_ELSEWHERE])


def __getattr__(name: str) -> Any:  # lazy: importing the package does not import torch
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    elif name in _FROM_ELSEWHERE:
        module = importlib.import_module(_FROM_ELSEWHERE[name])
    else:
        raise AttributeError(name)
    return getattr(module, name)
