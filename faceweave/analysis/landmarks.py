"""Landmarks: dlib's 68 points on each detected face, and mediapipe's dense mesh on a face crop."""

from __future__ import annotations

from functools import cache
from typing import Any

import cv2
import numpy as np

from faceweave import registry
from faceweave.analysis import _mediapipe as mpq

# dlib 68-point groups (iBUG 300-W order).
JAW = list(range(0, 17))
BROWS = list(range(17, 27))
NOSE = list(range(27, 36))
EYES = list(range(36, 48))
MOUTH = list(range(48, 68))
INNER_FACE = list(range(27, 68))  # the 41 eye / nose / mouth points RSGAN's face mask uses


@cache
def shape_predictor() -> Any:
    import dlib

    return dlib.shape_predictor(str(registry.get("dlib-landmarks-68").require()))


def dlib_rect(box: np.ndarray) -> Any:
    import dlib

    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


def landmarks_68(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks for the face in ``box`` (BlazeFace boxes match dlib's HOG boxes to ~4 %)."""
    shape = shape_predictor()(rgb, dlib_rect(box))
    return np.array([[p.x, p.y] for p in shape.parts()], np.float32)


def _mesh_on_crop(rgb: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray | None:
    h, w = rgb.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * margin
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    crop = np.zeros((s, s, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    scale = 1.0
    if s > 512:  # the mesh network runs at 192 px anyway; a smaller crop is faster to convert
        scale = 512 / s
        crop = cv2.resize(crop, (512, 512), interpolation=cv2.INTER_AREA)
    res = mpq.run(mpq.face_mesh(), crop)
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    cs = crop.shape[1]
    pts = np.array([[p.x * cs, p.y * cs, p.z * cs] for p in lm], np.float32) / scale
    pts[:, 0] += x0
    pts[:, 1] += y0
    return pts


def dense_mesh(rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Mediapipe's 478-point mesh of the face in ``box``, run on a crop and mapped back.

    On a whole group photo FaceMesh finds only the near faces, so each face is meshed on its own
    crop. The result is kept only if its nose tip lies inside the detected box (so a neighbour's
    face in the crop is not taken for this one).
    """
    for margin in (1.9, 1.4, 2.6):
        pts = _mesh_on_crop(rgb, box, margin)
        if pts is None:
            continue
        nx, ny = pts[1, 0], pts[1, 1]  # mesh index 1 = nose tip
        if box[0] <= nx <= box[2] and box[1] <= ny <= box[3]:
            return pts
    return None
