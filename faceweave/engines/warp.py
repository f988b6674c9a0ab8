"""The warp engine (the default): mesh-based piecewise-affine face swap, no training needed.

Pipeline for one (source face → target face):
1. both faces carry mediapipe's 478-point mesh; its triangles are warped from the source photo to the
   target's geometry, keeping only triangles that face the camera in *both* photos (a triangle turned
   away in the source has no texture to give; one turned away in the target is hidden);
2. the mask is the target's skin region (face oval with the forehead lowered, so the source's bangs or
   hat are not carried over), cut to what the warp covered, minus the target's open-mouth interior
   (the target's teeth and tongue stay, no lips are stretched over an open mouth), feathered;
   the target also keeps its eyeballs, eye or lip regions whose open/closed state the source cannot
   give, and whatever covers its face (hands: :mod:`faceweave.analysis.occlusion`); eyelids, lips
   and their surroundings take the target's shape (its expression) at the source's features' place,
   as far as their open/closed state or smile differs from the source's;
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
from faceweave.analysis.masks import face_oval_indices, mouth_open_ratio, mouth_opening_mask, polygon_mask, skin_mask
from faceweave.compose.local import finish_local_swap
from faceweave.compose.warp import polygon_distance, triangle_facing, warp_mesh
from faceweave.engines.base import EngineBase, SwapOptions, register_engine
from faceweave.engines.warp_inputs import in_background, is_grayscale, target_occlusion
from faceweave.engines.warp_mirror import split_triangles, with_mirrors
from faceweave.engines.warp_source import SourcePatches
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

# An inner-lip opening larger than this share of the face oval counts as an open mouth.
MOUTH_OPEN_RATIO = 0.004
# How far the inner face takes the source's shape (0 = texture only, 1 = the source's proportions).
SHAPE_TRANSFER = 1.0
# How far eyelids, lips and brows follow the target's expression (0 = the source's, 1 = the target's).
EXPRESSION_TRANSFER = 1.0

# Share of the forehead (glabella → hairline) the new face covers: more of the source's forehead
# carries identity; the top of it is left out so bangs and hats are not carried across.
FOREHEAD_KEEP = 0.65
# A triangle turned away in the source takes the texture of its mirror image on the other side of the
# face (warp_mirror); options.extra["mirror"] = False turns it off. A turned source (more than
# MIRROR_TURNED of the mesh's triangles hidden) takes every triangle whose mirror image it shows
# larger (MIRROR_FORESHORTENING ×) from that image: the hidden triangles alone leave shards of the
# edge-on far cheek, and of the background at its silhouette, between the mirrored ones.
MIRROR_HIDDEN = True
MIRROR_FORESHORTENING = 1.0
MIRROR_TURNED = 0.15
# Colour transfer matches the target's lightness spread only this far (as a power of the gain), so
# the source's own shading detail (an identity cue) survives a flat-lit target.
LIGHTNESS_CONTRAST = 0.5

# mediapipe mesh rings (face_mesh_connections): eye openings (lid margins), lips, brows.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
OUTER_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
# Vertices that move little with expression: eye corners, nose bridge and tip, nostrils.
RIGID = (33, 133, 362, 263, 168, 6, 1, 98, 327)
# (region ring, the anchor vertices its shape is placed by, falloff radius as a share of the face size).
# An eye is placed by its corners (the source's eye size and place, the target's opening); the mouth by
# the rigid points (the target's mouth width and smile too: corners move with expression).
EXPRESSION_REGIONS: tuple[tuple[tuple[int, ...], tuple[int, ...], float], ...] = (
    (RIGHT_EYE, (33, 133), 0.07),
    (LEFT_EYE, (362, 263), 0.07),
    (OUTER_LIPS, RIGID, 0.06),
)


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
    dist = polygon_distance(dst_mesh[:, :2], oval)
    t = np.clip(dist / (0.18 * size), 0.0, 1.0)
    w = strength * t * t * (3 - 2 * t)  # smoothstep
    return (w[:, None] * aligned[:, :2] + (1 - w[:, None]) * dst_mesh[:, :2]).astype(np.float32)


def similarity_2d(a: np.ndarray, b: np.ndarray) -> tuple[complex, complex]:
    """Least-squares 2-D similarity z ↦ s·z + t (complex numbers) mapping points ``a`` onto ``b``."""
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    ca, cb = za - za.mean(), zb - zb.mean()
    den = float(np.sum(np.abs(ca) ** 2))
    s = complex(np.sum(np.conj(ca) * cb) / den) if den > 1e-9 else 1.0 + 0j
    return s, complex(zb.mean() - s * za.mean())


def mouth_shape(mesh: np.ndarray) -> tuple[float, float]:
    """(inner-lip gap / mouth width, mouth width / outer-eye-corner distance) from the mesh."""
    p = mesh[:, :2].astype(np.float64)
    width = float(np.linalg.norm(p[61] - p[291]))
    eyes = float(np.linalg.norm(p[33] - p[263]))
    return float(np.linalg.norm(p[13] - p[14])) / max(width, 1e-6), width / max(eyes, 1e-6)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


_SQUARE5 = np.ones((5, 5), np.uint8)

# Differences of eye openness / mouth shape at which a region takes the target's shape fully.
EYE_CHANGE = 0.08
MOUTH_CHANGE = 0.10
# Eyes whose openness differs by more than this keep the target's eyeballs (keep_eyes="auto").
EYE_KEEP_CHANGE = 0.08


def expression_weights(src_mesh: np.ndarray, dst_mesh: np.ndarray) -> tuple[float, ...]:
    """How far each of :data:`EXPRESSION_REGIONS` must follow the target (0–1).

    A region whose state is about the same in both faces (both eyes open, both mouths shut and
    neutral) keeps the source's own shape, an identity cue; the more the openness (and, for the
    mouth, the width: a smile) differs, the more the region takes the target's shape.
    """
    eye = _smoothstep(abs(eye_openness(dst_mesh) - eye_openness(src_mesh)) / EYE_CHANGE)
    (gs, ws), (gt, wt) = mouth_shape(src_mesh), mouth_shape(dst_mesh)
    mouth = _smoothstep((abs(gt - gs) + abs(wt - ws)) / MOUTH_CHANGE)
    return tuple(mouth if ring is OUTER_LIPS else eye for ring, _, _ in EXPRESSION_REGIONS)


def expression_geometry(
    geometry: np.ndarray,
    dst_mesh: np.ndarray,
    strength: float = EXPRESSION_TRANSFER,
    weights: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Eyelids, lips and brows take the target's shape, placed where the source's features are.

    For each region (eye opening, lips, brow) the target's vertices are mapped by the similarity that
    takes the target's two anchor points (eye or mouth corners) onto their place in ``geometry``: the
    region keeps the source's position and size (identity) but the target's opening, smile and brow
    raise (expression). The weight is 1 on and inside the region's ring and falls smoothly to 0 at
    ``radius`` × face size outside it, so the surrounding skin follows continuously. ``weights``
    (one per region, :func:`expression_weights`) scale it per region.
    """
    if strength <= 0:
        return geometry
    out = geometry.astype(np.float64).copy()
    d2 = dst_mesh[:, :2].astype(np.float64)
    size = float(np.max(d2.max(0) - d2.min(0)))
    z = d2[:, 0] + 1j * d2[:, 1]
    for k, (ring, anchors, radius) in enumerate(EXPRESSION_REGIONS):
        region_strength = strength * (1.0 if weights is None else weights[k])
        if region_strength <= 0:
            continue
        s, t = similarity_2d(d2[list(anchors)], out[list(anchors)])
        placed = s * z + t
        poly = d2[list(ring)].astype(np.float32).reshape(-1, 1, 2)
        dist = polygon_distance(d2, poly, reach=radius * size)  # beyond the radius the weight is 0 anyway
        u = np.clip(1.0 + dist / (radius * size), 0.0, 1.0)  # 1 inside, 0 beyond the radius
        w = region_strength * u * u * (3 - 2 * u)
        out[:, 0] += w * (placed.real - out[:, 0])
        out[:, 1] += w * (placed.imag - out[:, 1])
    return out.astype(np.float32)


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


