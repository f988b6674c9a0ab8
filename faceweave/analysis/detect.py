"""Face detection: mediapipe's BlazeFace full-range model, dlib's HOG detector as a fallback."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceweave.analysis import _mediapipe as mpq


@dataclass
class Detection:
    """A detector hit: box (x0, y0, x1, y1) in pixels, confidence, six keypoints."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None  # (6, 2): right eye, left eye, nose tip, mouth, right ear, left ear


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / ua) if ua > 0 else 0.0


def detect_mediapipe(rgb: np.ndarray, min_confidence: float = 0.35) -> list[Detection]:
    h, w = rgb.shape[:2]
    res = mpq.run(mpq.face_detector(min_confidence), np.ascontiguousarray(rgb))
    out: list[Detection] = []
    for d in res.detections or []:
        b = d.location_data.relative_bounding_box
        box = np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h], np.float32)
        kps = np.array([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints], np.float32)
        out.append(Detection(box=box, score=float(d.score[0]), keypoints=kps if len(kps) == 6 else None))
    return out


def detect_dlib(rgb: np.ndarray, upsample: int = 1) -> list[Detection]:
    import dlib

    det = _hog()
    rects, scores, _ = det.run(rgb, upsample, 0.0)
    return [
        Detection(np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32), float(s), None)
        for r, s in zip(rects, scores, strict=True)
        if isinstance(r, dlib.rectangle)
    ]


_HOG = None


def _hog():  # noqa: ANN202 - dlib type
    global _HOG
    if _HOG is None:
        import dlib

        _HOG = dlib.get_frontal_face_detector()
    return _HOG


def detect_faces(rgb: np.ndarray, min_confidence: float = 0.35, min_size: int = 12) -> list[Detection]:
    """Every face in ``rgb`` (H×W×3 uint8), largest first.

    BlazeFace full-range finds small, turned and dim faces in group photos; when it finds nothing
    (very large faces that fill the frame, unusual crops) dlib's HOG detector is tried as well.
    """
    h, w = rgb.shape[:2]
    dets = detect_mediapipe(rgb, min_confidence)
    if not dets:
        # A face filling the whole frame is often missed: retry on a padded copy, then HOG.
        pad = max(h, w) // 4
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="constant")
        for d in detect_mediapipe(padded, min_confidence):
            d.box -= pad
            if d.keypoints is not None:
                d.keypoints -= pad
            dets.append(d)
    if not dets:
        dets = detect_dlib(rgb)
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        d.box = np.clip(d.box, [0, 0, 0, 0], [w, h, w, h]).astype(np.float32)
        if min(d.box[2] - d.box[0], d.box[3] - d.box[1]) < min_size:
            continue
        if all(_iou(d.box, k.box) < 0.4 for k in keep):
            keep.append(d)
    keep.sort(key=lambda d: -float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])))
    return keep
