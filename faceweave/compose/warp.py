"""Piecewise-affine warping of one image's triangles onto another's."""

from __future__ import annotations

import cv2
import numpy as np


def triangle_facing(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed area of each triangle in image space (same sign = same winding = facing the camera)."""
    p = np.asarray(points, np.float64)[:, :2]
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def warp_triangles(
    src: np.ndarray,
    src_pts: np.ndarray,
    dst_shape: tuple[int, int],
    dst_pts: np.ndarray,
    tris: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp each triangle of ``src`` (vertices ``src_pts[tris]``) onto ``dst_pts[tris]``.

    Returns (warped H×W×3 uint8 on a black canvas of ``dst_shape``, coverage mask float32 in [0, 1]).
    Each triangle is warped inside its own bounding box, so the cost follows the face, not the photo.
    """
    h, w = dst_shape
    out = np.zeros((h, w, 3), np.float32)
    cover = np.zeros((h, w), np.float32)
    sp = np.asarray(src_pts, np.float32)[:, :2]
    dp = np.asarray(dst_pts, np.float32)[:, :2]
    sh, sw = src.shape[:2]
    for t in tris:
        s3, d3 = sp[t], dp[t]
        x0, y0 = np.floor(d3.min(0)).astype(int)
        x1, y1 = np.ceil(d3.max(0)).astype(int) + 1
        x0c, y0c, x1c, y1c = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1c <= x0c or y1c <= y0c:
            continue
        sx0, sy0 = np.floor(s3.min(0)).astype(int) - 1
        sx1, sy1 = np.ceil(s3.max(0)).astype(int) + 2
        sx0, sy0, sx1, sy1 = max(sx0, 0), max(sy0, 0), min(sx1, sw), min(sy1, sh)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        m = cv2.getAffineTransform(s3 - [sx0, sy0], (d3 - [x0c, y0c]).astype(np.float32))
        patch = cv2.warpAffine(
            src[sy0:sy1, sx0:sx1], m, (x1c - x0c, y1c - y0c), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT101,
        )
        tm = np.zeros((y1c - y0c, x1c - x0c), np.uint8)
        cv2.fillConvexPoly(tm, np.round((d3 - [x0c, y0c]) * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
        a = tm.astype(np.float32) / 255.0
        region = cover[y0c:y1c, x0c:x1c]
        # take the triangle where it adds coverage (anti-aliased edges of neighbours meet at ~1)
        add = np.minimum(a, 1.0 - region)
        out[y0c:y1c, x0c:x1c] += patch.astype(np.float32) * add[..., None]
        cover[y0c:y1c, x0c:x1c] = region + add
    safe = np.maximum(cover, 1e-6)[..., None]
    warped = np.where(cover[..., None] > 1e-6, out / safe, 0)
    return np.clip(warped + 0.5, 0, 255).astype(np.uint8), cover
