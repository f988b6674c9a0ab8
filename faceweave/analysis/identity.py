"""Identity embeddings: dlib's 128-D ResNet (stands in for OpenFace in RSGAN's identity metric)."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from faceweave import registry
from faceweave.analysis.landmarks import dlib_rect


@cache
def _recognizer() -> Any:
    import dlib

    return dlib.face_recognition_model_v1(str(registry.get("dlib-face-recognition-resnet").require()))


def embedding(rgb: np.ndarray, landmarks: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 128-D identity vector of the face whose 68 landmarks are given."""
    import dlib

    pts = [dlib.point(int(round(float(x))), int(round(float(y)))) for x, y in landmarks]
    shape = dlib.full_object_detection(dlib_rect(box), pts)
    return np.array(_recognizer().compute_face_descriptor(np.ascontiguousarray(rgb), shape), np.float32)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖a/‖a‖ − b/‖b‖‖², range 0–4 (docs/design.md §5; RSGAN's OpenFace protocol)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a / (np.linalg.norm(a) + 1e-12)
    b = b / (np.linalg.norm(b) + 1e-12)
    return float(np.sum((a - b) ** 2))
