"""The video path's speed-ups keep their results: each is checked against the plain computation it replaced."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceweave.compose.blend import multiband_blend
from faceweave.compose.warp import polygon_distance, warp_mesh
from faceweave.engines.warp import visible_triangles
from faceweave.engines.warp_source import OVERSAMPLE, SourcePatches
from faceweave.media.image import read_image
from faceweave.media.provenance import changed_region
from faceweave.realtime import frame_parallel, landmarks_near

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def obama() -> tuple[np.ndarray, object]:
    from faceweave.analysis import analyze

    rgb = read_image(ASSETS / "facerec_obama.jpg").rgb
    return rgb, analyze(rgb, mesh=True, identity=False)[0]


def test_landmarks_on_a_crop_are_the_whole_frame_landmarks(obama: tuple[np.ndarray, object]) -> None:
    from faceweave.analysis.landmarks import landmarks_68

    rgb, face = obama
    rng = np.random.default_rng(0)
    for _ in range(6):  # boxes with .5 coordinates too: dlib's rounding of the box must not change
        box = face.box + np.round(rng.normal(0, 6, 4)) + np.array([0.5, 0, 0, 0.5], np.float32)
        assert np.array_equal(landmarks_near(rgb, box), landmarks_68(rgb, box))


def _plain_polygon_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    poly = polygon.reshape(-1, 1, 2).astype(np.float32)
    return np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), True) for x, y in points[:, :2]])


def test_polygon_distance_with_reach_is_the_clipped_distance() -> None:
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 300, (478, 2)).astype(np.float32)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 16))
    poly = (np.stack([np.cos(ang), np.sin(ang)], 1) * 40 + 150).astype(np.float32)
    full = _plain_polygon_distance(pts, poly)
    assert np.allclose(polygon_distance(pts, poly), full, atol=1e-3)
    for reach in (5.0, 30.0):
        got = polygon_distance(pts, poly, reach)
        assert np.allclose(got, np.maximum(full, -reach), atol=1e-3)
        assert (got > -reach).sum() < len(pts)  # the pruned points were really pruned to −reach


def _two_pyramid_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    """Burt–Adelson as written: both Laplacian pyramids blended with the mask's Gaussian pyramid."""
    def lap(img: np.ndarray) -> list[np.ndarray]:
        out, cur = [], img
        for _ in range(levels):
            nxt = cv2.pyrDown(cur)
            out.append(cur - cv2.pyrUp(nxt, dstsize=(cur.shape[1], cur.shape[0])))
            cur = nxt
        return out + [cur]

    gm = [mask]
    for _ in range(levels):
        gm.append(cv2.pyrDown(gm[-1]))
    ld, ls = lap(dst.astype(np.float32)), lap(src.astype(np.float32))
    out = ld[-1] * (1 - gm[-1][..., None]) + ls[-1] * gm[-1][..., None]
    for i in range(levels - 1, -1, -1):
        up = cv2.pyrUp(out, dstsize=(ld[i].shape[1], ld[i].shape[0]))
        out = up + ld[i] * (1 - gm[i][..., None]) + ls[i] * gm[i][..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def test_multiband_blend_matches_the_two_pyramid_spline(obama: tuple[np.ndarray, object]) -> None:
    rgb, _ = obama
    dst = np.ascontiguousarray(rgb[:200, :240])
    src = np.ascontiguousarray(rgb[40:240, 60:300])
    mask = np.zeros(dst.shape[:2], np.float32)
    cv2.ellipse(mask, (120, 100), (70, 85), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 4)
    got = multiband_blend(dst, src, mask)
    x, y, w, h = cv2.boundingRect((mask > 1e-3).astype(np.uint8))
    bb = (slice(max(y - 8, 0), y + h + 8), slice(max(x - 8, 0), x + w + 8))  # the blend's working box
    levels = int(np.clip(np.log2(min(mask[bb].shape)) - 3, 1, 6))
    want = _two_pyramid_blend(dst[bb], src[bb], mask[bb], levels)
    outside = mask <= 1e-3
    assert np.array_equal(got[outside], dst[outside])  # bit for bit where the mask is 0
    sel = mask[bb] > 1e-3  # (where the mask is 0 the destination is restored, checked above)
    assert np.abs(got[bb][sel].astype(int) - want[sel]).max() <= 1  # float rounding only


def _plain_changed_region(out: np.ndarray, before: np.ndarray, erode: int = 2) -> np.ndarray:
    d = np.abs(out.astype(int) - before.astype(int))
    d = (d.max(axis=2) if d.ndim == 3 else d) > 0
    d = cv2.morphologyEx(d.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    return cv2.erode(d, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))) > 0


@pytest.mark.parametrize("channels", [0, 3, 4])
def test_changed_region_is_the_whole_frame_computation(channels: int) -> None:
    rng = np.random.default_rng(channels)
    shape = (120, 160, channels) if channels else (120, 160)
    before = rng.integers(0, 256, shape, dtype=np.uint8)
    for y0, y1, x0, x1 in ((30, 70, 40, 100), (0, 5, 150, 160), (60, 61, 0, 1)):
        out = before.copy()
        out[y0:y1, x0:x1] ^= 1
        assert np.array_equal(changed_region(out, before), _plain_changed_region(out, before))
    assert not changed_region(before.copy(), before).any()


def test_source_patch_is_resampled_once_per_scale_and_keeps_the_bicubic_warp(
        obama: tuple[np.ndarray, object]) -> None:
    rgb, face = obama
    mesh = face.mesh
    size = float(np.ptp(mesh[:, :2], axis=0).max())
    cache = SourcePatches()
    a = cache.get(rgb, mesh, 2.0 * size)
    assert cache.get(rgb, mesh, 2.02 * size)[0] is a[0]  # the same scale step: no new resampling
    assert cache.get(rgb, mesh, 2.5 * size)[0] is not a[0]
    darker = rgb // 2
    assert not np.array_equal(cache.get(darker, mesh, 2.0 * size)[0], a[0])  # another photo, another patch
    patch, pmesh, interp = a
    assert interp == cv2.INTER_LINEAR
    assert abs(np.ptp(pmesh[:, 0]) / np.ptp(mesh[:, 0]) - 2.0 * OVERSAMPLE) < 0.2
    # A target twice the source's size: the per-frame bilinear warp of the pre-enlarged patch against the
    # bicubic warp of the original region, inside the face.
    x0, y0 = (np.floor(mesh[:, :2].min(0)) - 20).astype(int)
    region = rgb[y0:, x0:]
    src_mesh = mesh[:, :2] - [x0, y0]
    target = (src_mesh - src_mesh.min(0) + 10) * 2.0
    shape = tuple(int(v) for v in np.ceil(target.max(0) + 10))[::-1]
    tris = visible_triangles(mesh, mesh)
    ref, cover = warp_mesh(region, src_mesh, shape, target, tris, cv2.INTER_CUBIC)
    got, _ = warp_mesh(patch, pmesh, shape, target, tris, interp)
    inside = cv2.erode(cover, np.ones((5, 5), np.uint8)) > 0
    mse = float(np.mean((got[inside].astype(float) - ref[inside]) ** 2))
    assert 10 * np.log10(255**2 / mse) > 34


def test_frame_parallel_sets_opencv_threads_only_when_asked_and_restores_them() -> None:
    before = cv2.getNumThreads()
    with frame_parallel(warm_watermark=True):
        assert cv2.getNumThreads() == before
    with frame_parallel(opencv_threads=1):
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == before
    with pytest.raises(RuntimeError), frame_parallel(opencv_threads=1):
        raise RuntimeError("a failed clip")
    assert cv2.getNumThreads() == before
