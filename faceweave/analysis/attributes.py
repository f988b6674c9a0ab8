"""Face attributes measured from the 68 landmarks, under CelebA's attribute names.

No attribute classifier for CelebA's 40 labels ships in any installable package, so plain photo
folders get two labels that geometry decides well: ``Mouth_Slightly_Open`` (gap between the inner
lips over the inter-ocular distance) and ``Smiling`` (mouth corners raised above the mid-lip line,
over the inter-ocular distance). Thresholds were set on the sample photos; they are heuristics,
not CelebA's human labels.
"""

from __future__ import annotations

import numpy as np

LANDMARK_ATTRIBUTES: tuple[str, ...] = ("Mouth_Slightly_Open", "Smiling")
MOUTH_OPEN_GAP = 0.10
SMILE_LIFT = 0.12


def mouth_measures(landmarks: np.ndarray) -> tuple[float, float]:
    """(inner-lip gap, mouth-corner lift), both over the inter-ocular distance."""
    lm = np.asarray(landmarks, np.float64)
    left_eye, right_eye = lm[36:42].mean(0), lm[42:48].mean(0)
    io = max(float(np.linalg.norm(left_eye - right_eye)), 1e-6)
    gap = float(np.linalg.norm(lm[62] - lm[66])) / io
    up = lm[36:48].mean(0) - lm[48:68].mean(0)
    up /= max(float(np.linalg.norm(up)), 1e-6)
    mid = (lm[51] + lm[57]) / 2
    lift = float(((lm[48] + lm[54]) / 2 - mid) @ up) / io
    return gap, lift


def landmark_attributes(landmarks: np.ndarray) -> np.ndarray:
    """0/1 values for :data:`LANDMARK_ATTRIBUTES`, in that order (int8)."""
    gap, lift = mouth_measures(landmarks)
    return np.array([gap > MOUTH_OPEN_GAP, lift > SMILE_LIFT], np.int8)
