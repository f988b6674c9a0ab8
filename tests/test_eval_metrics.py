"""Evaluation metrics on cases whose answer is known (docs/design.md §5)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceweave.analysis import analyze
from faceweave.analysis.align import align_face
from faceweave.eval import metrics as M
from faceweave.media import read_image

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="module")
def faces() -> dict[str, tuple[np.ndarray, object]]:
    out = {}
    for name in ("facerec_obama.jpg", "facerec_obama2.jpg", "facerec_biden.jpg"):
        rgb = read_image(ASSETS / name).rgb
        out[name] = (rgb, analyze(rgb, mesh=False, identity=True)[0])
    return out


def test_identical_crops_abs_zero_msssim_one(faces) -> None:
    rgb, face = faces["facerec_obama.jpg"]
    a, b = M.aligned_pair(rgb, rgb.copy(), face.landmarks)
    assert a.shape == (M.CROP_SIZE[1], M.CROP_SIZE[0], 3)
    assert M.abs_error(a, b) == 0.0
    assert M.ms_ssim(a, b) == pytest.approx(1.0, abs=1e-9)


def test_different_crops_score_worse(faces) -> None:
    rgb, face = faces["facerec_obama.jpg"]
    crop, _ = align_face(rgb, face.landmarks, M.CROP_SIZE)
    noisy = np.clip(crop.astype(np.int16) + np.random.default_rng(0).integers(-40, 41, crop.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    assert 0.0 < M.abs_error(crop, noisy) < 0.2
    assert M.ms_ssim(crop, noisy) < 0.99
    black, white = np.zeros_like(crop), np.full_like(crop, 255)
    assert M.abs_error(black, white) == 1.0


def test_msssim_small_images_use_a_smaller_window() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert M.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError):
        M.ms_ssim(img[:32], img[:32])


def test_identity_distance_self_zero_other_person_larger(faces) -> None:
    _, obama = faces["facerec_obama.jpg"]
    _, obama2 = faces["facerec_obama2.jpg"]
    _, biden = faces["facerec_biden.jpg"]
    assert M.identity_distance(obama.embedding, obama.embedding) == pytest.approx(0.0, abs=1e-12)
    # the same photo analysed again gives the same embedding
    again = analyze(faces["facerec_obama.jpg"][0], mesh=False)[0]
    assert M.identity_distance(obama.embedding, again.embedding) < 1e-6
    same_person = M.identity_distance(obama.embedding, obama2.embedding)
    other_person = M.identity_distance(obama.embedding, biden.embedding)
    assert other_person > 0.2
    assert same_person < other_person
    assert 0.0 <= other_person <= 4.0


def test_identity_retrieval_constructed() -> None:
    src = np.array([1.0, 0.0, 0.0])
    others = [np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])]
    assert M.identity_retrieved(np.array([0.9, 0.2, 0.1]), src, others)
    assert not M.identity_retrieved(np.array([0.2, 0.9, 0.1]), src, others)
    assert M.identity_retrieved(np.array([0.2, 0.9, 0.1]), src, [])


@pytest.mark.parametrize("yaw,pitch,roll", [(0.0, 0.0, 0.0), (25.0, -10.0, 5.0), (-35.0, 15.0, -12.0)])
def test_pose_recovers_known_rotation(yaw: float, pitch: float, roll: float) -> None:
    """Project the generic face with a known pose; solvePnP must give it back."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    w, h = 640, 480
    cam = np.array([[640.0, 0, 320], [0, 640.0, 240], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues(rot)
    pts, _ = cv2.projectPoints(M.FACE_MODEL_3D, rvec, np.array([[10.0], [-5.0], [600.0]]), cam, None)
    got = M.head_pose(pts.reshape(-1, 2), (w, h))
    assert got == pytest.approx((yaw, pitch, roll), abs=0.5)


def test_pose_of_mirrored_face_flips_yaw(faces) -> None:
    rgb, face = faces["facerec_obama2.jpg"]
    h, w = rgb.shape[:2]
    yaw, pitch, roll = M.head_pose(face.landmarks, (w, h))
    mirrored = np.ascontiguousarray(rgb[:, ::-1])
    mface = analyze(mirrored, mesh=False, identity=False)[0]
    myaw, mpitch, mroll = M.head_pose(mface.landmarks, (w, h))
    assert abs(yaw) > 8  # a turned face, so the sign means something
    assert np.sign(myaw) == -np.sign(yaw)
    assert abs(myaw + yaw) < 3.0
    assert abs(mpitch - pitch) < 3.0
    assert abs(mroll + roll) < 3.0


def test_pose_difference_wraps() -> None:
    assert M.pose_difference((170.0, 0.0, -5.0), (-170.0, 1.0, 5.0)) == pytest.approx((20.0, 1.0, 10.0))


def test_summary_and_success_rate() -> None:
    s = M.summarize([1.0, None, 3.0, float("nan")])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 2
    assert M.summarize([None])["mean"] is None
    assert M.success_rate(3, 4) == 0.75
    assert np.isnan(M.success_rate(0, 0))


def test_expression_difference_by_hand() -> None:
    from faceweave.eval.metrics import expression_difference

    lm = np.zeros((68, 2))
    for o in (36, 42):  # eyes 4 px wide, lids 1 px apart → EAR = (1 + 1) / (2·4) = 0.25
        lm[o], lm[o + 3] = (0, 0), (4, 0)
        lm[o + 1], lm[o + 2], lm[o + 4], lm[o + 5] = (1, -0.5), (3, -0.5), (3, 0.5), (1, 0.5)
    lm[60], lm[64] = (0, 10), (8, 10)  # mouth 8 px wide, closed: MAR 0
    for a, b in ((61, 67), (62, 66), (63, 65)):
        lm[a] = lm[b] = (a - 60, 10)
    opened = lm.copy()
    for b in (67, 66, 65):
        opened[b, 1] += 2  # inner lips 2 px apart → MAR = 2 / 8
    assert expression_difference(lm, lm) == 0
    assert expression_difference(lm, opened) == pytest.approx(0.25)
