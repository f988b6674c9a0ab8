"""NumPy-in, NumPy-out inference with the frozen networks: one photo, its faces' 68 landmarks.

For training code use the modules and :mod:`faceweave.nets.align` directly (tensors, gradients).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from faceweave.nets import align
from faceweave.nets.loading import load

IDENTITY_NETS = ("identity512", "mobilefacenet192")
EMBEDDING_DIMS = {"identity512": 512, "mobilefacenet192": 192}


def _landmarks(landmarks: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    lms = np.asarray(landmarks, np.float64)
    return lms[None] if lms.ndim == 2 else lms


def identity_embeddings(
    rgb: np.ndarray, landmarks: np.ndarray | Sequence[np.ndarray], net: str = "identity512"
) -> np.ndarray:
    """(N, D) float32 raw embeddings of the faces with the given 68 landmarks (N, 68, 2) in ``rgb``."""
    if net not in IDENTITY_NETS:
        raise ValueError(f"net must be one of {IDENTITY_NETS}, not {net!r}")
    lms = _landmarks(landmarks)
    if len(lms) == 0:
        return np.zeros((0, EMBEDDING_DIMS[net]), np.float32)
    with torch.no_grad():
        crops = align.arcface_crop(align.image_to_tensor(rgb), lms)
        return load(net)(crops).numpy().astype(np.float32)


def head_pose(rgb: np.ndarray, landmarks: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(N, 3) yaw, pitch, roll in degrees from the Hopenet pose net."""
    lms = _landmarks(landmarks)
    if len(lms) == 0:
        return np.zeros((0, 3), np.float32)
    with torch.no_grad():
        return load("pose").angles(align.pose_crop(align.image_to_tensor(rgb), lms)).numpy().astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (any dimension)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
