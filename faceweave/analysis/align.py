"""Alignment to canonical templates (CelebA's aligned 178×218 crop) by a similarity transform."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.errors import FaceweaveError

# Mean five-point positions of CelebA's aligned images (img_align_celeba, 178×218): eye centres
# (image-left first), nose tip, mouth corners — the averages of list_landmarks_align_celeba.txt.
CELEBA_SIZE = (178, 218)  # (width, height)
CELEBA_5PT = np.array(
    [[69.0, 111.0], [107.0, 111.0], [88.0, 134.5], [72.0, 152.5], [105.0, 152.5]], np.float64
)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners from dlib's 68 points."""
    lm = np.asarray(landmarks, np.float64)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src → dst (Umeyama).

    Returns a 2×3 matrix for ``cv2.warpAffine``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s0, d0 = src - ms, dst - md
    cov = d0.T @ s0 / len(src)
    u, sv, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    r = u @ d @ vt
    var = (s0**2).sum() / len(src)
    scale = float(np.trace(np.diag(sv) @ d) / var) if var > 0 else 1.0
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def align_matrix(
    landmarks: np.ndarray,
    size: tuple[int, int] = CELEBA_SIZE,
    template: np.ndarray = CELEBA_5PT,
    template_size: tuple[int, int] = CELEBA_SIZE,
) -> np.ndarray:
    """2×3 matrix taking the photo to the template, scaled to ``size`` (width, height)."""
    sx = size[0] / template_size[0]
    sy = size[1] / template_size[1]
    return similarity_transform(five_points(landmarks), template * np.array([sx, sy]))


def align_face(
    rgb: np.ndarray, landmarks: np.ndarray, size: tuple[int, int] = CELEBA_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """The face warped to the CelebA-aligned template; returns (crop, 2×3 matrix photo→crop)."""
    m = align_matrix(landmarks, size)
    # replicate, not reflect: a reflected border puts a mirrored second head above tight portraits
    crop = cv2.warpAffine(rgb, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, m


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    p = np.asarray(points, np.float64)[:, :2]
    return p @ m[:, :2].T + m[:, 2]


# ArcFace / InsightFace five-point template for 112×112 crops (eye centres, nose tip, mouth corners);
# the numbers faceplugin's fr_feature.js and the MobileFaceNet training pipelines use.
ARCFACE_SIZE = (112, 112)
ARCFACE_5PT = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float64,
)


def arcface_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """2×3 similarity taking the photo to the ArcFace 112×112 template (scaled to ``size``)."""
    return similarity_transform(five_points(landmarks), ARCFACE_5PT * (size / 112.0))


def box_crop_matrix(
    box: np.ndarray, size: int, left: float = 0.0, top: float = 0.0, right: float = 0.0, bottom: float = 0.0
) -> np.ndarray:
    """2×3 matrix mapping the face box, widened by the given fractions of its width/height, onto size×size.

    ``left=0.25`` moves the left edge out by a quarter of the box width, and so on (negative values
    shrink). Axis-aligned, not aspect-preserving: the box is stretched to the square, as the original
    pose/expression code does with ``cv2.resize`` of a box crop.
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box)[:4])
    w, h = x1 - x0, y1 - y0
    bx0, by0 = x0 - left * w, y0 - top * h
    bw, bh = w * (1 + left + right), h * (1 + top + bottom)
    if bw <= 0 or bh <= 0:
        raise FaceweaveError(f"box: {box!r} is empty")
    # pixel centres (cv2.resize convention): crop pixel u samples photo x = bx0 + (u + ½)·bw/size − ½
    sx, sy = size / bw, size / bh
    return np.array([[sx, 0.0, 0.5 * sx - 0.5 - sx * bx0], [0.0, sy, 0.5 * sy - 0.5 - sy * by0]], np.float64)


# The crops the original faceplugin code feeds its pose and expression networks: pose widens the
# detector box by a quarter on every side; expression keeps the box's top-left corner and takes 1.2×
# its width and height.
POSE_MARGINS = {"left": 0.25, "top": 0.25, "right": 0.25, "bottom": 0.25}
EXPRESSION_MARGINS = {"left": 0.0, "top": 0.0, "right": 0.2, "bottom": 0.2}


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """The dlib-detector-like box (x0, y0, x1, y1) spanned by the 68 landmarks (brows to chin)."""
    lm = np.asarray(landmarks, np.float64)
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()])
