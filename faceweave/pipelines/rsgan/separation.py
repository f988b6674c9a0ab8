"""How well a model's latents separate face from hair: a diagnostic on aligned faces (not a paper metric)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from faceweave.models.rsgan import RSGAN
from faceweave.pipelines.rsgan.geometry import AlignedFace, crop_region_masks
from faceweave.pipelines.rsgan.latents import encode, generate, mix


def region_swap_distances(model: RSGAN, a: AlignedFace, b: AlignedFace) -> dict[tuple[str, str], dict[str, float]]:
    """How well the latents separate face from hair, for one ordered pair (a diagnostic).

    Two latent swaps are drawn: ``hair_swapped`` (a's face latents, b's hair latents) and ``face_swapped``
    (b's face latents, a's hair latents). For each, and for each region (``face``: both face masks,
    eroded; ``rest``: outside both, dilated — :func:`crop_region_masks`), the mean absolute difference
    in grey levels to the generator's reconstructions of a (``"A"``) and b (``"B"``) is returned, keyed
    ``(swap, region) → {"A": ..., "B": ...}``. A separating model gives, e.g., a hair-swapped face
    region nearer A and its rest nearer B. Reconstructions, not the photos, are the reference, so the
    measure asks "which image does this region come from" and not "how sharp is the generator".
    """
    lat = encode(model, [a.crop, b.crop])
    la, lb = lat.take(0), lat.take(1)
    rec = {"A": generate(model, la.z)[0], "B": generate(model, lb.z)[0]}
    fa, ra = crop_region_masks(a)
    fb, rb = crop_region_masks(b)
    sel = {"face": fa & fb, "rest": ra & rb}
    out = {"hair_swapped": generate(model, mix(la, lb))[0], "face_swapped": generate(model, mix(lb, la))[0]}
    return {
        (k, r): {w: float(np.abs(img.astype(np.float32) - rec[w].astype(np.float32))[sel[r]].mean()) for w in "AB"}
        for k, img in out.items()
        for r in sel
    }


# question → (swap, region, the photo that region should be nearer), for :func:`region_separation_votes`
SEPARATION_QUESTIONS: dict[str, tuple[str, str, str]] = {
    "hair_rest": ("hair_swapped", "rest", "B"),  # hair-only swap: the rest comes from B
    "hair_face": ("hair_swapped", "face", "A"),  # hair-only swap: the face stays A's
    "face_rest": ("face_swapped", "rest", "A"),  # face-only swap: the rest stays A's
    "face_face": ("face_swapped", "face", "B"),  # face-only swap: the face comes from B
}


def region_separation_votes(model: RSGAN, faces: Sequence[AlignedFace]) -> dict[str, list[bool]]:
    """For every ordered pair (A, B) of ``faces``, the answer to each of :data:`SEPARATION_QUESTIONS`
    (is that region of that latent swap nearer the photo it should come from?), by
    :func:`region_swap_distances`. Lists are in ``itertools.permutations`` order."""
    votes: dict[str, list[bool]] = {q: [] for q in SEPARATION_QUESTIONS}
    for a, b in itertools.permutations(faces, 2):
        d = region_swap_distances(model, a, b)
        for q, (swap, region, want) in SEPARATION_QUESTIONS.items():
            other = "A" if want == "B" else "B"
            votes[q].append(d[swap, region][want] < d[swap, region][other])
    return votes