def eye_openness(mesh: np.ndarray) -> float:
    """Lid gap over eye width, averaged over both eyes (mesh 159–145 / 33–133 and 386–374 / 362–263)."""
    p = mesh[:, :2].astype(np.float64)

    def one(top: int, bottom: int, c0: int, c1: int) -> float:
        return float(np.linalg.norm(p[top] - p[bottom]) / max(np.linalg.norm(p[c0] - p[c1]), 1e-6))

    return (one(159, 145, 33, 133) + one(386, 374, 362, 263)) / 2


def _dilated(m: np.ndarray, radius: float) -> np.ndarray:
    from faceweave.analysis.masks import dilate_ellipse  # cv2.dilate's result, computed on m's box only

    u = dilate_ellipse(cv2.convertScaleAbs(m, alpha=255.0), max(int(round(radius)), 1))  # 8 bits: 4× faster
    return u.astype(np.float32) * np.float32(1 / 255)


def target_kept_mask(
    shape: tuple[int, int],
    mesh: np.ndarray,
    src_mesh: np.ndarray,
    keep_mouth: bool,
    keep_eyes: bool | str = "auto",
) -> np.ndarray:
    """What of the target's face stays the target's: eyeballs, open-mouth interior, and whole eye or
    mouth regions whose open/closed state the source cannot give.

    - the eye openings (the target's gaze, open or shut), when ``keep_eyes`` is True, or when it is
      "auto" and the eyes' openness differs by more than :data:`EYE_KEEP_CHANGE` (the source's own
      eyes are an identity cue: kept when they fit);
    - the open mouth (teeth, tongue), when ``keep_mouth`` and the target's mouth is open;
    - an eye region (lids and lashes) where the target's eye is shut and the source's open: the
      source's open lids squeezed shut leave lashes and iris smudged over the lid;
    - the lips where the target's mouth is shut and the source's open: squeezed teeth would draw a
      dark line that reads as an open mouth.
    """
    size = float(np.max(mesh[:, :2].max(0) - mesh[:, :2].min(0)))
    kept = np.zeros(shape, np.float32)
    eye_shut = eye_openness(mesh) < 0.6 * eye_openness(src_mesh) and eye_openness(mesh) < 0.22
    if keep_eyes == "auto":
        keep_eyes = abs(eye_openness(mesh) - eye_openness(src_mesh)) > EYE_KEEP_CHANGE
    for ring, (c0, c1) in ((RIGHT_EYE, (33, 133)), (LEFT_EYE, (362, 263))):
        width = float(np.linalg.norm(mesh[c0, :2] - mesh[c1, :2]))
        if keep_eyes:
            kept = np.maximum(kept, polygon_mask(shape, mesh[list(ring), :2]))
        if eye_shut:
            kept = np.maximum(kept, _dilated(polygon_mask(shape, mesh[list(ring), :2], convex=True), 0.3 * width))
    target_open = mouth_open_ratio(mesh) > MOUTH_OPEN_RATIO
    if keep_mouth and target_open:
        kept = np.maximum(kept, _dilated(mouth_opening_mask(shape, mesh), 0.01 * size))
    if not target_open and mouth_open_ratio(src_mesh) > 2 * MOUTH_OPEN_RATIO:
        width = float(np.linalg.norm(mesh[61, :2] - mesh[291, :2]))
        kept = np.maximum(kept, _dilated(polygon_mask(shape, mesh[list(OUTER_LIPS), :2]), 0.08 * width))
    return kept


