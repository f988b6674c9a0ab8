"""Drawing faces on a photo (for ``faceweave detect --draw``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np


class Drawable(Protocol):
    """What is drawn of a face (a :class:`faceweave.analysis.Face` is one; media does not import analysis)."""

    index: int
    box: np.ndarray
    landmarks: np.ndarray


def draw_faces(rgb: np.ndarray, faces: Sequence[Drawable]) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, index and 68 landmarks drawn."""
    out = rgb.copy()
    scale = max(rgb.shape[:2]) / 1000
    t = max(1, int(round(2 * scale)))
    for f in faces:
        x0, y0, x1, y1 = (int(round(float(v))) for v in f.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 0), t)
        cv2.putText(out, str(f.index), (x0, max(y0 - 4 * t, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale + 0.3,
                    (255, 255, 0), t, cv2.LINE_AA)
        for x, y in f.landmarks:
            cv2.circle(out, (int(round(float(x))), int(round(float(y)))), t, (255, 0, 0), -1, cv2.LINE_AA)
    return out
