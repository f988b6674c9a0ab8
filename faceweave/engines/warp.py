"""The warp engine (the default): mesh-based piecewise-affine face swap, no training needed.

Pipeline for one (source face → target face):
1. both faces carry mediapipe's 478-point mesh; its triangles are warped from the source photo to the
   target's geometry, keeping only triangles that face the camera in *both* photos (a triangle turned
   away in the source has no texture to give; one turned away in the target is hidden);
2. the mask is the target's skin region (face oval with the forehead lowered, so the source's bangs or
   hat are not carried over), cut to what the warp covered, minus the target's open-mouth interior
   (the target's teeth and tongue stay, no lips are stretched over an open mouth), feathered;
3. colour transfer in CIE L*a*b*, estimated on skin pixels only, matches the warped face to the target;
4. blending: multiband by default (see README for the comparison), alpha feather or Poisson by choice.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from faceweave.analysis.face import Face
from faceweave.analysis.masks import face_oval_indices, mouth_open_ratio, mouth_opening_mask, skin_mask
from faceweave.compose.blend import blend
from faceweave.compose.colour import transfer_colour
from faceweave.compose.warp import triangle_facing, warp_mesh
from faceweave.engines.base import SwapOptions, register_engine
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

# An inner-lip opening larger than this share of the face oval counts as an open mouth.
MOUTH_OPEN_RATIO = 0.004
# How far the inner face takes the source's shape (0 = texture only, 1 = the source's proportions).
SHAPE_TRANSFER = 1.0


@cache
def mesh_triangles() -> np.ndarray:
    """mediapipe's mesh triangles, wound so that camera-facing ones have positive image-space area."""
    return np.load(Path(__file__).resolve().parents[1] / "assets" / "mesh_triangles.npy").astype(np.int64)


def visible_triangles(src_mesh: np.ndarray, dst_mesh: np.ndarray, min_area: float = 0.05) -> np.ndarray:
    """Triangles that face the camera in both meshes (positive area above ``min_area`` px²)."""
    tris = mesh_triangles()
    keep = (triangle_facing(src_mesh, tris) > min_area) & (triangle_facing(dst_mesh, tris) > min_area)
    return tris[keep]


def face_region(mesh: np.ndarray, shape: tuple[int, int], margin: float = 0.12) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the mesh's bounding box grown by ``margin``, clipped to the image."""
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    pad = (hi - lo) * margin + 4
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + pad).astype(int), [shape[1], shape[0]])
    return int(x0), int(y0), int(x1), int(y1)


def similarity_3d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 3-D similarity (Umeyama) mapping ``src`` points onto ``dst``; returns src mapped."""
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    u, sv, vt = np.linalg.svd(d0.T @ s0 / len(src))
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1
    r = u @ d @ vt
    scale = np.trace(np.diag(sv) @ d) / max((s0**2).sum() / len(src), 1e-12)
    return (scale * (r @ s0.T)).T + md


def target_geometry(src_mesh: np.ndarray, dst_mesh: np.ndarray, strength: float) -> np.ndarray:
    """Where each mesh vertex goes in the target: the source's face shape inside, the target's outline.

    A texture-only warp keeps the target's proportions (eye spacing, nose and mouth shape), which
    carry much of a person's identity. The source mesh is aligned to the target's in 3-D (rotation,
    scale, translation), so head pose is the target's, and interior vertices take the aligned
    source's positions; the weight falls smoothly to 0 at the face oval so the outline, and the
    blend seam along it, stay where the target's are.
    """
    if strength <= 0:
        return dst_mesh[:, :2].copy()
    aligned = similarity_3d(src_mesh.astype(np.float64), dst_mesh.astype(np.float64))
    oval = dst_mesh[list(face_oval_indices()), :2].astype(np.float32).reshape(-1, 1, 2)
    size = float(np.max(dst_mesh[:, :2].max(0) - dst_mesh[:, :2].min(0)))
    dist = np.array([cv2.pointPolygonTest(oval, (float(x), float(y)), True) for x, y in dst_mesh[:, :2]])
    t = np.clip(dist / (0.18 * size), 0.0, 1.0)
    w = strength * t * t * (3 - 2 * t)  # smoothstep
    return (w[:, None] * aligned[:, :2] + (1 - w[:, None]) * dst_mesh[:, :2]).astype(np.float32)


def source_patch(source: np.ndarray, src_mesh: np.ndarray, dst_mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The source face's region, pre-shrunk (area filter) when the target face is much smaller.

    Bilinear sampling of a big face onto a small one aliases skin texture into speckle; shrinking the
    source first to about the target's scale prefilters it.
    """
    x0, y0, x1, y1 = face_region(src_mesh, source.shape[:2])
    patch = source[y0:y1, x0:x1]
    m = src_mesh[:, :2] - np.array([x0, y0], np.float32)
    s_size = float(np.max(src_mesh[:, :2].max(0) - src_mesh[:, :2].min(0)))
    d_size = float(np.max(dst_mesh[:, :2].max(0) - dst_mesh[:, :2].min(0)))
    scale = d_size / max(s_size, 1.0)
    if scale < 0.8:
        w, h = max(int(round(patch.shape[1] * scale)), 2), max(int(round(patch.shape[0] * scale)), 2)
        sx, sy = w / patch.shape[1], h / patch.shape[0]
        patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
        m = m * np.array([sx, sy], np.float32)
    return patch, m


