"""Piecewise-affine warping of one image's triangles onto another's."""

from __future__ import annotations

import cv2
import numpy as np


def triangle_facing(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed area of each triangle in image space (same sign = same winding = facing the camera)."""
    p = np.asarray(points, np.float64)[:, :2]
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


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


def rasterize_triangles(shape: tuple[int, int], pts: np.ndarray, tris: np.ndarray, offset=(0, 0),
                        start: int = 0) -> np.ndarray:
    """Label image (int32) giving ``start`` + the index of the triangle covering each pixel (``start`` − 1: none)."""
    label = np.full(shape, start - 1, np.int32)
    p = np.round((np.asarray(pts, np.float64)[:, :2] - offset) * 16).astype(np.int32)
    polys = p[np.asarray(tris)]  # T×3×2 at once: indexing per triangle cost more than the fills
    fill = cv2.fillConvexPoly
    for i, poly in enumerate(polys, start):
        fill(label, poly, i, lineType=cv2.LINE_8, shift=4)
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
    label = rasterize_triangles((y1 - y0, x1 - x0), dp, tris, offset=(x0, y0), start=1)  # 0: no triangle
    # Row 0 maps uncovered pixels to (−1, −1); row i + 1 is triangle i's affine matrix.
    table = np.empty((len(tris) + 1, 6), np.float32)
    table[0] = (0, 0, -1, 0, 0, -1)
    table[1:] = triangle_affines(src_pts, dp, tris).reshape(-1, 6)
    xx = np.arange(x0, x1, dtype=np.float32)[None, :]
    yy = np.arange(y0, y1, dtype=np.float32)[:, None]
    g = np.take(table, label, axis=0)  # h×w×6: one gather, float32
    map_x = g[..., 0] * xx
    map_x += g[..., 1] * yy
    map_x += g[..., 2]
    map_y = g[..., 3] * xx
    map_y += g[..., 4] * yy
    map_y += g[..., 5]
    inside = (label > 0).view(np.uint8)
    patch = cv2.remap(src, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    out[y0:y1, x0:x1] = cv2.bitwise_and(patch, patch, mask=inside)  # 0 where no triangle covers
    cover[y0:y1, x0:x1] = inside
    return out, cover


def polygon_distance(points: np.ndarray, polygon: np.ndarray, reach: float | None = None) -> np.ndarray:
    """Signed distance of each point to a closed polygon: positive inside, negative outside.

    The same as ``cv2.pointPolygonTest(poly, p, True)`` for every point, in one vectorised pass
    (even-odd rule for inside; the distance is to the nearest edge). With ``reach``, distances
    below ``-reach`` are clipped to ``-reach`` (callers that only use the band within ``reach``);
    points outside the polygon's box grown by ``reach`` are then not measured at all (they are at least
    ``reach`` away: the same result, for the few points near a small polygon such as an eye).
    """
    p = np.asarray(points, np.float64)[:, :2]
    a = np.asarray(polygon, np.float64).reshape(-1, 2)
    if reach is None:
        return _polygon_distance(p, a)
    near = np.all((p > a.min(0) - reach) & (p < a.max(0) + reach), axis=1)
    out = np.full(len(p), -float(reach))
    if near.any():
        out[near] = np.maximum(_polygon_distance(p[near], a), -reach)
    return out


def _polygon_distance(points: np.ndarray, a: np.ndarray) -> np.ndarray:
    p = points[:, None, :]  # N×1×2
    b = np.roll(a, -1, axis=0)
    ab = (b - a)[None]  # 1×E×2
    ap = p - a[None]
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    dist = np.sqrt((((ap - t[..., None] * ab) ** 2).sum(-1)).min(1))
    py, ay, by = p[..., 1], a[None, :, 1], b[None, :, 1]
    crosses = (ay > py) != (by > py)
    x_at = a[None, :, 0] + (py - ay) * (b[None, :, 0] - a[None, :, 0]) / np.where(by != ay, by - ay, 1.0)
    inside = (crosses & (p[..., 0] < x_at)).sum(1) % 2 == 1
    return np.where(inside, dist, -dist)