def occluded_features(occluders: np.ndarray, mesh: np.ndarray, share: float = 0.1) -> np.ndarray:
    """The occluder mask, plus the whole mouth or eye region when an occluder covers part of it.

    The mesh under a hand is a guess, so the source's lips or lids cannot be placed reliably next
    to it: a mouth (or eye) covered more than ``share`` keeps the target's lips (or lids) too.
    """
    shape = occluders.shape
    kept = occluders.astype(np.float32).copy()
    regions = ((OUTER_LIPS, (61, 291), 0.15), (RIGHT_EYE, (33, 133), 0.3), (LEFT_EYE, (362, 263), 0.3))
    for ring, (c0, c1), grow in regions:
        region = polygon_mask(shape, mesh[list(ring), :2], convex=True)
        area = float(region.sum())
        if area > 0 and float((region * occluders).sum()) > share * area:
            width = float(np.linalg.norm(mesh[c0, :2] - mesh[c1, :2]))
            kept = np.maximum(kept, _dilated(region, grow * width))
    return kept


def face_mask(shape: tuple[int, int], mesh: np.ndarray, coverage: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Where the new face goes: target skin ∩ warp coverage − what the target keeps, feathered inwards."""
    size = float(np.max(mesh[:, :2].max(0) - mesh[:, :2].min(0)))
    m = skin_mask(shape, mesh, FOREHEAD_KEEP) * coverage * (1.0 - kept)
    radius = max(2.0, 0.02 * size)
    r = int(round(radius))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.erode(cv2.convertScaleAbs(m, alpha=255.0), k)  # on 8 bits (±1/510 before the blur): 3× faster
    return cv2.GaussianBlur(m.astype(np.float32) * np.float32(1 / 255), (0, 0), sigmaX=radius / 2)


@register_engine("warp")
class WarpEngine(EngineBase):
    """Mesh-based piecewise-affine warp of the source face onto the target face."""

    name = "warp"
    needs_mesh = True
    learned = False  # classical image operations: outputs are compositeSynthetic
    reads_occlusion = True  # uses face.masks["occlusion"] when set (the video path tracks hands over time)

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.patches = SourcePatches()

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
        # The hand model runs on its own thread while the mesh is warped here (numpy and OpenCV release
        # the GIL; mediapipe's graph waits without it): its ≈15 ms overlap the warp's on two cores.
        occluders_later = in_background(target_occlusion, target, target_face, options)
        if options.extra.get("mirror", MIRROR_HIDDEN):  # the source's hidden side from its other side
            tris, mirrored = split_triangles(
                source_face.mesh, target_face.mesh, mesh_triangles(), 0.05, MIRROR_FORESHORTENING, MIRROR_TURNED
            )
        else:
            tris, mirrored = visible_triangles(source_face.mesh, target_face.mesh), mesh_triangles()[:0]
        if len(tris) + len(mirrored) < 50:
            raise FaceweaveError("the faces are turned too far apart for a mesh warp (too few shared triangles)")
        # Work inside the target face's region only: cost follows the face, not the photo.
        x0, y0, x1, y1 = face_region(target_face.mesh, target.shape[:2])
        sub = target[y0:y1, x0:x1]
        mesh = target_face.mesh - np.array([x0, y0, 0], np.float32)
        # The source region at the target's scale, resampled once for a clip (warp_source), bilinear per frame.
        src, src_mesh, interp = self.patches.get(source, source_face.mesh, float(np.ptp(mesh[:, :2], axis=0).max()))
        strength = float(options.extra.get("shape_transfer", SHAPE_TRANSFER))  # type: ignore[arg-type]
        geometry = target_geometry(source_face.mesh, mesh, strength)
        expression = float(options.extra.get("expression_transfer", EXPRESSION_TRANSFER))  # type: ignore[arg-type]
        geometry = expression_geometry(geometry, mesh, expression, expression_weights(source_face.mesh, mesh))
        src_pts, dst_pts, all_tris = with_mirrors(src_mesh, geometry, tris, mirrored)
        warped, cover = warp_mesh(src, src_pts, sub.shape[:2], dst_pts, all_tris, interp)
        keep_eyes = options.extra.get("keep_eyes", "auto")
        keep_eyes = keep_eyes if keep_eyes == "auto" else bool(keep_eyes)
        kept = target_kept_mask(sub.shape[:2], mesh, source_face.mesh, options.keep_mouth, keep_eyes)
        occluders = occluders_later.result()
        if occluders is not None:
            kept = np.maximum(kept, occluded_features(occluders[y0:y1, x0:x1], mesh))
        mask = face_mask(sub.shape[:2], mesh, cover, kept)
        if is_grayscale(sub):
            # A black-and-white target: the source's luminance only (its chroma has nowhere to go,
            # and a chroma residue would tint the blend seam).
            warped = np.repeat(cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        out, self.timings = finish_local_swap(
            target, (x0, y0, x1, y1), warped, mask,
            # skin ∩ cover, eroded; thresholded first (the same pixels > 0.5, on 8 bits: erosion is a minimum)
            lambda: cv2.erode(((skin_mask(sub.shape[:2], mesh) * cover) > 0.5).view(np.uint8), _SQUARE5),
            colour_transfer=options.colour_transfer, mode=options.blend, started=t0,
            lightness_contrast=LIGHTNESS_CONTRAST,
        )
        return out
