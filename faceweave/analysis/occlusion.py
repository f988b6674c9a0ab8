"""What covers a face: hands found by mediapipe's hand model, as a mask the swap keeps from the target.

``occlusion_mask(rgb, face)`` returns a float32 H×W mask in [0, 1] (1 = something in front of the
face: keep the target's pixels). Engines read ``face.masks["occlusion"]`` when it is set, so a caller
that smooths the mask over time (the video path) computes it per frame with this function, filters
it, stores it there and the engine uses it as given.

Hands: mediapipe 0.10.21's ``solutions.hands`` (palm detector + 21 hand landmarks; the light model,
``model_complexity=0``). The palm detector misses a hand raised in front of a face on the whole
frame but finds it on a square crop about the face (2.6× the face box), so it runs on that crop.
Each hand's mask is the convex hull of its 21 landmarks grown by a share of the palm length, so the
finger outlines (the landmarks sit on the bones' centre lines) are covered too.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import cv2
import numpy as np

from faceweave.analysis import _mediapipe as mpq
from faceweave.analysis.face import Face

# The crop the hand model runs on: the face box's centre, this many face-box widths on a side.
HAND_CROP = 2.6
# The palm detector's threshold: low, since a hand over a face is seen edge-on or from the back. Every
# palm candidate above it costs a run of the landmark model: 0.3 finds the same hands as 0.1 on every
# 6th frame of pyfeat_WolfgangLanger_Pexels.mp4 (80 frames, 28 with a hand) and saves ≈4 ms CPU on a
# face without hands (benchmarks/swap_speed.py).
HAND_MIN_CONFIDENCE = 0.3
# The hull of the landmarks is grown by this share of the palm length (wrist → middle-finger base).
HAND_GROW = 0.22
# Hands whose landmark model is less sure than this are ignored (false palms on faces score low).
HAND_MIN_PRESENCE = 0.5
# The crop is shrunk (area filter) to at most this many pixels on a side before the hand model sees
# it: the palm detector works at 192 px and the landmark model at 224 px anyway, and a big crop
# costs more to copy into the graph and to resize inside it than the networks do.
HAND_CROP_PX = 256


@cache
def _hands() -> Any:
    with mpq.quiet_stderr():
        model = mpq._solutions().hands.Hands(
            static_image_mode=True, max_num_hands=2, model_complexity=0, min_detection_confidence=HAND_MIN_CONFIDENCE
        )
    return mpq.warmed(model)


def face_crop_box(face: Face, shape: tuple[int, int], grow: float = HAND_CROP) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square about the face box, ``grow`` face widths on a side, clipped."""
    x0, y0, x1, y1 = (float(v) for v in face.box)
    side = max(x1 - x0, y1 - y0) * grow
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = shape
    return (
        int(max(round(cx - side / 2), 0)),
        int(max(round(cy - side / 2), 0)),
        int(min(round(cx + side / 2), w)),
        int(min(round(cy + side / 2), h)),
    )


def hand_landmarks(rgb: np.ndarray, face: Face) -> list[np.ndarray]:
    """The 21 landmarks (x, y in image pixels) of every hand near ``face``."""
    x0, y0, x1, y1 = face_crop_box(face, rgb.shape[:2])
    if x1 - x0 < 16 or y1 - y0 < 16:
        return []
    crop = rgb[y0:y1, x0:x1, :3]
    ch, cw = crop.shape[:2]
    s = HAND_CROP_PX / max(ch, cw)
    if s < 1:
        crop = cv2.resize(crop, (max(round(cw * s), 1), max(round(ch * s), 1)), interpolation=cv2.INTER_AREA)
    res = mpq.run(_hands(), np.ascontiguousarray(crop))
    out = []
    for i, lms in enumerate(res.multi_hand_landmarks or []):
        if res.multi_handedness and res.multi_handedness[i].classification[0].score < HAND_MIN_PRESENCE:
            continue
        out.append(np.array([[p.x * cw + x0, p.y * ch + y0] for p in lms.landmark], np.float32))
    return out


def hand_mask(shape: tuple[int, int], hands: list[np.ndarray], grow: float = HAND_GROW) -> np.ndarray:
    """Float32 mask of the hands: each one's landmark hull grown by ``grow`` × its palm length."""
    m = np.zeros(shape, np.uint8)
    for pts in hands:
        palm = float(np.linalg.norm(pts[9] - pts[0]))
        hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
        one = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(one, hull, 255, lineType=cv2.LINE_AA, shift=4)
        r = max(int(round(grow * palm)), 1)
        one = cv2.dilate(one, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        m = np.maximum(m, one)
    return m.astype(np.float32) / 255.0


def occlusion_mask(rgb: np.ndarray, face: Face) -> np.ndarray:
    """H×W float32 in [0, 1]: where something (a hand) is in front of ``face`` in ``rgb``."""
    return hand_mask(rgb.shape[:2], hand_landmarks(rgb, face))
