"""Piecewise-affine warping of one image's triangles onto another's."""

from __future__ import annotations

import cv2
import numpy as np


def triangle_facing(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed area of each triangle in image space (same sign = same winding = facing the camera)."""
    p = np.asarray(points, np.float64)[:, :2]
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def polygon_distance(points: np.ndarray, polygon: np.ndarray, reach: float | None = None) -> np.ndarray:
    """``cv2.pointPolygonTest(polygon, p, True)`` for every point: signed distance, positive inside.

    With ``reach``, points whose distance to the polygon's bounding box is over ``reach`` are not
    measured and get ``-reach`` (they are at least that far outside): callers that only care about
    the band within ``reach`` of the polygon skip most of the per-point calls.
    """
    pts = np.asarray(points, np.float64)[:, :2]
    poly = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    out = np.empty(len(pts))
    near = np.ones(len(pts), bool)
    if reach is not None:
        lo, hi = poly.reshape(-1, 2).min(0) - reach, poly.reshape(-1, 2).max(0) + reach
        near = np.all((pts >= lo) & (pts <= hi), axis=1)
        out[~near] = -reach
    out[near] = [cv2.pointPolygonTest(poly, (float(x), float(y)), True) for x, y in pts[near]]
    return out


def triangle_affines(src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Per-triangle 2×3 affine matrices mapping destination coordinates to source coordinates."""
    s = np.asarray(src_pts, np.float64)[:, :2][tris]  # T×3×2
    d = np.asarray(dst_pts, np.float64)[:, :2][tris]
    dh = np.concatenate([d, np.ones(d.shape[:2] + (1,))], axis=2)  # T×3×3
    det = np.linalg.det(dh)
    ok = np.abs(det) > 1e-9
    m = np.zeros((len(tris), 2, 3))
    # solve dh @ X = s  → X (3×2); matrix = X.T
    m[ok] = np.transpose(np.linalg.solve(dh[ok], s[ok]), (0, 2, 1))
    return m


def rasterize_triangles(shape: tuple[int, int], pts: np.ndarray, tris: np.ndarray, offset=(0, 0)) -> np.ndarray:
    """Label image (int32, −1 = none) giving the index of the triangle covering each pixel."""
    label = np.full(shape, -1, np.int32)
    p = np.round((np.asarray(pts, np.float64)[:, :2] - offset) * 16).astype(np.int32)
    for i, t in enumerate(tris):
        cv2.fillConvexPoly(label, p[t], int(i), lineType=cv2.LINE_8, shift=4)
    return label


def warp_mesh(
    src: np.ndarray,
    src_pts: np.ndarray,
    dst_shape: tuple[int, int],
    dst_pts: np.ndarray,
    tris: np.ndarray,
    interpolation: int = cv2.INTER_LINEAR,
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of a whole mesh with one ``cv2.remap``.

    Every destination pixel is labelled with the triangle that covers it, mapped to the source by
    that triangle's affine matrix, and sampled in a single pass (bilinear by default; bicubic keeps
    more detail when a small source face is enlarged). Only the bounding box of
    the destination mesh is computed. Returns (warped H×W×3 uint8, coverage mask float32 in {0, 1}).
    """
    h, w = dst_shape
    out = np.zeros((h, w, 3), np.uint8)
    cover = np.zeros((h, w), np.float32)
    if len(tris) == 0:
        return out, cover
    dp = np.asarray(dst_pts, np.float64)[:, :2]
    used = dp[np.unique(tris)]
    x0, y0 = np.maximum(np.floor(used.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(used.max(0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return out, cover
    label = rasterize_triangles((y1 - y0, x1 - x0), dp, tris, offset=(x0, y0))
    m = triangle_affines(src_pts, dp, tris).astype(np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    inside = label >= 0
    lab = np.where(inside, label, 0)
    mi = m[lab]  # h×w×2×3
    map_x = mi[..., 0, 0] * xx + mi[..., 0, 1] * yy + mi[..., 0, 2]
    map_y = mi[..., 1, 0] * xx + mi[..., 1, 1] * yy + mi[..., 1, 2]
    map_x[~inside] = -1
    map_y[~inside] = -1
    patch = cv2.remap(src, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    patch[~inside] = 0
    out[y0:y1, x0:x1] = patch
    cover[y0:y1, x0:x1] = inside.astype(np.float32)
    return out, cover
