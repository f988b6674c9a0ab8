"""Masks: the skin region of a face, RSGAN's face-region mask, the open mouth, person / background.

All functions are pure: they take points or an image and return a float32 mask in [0, 1] of the
requested (H, W) shape.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from faceweave.analysis import _mediapipe as mpq
from faceweave.analysis.landmarks import INNER_FACE

# mediapipe mesh indices of the inner lip ring (the opening of the mouth).
INNER_LIPS = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
MESH_NOSE_TIP = 1
MESH_CHIN = 152
MESH_FOREHEAD = 10
MESH_GLABELLA = 9


@cache
def face_oval_indices() -> tuple[int, ...]:
    """The mesh's face-oval ring, in order, from mediapipe's own connection list."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    nxt: dict[int, list[int]] = {}
    for a, b in FACEMESH_FACE_OVAL:
        nxt.setdefault(a, []).append(b)
        nxt.setdefault(b, []).append(a)
    start = MESH_FOREHEAD
    ring, prev, cur = [start], -1, start
    while True:
        cands = [n for n in nxt[cur] if n != prev]
        if not cands or cands[0] == start:
            break
        prev, cur = cur, cands[0]
        ring.append(cur)
        if len(ring) > len(nxt):
            break
    return tuple(ring)


def polygon_mask(shape: tuple[int, int], pts: np.ndarray, convex: bool = False) -> np.ndarray:
    """Filled polygon (or its convex hull) as a float32 mask."""
    m = np.zeros(shape, np.uint8)
    p = np.round(np.asarray(pts, np.float64)[:, :2] * 16).astype(np.int32)
    if convex:
        p = cv2.convexHull(p)
    cv2.fillPoly(m, [p.reshape(-1, 1, 2)], 255, lineType=cv2.LINE_AA, shift=4)
    return m.astype(np.float32) / 255.0


def dilate_ellipse(m: np.ndarray, r: int) -> np.ndarray:
    """``cv2.dilate`` with a (2r+1)² ellipse, computed only around the mask's non-zero pixels.

    The same result as dilating the whole mask (nothing farther than ``r`` from a non-zero pixel can
    change), at the cost of the region's box rather than the image's: masks of one eye or the mouth
    inside a face box are a few percent of it.
    """
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    out = np.zeros_like(m)
    if not len(rows):
        return out
    h, w = m.shape[:2]
    y0, y1 = max(int(rows[0]) - r, 0), min(int(rows[-1]) + r + 1, h)
    x0, x1 = max(int(cols[0]) - r, 0), min(int(cols[-1]) + r + 1, w)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out[y0:y1, x0:x1] = cv2.dilate(np.ascontiguousarray(m[y0:y1, x0:x1]), k)
    return out


def skin_polygon(mesh: np.ndarray, forehead_keep: float = 0.45) -> np.ndarray:
    """The face oval with its forehead lowered toward the brows, so hair and hats are left out.

    Points of the oval above the glabella (along the chin→forehead axis) are pulled down to keep
    only ``forehead_keep`` of their height: a mesh warp must not carry bangs or a hat across.
    """
    ring = mesh[list(face_oval_indices()), :2].astype(np.float64)
    up = mesh[MESH_FOREHEAD, :2] - mesh[MESH_CHIN, :2]
    up = up / (np.linalg.norm(up) + 1e-9)
    g = mesh[MESH_GLABELLA, :2]
    t = (ring - g) @ up
    lift = np.where(t > 0, t * (1 - forehead_keep), 0.0)
    return ring - lift[:, None] * up[None, :]


def skin_mask(shape: tuple[int, int], mesh: np.ndarray, forehead_keep: float = 0.45) -> np.ndarray:
    return polygon_mask(shape, skin_polygon(mesh, forehead_keep))


def mouth_opening_mask(shape: tuple[int, int], mesh: np.ndarray) -> np.ndarray:
    return polygon_mask(shape, mesh[INNER_LIPS, :2])


def mouth_open_ratio(mesh: np.ndarray) -> float:
    """Area of the inner-lip opening over the area of the face oval (0 for a closed mouth)."""
    inner = mesh[INNER_LIPS, :2].astype(np.float32)
    oval = mesh[list(face_oval_indices()), :2].astype(np.float32)
    return float(abs(cv2.contourArea(inner)) / max(abs(cv2.contourArea(oval)), 1e-6))


def rsgan_face_mask(
    shape: tuple[int, int], landmarks: np.ndarray, stretch_x: float = 1.3, stretch_y: float = 1.4
) -> np.ndarray:
    """RSGAN's face region (Fig. 3): hull of the 41 eye/nose/mouth points, stretched about its centre.

    The paper says the hull is "stretched 1.3× horizontally and 1.4× vertically"; we read the
    centre as the centre of the hull's bounding box (the mean of the points would shift the
    region toward the mouth, which has the most points).
    """
    pts = np.asarray(landmarks, np.float64)[INNER_FACE]
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    c = (hull.min(0) + hull.max(0)) / 2
    hull = (hull - c) * np.array([stretch_x, stretch_y]) + c
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(hull).astype(np.int32).reshape(-1, 1, 2)], 1)
    return m.astype(np.float32)


def person_mask(rgb: np.ndarray, threshold: float | None = 0.5) -> np.ndarray:
    """Person (foreground) mask from mediapipe selfie segmentation; stands in for RSGAN's PSPNet."""
    res = mpq.run(mpq.selfie_segmenter(), np.ascontiguousarray(rgb))
    m = np.asarray(res.segmentation_mask, np.float32)
    if threshold is not None:
        m = (m > threshold).astype(np.float32)
    return m


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Erode by ``radius`` then blur by ``radius``: a soft edge that stays inside the mask."""
    r = max(int(round(radius)), 1)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    m = cv2.erode(mask.astype(np.float32), k)
    return cv2.GaussianBlur(m, (0, 0), sigmaX=r / 2 + 0.5)
