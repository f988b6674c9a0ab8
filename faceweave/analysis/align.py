"""Alignment to canonical templates (:mod:`faceweave.analysis.template`) by a similarity transform."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.analysis.template import CELEBA_5PT, CELEBA_SIZE

__all__ = ["CELEBA_5PT", "CELEBA_SIZE", "align_face", "align_matrix", "five_points", "similarity_transform",
           "transform_points"]


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