def face_mask(shape: tuple[int, int], mesh: np.ndarray, coverage: np.ndarray, keep_mouth: bool) -> np.ndarray:
    """Where the new face goes: target skin ∩ warp coverage − open mouth, feathered inwards."""
    size = float(np.max(mesh[:, :2].max(0) - mesh[:, :2].min(0)))
    m = skin_mask(shape, mesh) * coverage
    if keep_mouth and mouth_open_ratio(mesh) > MOUTH_OPEN_RATIO:
        mouth = mouth_opening_mask(shape, mesh)
        grow = max(int(round(0.01 * size)), 1)
        mouth = cv2.dilate(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        m = m * (1.0 - mouth)
    radius = max(2.0, 0.02 * size)
    r = int(round(radius))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.erode(m, k)
    return cv2.GaussianBlur(m, (0, 0), sigmaX=radius / 2)


@register_engine("warp")
class WarpEngine:
    """Mesh-based piecewise-affine warp of the source face onto the target face."""

    name = "warp"
    needs_mesh = True
    learned = False  # classical image operations: outputs are compositeSynthetic

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        if source_face.mesh is None or target_face.mesh is None:
            raise FaceweaveError("the warp engine needs the face mesh, which could not be fitted on this face")
        t0 = time.perf_counter()
        tris = visible_triangles(source_face.mesh, target_face.mesh)
        if len(tris) < 50:
            raise FaceweaveError("the faces are turned too far apart for a mesh warp (too few shared triangles)")
        # Work inside the target face's region only: cost follows the face, not the photo.
        x0, y0, x1, y1 = face_region(target_face.mesh, target.shape[:2])
        sub = target[y0:y1, x0:x1]
        mesh = target_face.mesh - np.array([x0, y0, 0], np.float32)
        src, src_mesh = source_patch(source, source_face.mesh, mesh)
        strength = float(options.extra.get("shape_transfer", SHAPE_TRANSFER))  # type: ignore[arg-type]
        geometry = target_geometry(source_face.mesh, mesh, strength)
        warped, cover = warp_mesh(src, src_mesh, sub.shape[:2], geometry, tris)
        mask = face_mask(sub.shape[:2], mesh, cover, options.keep_mouth)
        t1 = time.perf_counter()
        if options.colour_transfer:
            skin = cv2.erode(skin_mask(sub.shape[:2], mesh) * cover, np.ones((5, 5), np.uint8))
            warped = transfer_colour(warped, skin, sub, skin)
        t2 = time.perf_counter()
        out = target.copy()
        out[y0:y1, x0:x1] = blend(sub, warped, mask, options.blend)
        t3 = time.perf_counter()
        self.timings = {"warp": t1 - t0, "colour": t2 - t1, "blend": t3 - t2}
        return out
