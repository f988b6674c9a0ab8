"""Re-lit face pairs for the light network (seed 003, "Light loss": the poster trains Γ on images
of equal vs different illumination, without saying where they come from; we make them).

For an aligned face with its mediapipe mesh (478 points, in frame pixels, z away from the camera):

1. normals: each mesh triangle's normal, painted far-to-near into a per-pixel map, then smoothed;
   pixels off the face get the normal facing the camera;
2. shading under a directional light l (unit vector, toward the light, front hemisphere):
   s = a + (1 − a)·max(0, n·l), with ambient a in [0.25, 0.45];
3. re-lit face = crop · s / mean(s over the face), clipped (the face keeps its average brightness,
   so the net must look at the light's direction, not the exposure).

Pairs: *same light* = two different faces (one possibly mirrored before re-lighting, both with a
random small crop-and-resize) under the same l; *different light* = the same face under l and l′
with an angle of at least ``min_angle`` between them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np


@cache
def mesh_triangles() -> np.ndarray:
    return np.load(Path(__file__).resolve().parents[1] / "assets" / "mesh_triangles.npy")


def normal_map(mesh: np.ndarray, size: int, smooth: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(size×size×3 unit normals with +z toward the camera, size×size face mask in {0, 1})."""
    tris = mesh_triangles()
    p = np.asarray(mesh, np.float64).copy()
    p[:, 2] = -p[:, 2]  # +z toward the camera
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-9
    n[n[:, 2] < 0] *= -1  # orientation of the triangle list is not guaranteed: face the camera
    depth = (a[:, 2] + b[:, 2] + c[:, 2]) / 3
    out = np.zeros((size, size, 3), np.float32)
    out[..., 2] = 1.0
    mask = np.zeros((size, size), np.uint8)
    for t in np.argsort(depth):  # far first, near last
        pts = np.round(p[tris[t], :2] * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillConvexPoly(out, pts, n[t].tolist(), shift=4)
        cv2.fillConvexPoly(mask, pts, 1, shift=4)
    if smooth > 0:
        out = cv2.GaussianBlur(out, (0, 0), smooth)
        out /= np.linalg.norm(out, axis=2, keepdims=True) + 1e-9
    return out, mask


def random_light(rng: np.random.Generator, max_polar_deg: float = 70.0) -> np.ndarray:
    """A unit direction in the front hemisphere, at most ``max_polar_deg`` from the viewing axis."""
    polar = np.deg2rad(rng.uniform(10.0, max_polar_deg))
    az = rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(polar) * np.cos(az), np.sin(polar) * np.sin(az), np.cos(polar)])


def relight(
    crop: np.ndarray, normals: np.ndarray, mask: np.ndarray, light: np.ndarray, ambient: float = 0.35
) -> np.ndarray:
    """The crop (H×W×3 uint8) shaded by light direction ``light`` (x right, y down, z toward the camera)."""
    s = ambient + (1 - ambient) * np.clip(normals @ np.asarray(light, np.float32), 0, None)
    s = s / max(float(s[mask > 0].mean()) if mask.any() else float(s.mean()), 1e-3)
    return np.clip(crop.astype(np.float32) * s[..., None], 0, 255).astype(np.uint8)


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))


def jitter(img: np.ndarray, rng: np.random.Generator, max_shift: float = 0.06) -> np.ndarray:
    """A random crop of up to ``max_shift`` of the side per edge, resized back."""
    s = img.shape[0]
    x0, y0 = rng.uniform(0, max_shift * s, 2)
    x1, y1 = s - rng.uniform(0, max_shift * s, 2)
    m = np.array([[s / (x1 - x0), 0, -x0 * s / (x1 - x0)], [0, s / (y1 - y0), -y0 * s / (y1 - y0)]], np.float32)
    return cv2.warpAffine(img, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def mirrored(crop: np.ndarray, normals: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The face mirrored left–right together with its normals (x component negated)."""
    n = normals[:, ::-1].copy()
    n[..., 0] *= -1
    return crop[:, ::-1].copy(), n, mask[:, ::-1].copy()


def make_pair(faces: list[tuple[np.ndarray, np.ndarray, np.ndarray]], rng: np.random.Generator, same: bool,
              min_angle: float = 35.0) -> tuple[np.ndarray, np.ndarray]:
    """One training pair from (crop, normals, mask) triples: same light on two faces, or two lights on one face."""
    i = int(rng.integers(len(faces)))
    l1 = random_light(rng)
    a = relight(*faces[i], l1, ambient=rng.uniform(0.25, 0.45))
    if same:
        j = int(rng.integers(len(faces) - 1)) if len(faces) > 1 else 0
        j = j + (j >= i) if len(faces) > 1 else i
        fb = mirrored(*faces[j]) if rng.random() < 0.5 else faces[j]
        b = relight(*fb, l1, ambient=rng.uniform(0.25, 0.45))
    else:
        l2 = random_light(rng)
        while angle_deg(l1, l2) < min_angle:
            l2 = random_light(rng)
        b = relight(*faces[i], l2, ambient=rng.uniform(0.25, 0.45))
    return jitter(a, rng), jitter(b, rng)
