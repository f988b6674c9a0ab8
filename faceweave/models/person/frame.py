"""The frontal reference frame all faces are aligned to (poster, "Method": align to a frontal-view reference).

The reference is CelebA's five-point template (``analysis.align.CELEBA_5PT``) in the 178×178 square
at (0, 20) of its 178×218 crop — the whole head with a little hair — resized to ``FRAME_SIZE``.
Aligned faces share eye, nose and mouth positions, so neural patches at the same location of two
aligned faces roughly show the same part of a face (which the style loss relies on).
"""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.analysis.align import CELEBA_5PT, align_matrix, transform_points

FRAME_SIZE = 128
_SQUARE = 178.0
TEMPLATE = CELEBA_5PT - np.array([0.0, 20.0])  # five points in the 178×178 square


def frame_matrix(landmarks: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """2×3 similarity from the photo to the reference frame (size × size)."""
    return align_matrix(landmarks, (size, size), TEMPLATE, (int(_SQUARE), int(_SQUARE)))


def align_to_frame(rgb: np.ndarray, landmarks: np.ndarray, size: int = FRAME_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(crop size×size×3 uint8, 2×3 matrix photo→crop)."""
    m = frame_matrix(landmarks, size)
    crop = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, m


def frame_landmarks(landmarks: np.ndarray, m: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """The 68 landmarks in the frame, in units of the frame side (so any frame size compares)."""
    return (transform_points(landmarks, m) / size).astype(np.float32)


def pose_expression_descriptor(frame_lms: np.ndarray) -> np.ndarray:
    """Landmarks in the frame, centred, as one vector: what "pose/expression similarity" compares.

    The poster picks each input's style images "by pose/expression similarity from landmarks"
    without a formula; we take the Euclidean distance between the centred 68 aligned landmarks.
    """
    p = np.asarray(frame_lms, np.float32).reshape(-1, 68, 2)
    p = p - p.mean(1, keepdims=True)
    return p.reshape(len(p), -1)


def nearest_style_images(content_desc: np.ndarray, style_desc: np.ndarray, n_best: int) -> np.ndarray:
    """(B, n_best) indices of the style images whose landmark descriptors are nearest each input's."""
    d = ((content_desc[:, None, :] - style_desc[None, :, :]) ** 2).sum(-1)
    k = min(n_best, style_desc.shape[0])
    return np.argsort(d, axis=1, kind="stable")[:, :k]
