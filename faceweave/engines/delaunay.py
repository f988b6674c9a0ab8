"""The delaunay engine: the classical landmark pipeline of seed 004, kept as the baseline.

Pipeline for one (source face → target face), on dlib's 68 landmarks only (no dense mesh):
1. Delaunay triangulation of the *target's* 68 points (``scipy.spatial.Delaunay``); the same index
   triples are used on the source's points, so triangle *k* of the source maps onto triangle *k* of
   the target by one affine transform each (:func:`faceweave.compose.warp.warp_mesh`: every target
   pixel is labelled with its triangle and sampled through that triangle's affine map in one remap);
2. mask: convex hull of the target's 68 points (brows, jaw line), cut to what the warp covered,
   minus the target's open-mouth interior when asked to keep it, feathered inwards;
3. colour transfer in CIE L*a*b* over the mask, so the warped face takes the target's skin tone;
4. blending: Burt–Adelson multiband by default (seed 004's "multi-resolution blending").

No forehead points are added: the hull stops at the brows, so the source's bangs or hat never come
across (docs/design.md §6). Triangles that flip orientation between the two faces (a strongly turned
head) are still warped, as in the seed; the mesh-based ``warp`` engine is the one that handles
self-occlusion.
"""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
from scipy.spatial import Delaunay

from faceweave.analysis.face import Face
from faceweave.analysis.masks import polygon_mask
from faceweave.compose.local import finish_local_swap
from faceweave.compose.warp import warp_mesh
from faceweave.engines.base import EngineBase, SwapOptions, register_engine
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

INNER_LIPS_68 = list(range(60, 68))
OUTER_LIPS_68 = list(range(48, 60))
# An inner-lip opening larger than this share of the outer-lip area counts as an open mouth.
MOUTH_OPEN_RATIO = 0.08


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (index triples into ``points``) of a 2-D point set, degenerate ones dropped."""
    pts = np.asarray(points, np.float64)[:, :2]
    tris = Delaunay(pts, qhull_options="QJ").simplices.astype(np.int64)
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    return tris[area > 1e-3]


def region(points: np.ndarray, shape: tuple[int, int], margin: float = 0.15) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of ``points`` grown by ``margin`` of its size, clipped to the image."""
    p = np.asarray(points, np.float64)[:, :2]
    lo, hi = p.min(0), p.max(0)
    pad = margin * float(np.max(hi - lo)) + 4
    h, w = shape
    x0, y0 = np.maximum(np.floor(lo - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(hi + pad) + 1, [w, h]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def mouth_open(landmarks: np.ndarray) -> bool:
    """Whether the inner-lip ring encloses a noticeable opening (relative to the whole mouth)."""
    lm = np.asarray(landmarks, np.float32)
    inner = abs(cv2.contourArea(lm[INNER_LIPS_68]))
    outer = abs(cv2.contourArea(lm[OUTER_LIPS_68]))
    return outer > 0 and inner / outer > MOUTH_OPEN_RATIO


def hull_mask(shape: tuple[int, int], face: Face, coverage: np.ndarray, keep_mouth: bool) -> np.ndarray:
    """Convex hull of the 68 points ∩ warp coverage − open mouth, feathered inwards (float32, [0, 1])."""
    lm = np.asarray(face.landmarks, np.float64)
    m = polygon_mask(shape, lm, convex=True) * coverage
    size = max(face.width, face.height, 1.0)
    if keep_mouth and mouth_open(lm):
        mouth = polygon_mask(shape, lm[INNER_LIPS_68])
        g = max(int(round(0.01 * size)), 1)
        mouth = cv2.dilate(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
        m = m * (1.0 - mouth)
    radius = max(2.0, 0.04 * size)
    r = int(round(radius))
    m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.GaussianBlur(m, (0, 0), sigmaX=radius / 2)


@register_engine("delaunay")
class DelaunayEngine(EngineBase):
    """Seed 004's classical face swap: 68 landmarks, Delaunay, per-triangle affine, multiband blend."""

    name = "delaunay"
    needs_mesh = False
    learned = False  # classical image operations: outputs are compositeSynthetic

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        src_pts = np.asarray(source_face.landmarks, np.float64)
        dst_pts = np.asarray(target_face.landmarks, np.float64)
        if src_pts.shape != (68, 2) or dst_pts.shape != (68, 2):
            raise FaceweaveError("the delaunay engine needs dlib's 68 landmarks on both faces")
        t0 = time.perf_counter()
        tris = triangulate(dst_pts)
        if len(tris) < 50:
            raise FaceweaveError("the target's landmarks are degenerate (too few Delaunay triangles)")
        # Work on the face's neighbourhood only: the cost follows the face, not the photo.
        tx0, ty0, tx1, ty1 = region(dst_pts, target.shape[:2])
        sx0, sy0, sx1, sy1 = region(src_pts, source.shape[:2])
        if tx1 - tx0 < 8 or ty1 - ty0 < 8 or sx1 - sx0 < 8 or sy1 - sy0 < 8:
            raise FaceweaveError("a face lies outside its photo")
        tgt = target[ty0:ty1, tx0:tx1]
        dst_local = dst_pts - [tx0, ty0]
        patch = source[sy0:sy1, sx0:sx1]
        src_local = src_pts - [sx0, sy0]
        scale = float(np.ptp(dst_local, 0).max()) / max(float(np.ptp(src_local, 0).max()), 1.0)
        if scale < 0.8:  # pre-shrink a much larger source face (area filter) so the warp does not alias
            w, h = max(int(round(patch.shape[1] * scale)), 2), max(int(round(patch.shape[0] * scale)), 2)
            src_local = src_local * [w / patch.shape[1], h / patch.shape[0]]
            patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
        shape = tgt.shape[:2]
        local_face = Face(index=target_face.index, box=target_face.box - [tx0, ty0, tx0, ty0],
                          score=target_face.score, landmarks=dst_local)
        warped, cover = warp_mesh(patch, src_local, shape, dst_local, tris)
        mask = hull_mask(shape, local_face, cover, options.keep_mouth)
        out, self.timings = finish_local_swap(
            target, (tx0, ty0, tx1, ty1), warped, mask,
            lambda: cv2.erode((mask > 0.5).astype(np.float32), np.ones((5, 5), np.uint8)),
            colour_transfer=options.colour_transfer, mode=options.blend, started=t0,
        )
        log.debug("delaunay swap: %d triangles, %.0f ms", len(tris), 1000 * sum(self.timings.values()))
        return out
