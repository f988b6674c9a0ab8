"""Face detection: mediapipe's BlazeFace full-range model on the photo and on tiles, dlib's HOG, merged."""

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


def tile_boxes(h: int, w: int, side: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles (x0, y0, x1, y1) of ``side`` px covering an H×W image."""

    def starts(n: int) -> list[int]:
        if n <= side:
            return [0]
        step = int(side * (1 - overlap))
        k = int(np.ceil((n - side) / step))
        return [round(i * (n - side) / k) for i in range(k + 1)]

    return [(x, y, min(x + side, w), min(y + side, h)) for y in starts(h) for x in starts(w)]


def tile_side(h: int, w: int) -> int:
    """Side of the tiles searched on an H×W photo (its longer side: no tiling)."""
    return min(max(int(min(h, w) * TILE_SHARE), TILE_MIN_PX), max(h, w))


def detect_tiles(rgb: np.ndarray, min_confidence: float, side: int) -> list[Detection]:
    """BlazeFace full-range on overlapping tiles: a small face is larger in the model's 192-px input."""
    h, w = rgb.shape[:2]
    out: list[Detection] = []
    for x0, y0, x1, y1 in tile_boxes(h, w, side):
        # The whole-photo detector (one graph), its hits filtered by the stricter threshold here.
        for d in detect_mediapipe(np.ascontiguousarray(rgb[y0:y1, x0:x1])):
            if d.score < min_confidence:
                continue
            d.box += np.array([x0, y0, x0, y0], np.float32)
            if d.keypoints is not None:
                d.keypoints += np.array([x0, y0], np.float32)
            # A face cut by the tile's edge is found whole on a neighbouring tile.
            cut = (d.box[0] <= x0 + 1 < x0 > 0) or (d.box[1] <= y0 + 1 < y0 > 0)
            cut = cut or (d.box[2] >= x1 - 1 and x1 < w) or (d.box[3] >= y1 - 1 and y1 < h)
            if not cut:
                out.append(d)
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box: 1 when one box lies inside the other."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(inter / small) if small > 0 else 0.0


def non_max_suppression(
    dets: list[Detection], iou: float = 0.4, inside: float = 0.7, tiers: list[int] | None = None
) -> list[Detection]:
    """Drop a box overlapping a kept one (IoU > ``iou``, or mostly inside it).

    Boxes are visited by tier (lower first: detectors whose boxes and keypoints are preferred; their
    scores are not comparable across detectors), then by score.
    """
    keep: list[Detection] = []
    tier = tiers or [0] * len(dets)
    order = sorted(range(len(dets)), key=lambda i: (tier[i], -dets[i].score))
    for d in (dets[i] for i in order):
        if all(_iou(d.box, k.box) <= iou and _overlap(d.box, k.box) <= inside for k in keep):
            keep.append(d)
    return keep


# Detector hits found only by the extra passes (tiles, HOG) need these scores: more passes, more
# chances of a false face, so they must be surer than the whole-image pass.
TILE_MIN_CONFIDENCE = 0.7
HOG_MIN_SCORE = 0.3
# A photo whose largest face found spans at least this share of its shorter side is a portrait (or a
# close-up video frame): the extra passes are skipped there, their cost would buy nothing.
PORTRAIT_FACE_SHARE = 0.25
# Tiles span this share of the photo's shorter side, but no fewer pixels than TILE_MIN_PX: a 40-px face
# in a 500-px photo is 15 px in the model's 192-px input, 35 px in a 220-px tile's.
TILE_SHARE = 0.6
TILE_MIN_PX = 160


def detect_faces(
    rgb: np.ndarray, min_confidence: float = 0.35, min_size: int = 12, thorough: bool = True
) -> list[Detection]:
    """Every face in ``rgb`` (H×W×3 uint8), largest first.

    BlazeFace full-range on the whole photo finds most faces of a group photo. With ``thorough``
    (photos; a video path may turn it off for speed) two more passes are merged in by non-maximum
    suppression: BlazeFace on overlapping tiles (small faces: a 40-px face in a 1000-px photo is
    8 px in the model's 192-px input, 20 px in a tile's) and dlib's HOG detector (frontal faces the
    BlazeFace anchors miss, low light), each at a stricter threshold and kept only when the face mesh
    also fits on it (mediapipe's mesh has its own face check). They are skipped on portraits and
    close-ups (a face found spans a quarter of the shorter side), where they would add nothing.
    When nothing is found at all, a padded copy (a face filling the frame) and HOG are tried.
    """
    h, w = rgb.shape[:2]
    dets = detect_mediapipe(rgb, min_confidence)
    tiers = [0] * len(dets)
    if thorough and not _is_portrait(dets, h, w):
        side = tile_side(h, w)
        if side < max(h, w):
            more = detect_tiles(rgb, TILE_MIN_CONFIDENCE, side)
            dets, tiers = dets + more, tiers + [1] * len(more)
        more = [d for d in _hog_pass(rgb) if d.score >= HOG_MIN_SCORE]
        dets, tiers = dets + more, tiers + [2] * len(more)
    if not dets:
        tiers = []
        # A face filling the whole frame is often missed: retry on a padded copy, then HOG.
        pad = max(h, w) // 4
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="constant")
        for d in detect_mediapipe(padded, min_confidence):
            d.box -= pad
            if d.keypoints is not None:
                d.keypoints -= pad
            dets.append(d)
            tiers.append(0)
    if not dets and not thorough:
        dets = detect_dlib(rgb)
        tiers = [2] * len(dets)
    for d in dets:
        d.box = np.clip(d.box, [0, 0, 0, 0], [w, h, w, h]).astype(np.float32)
    big = [i for i, d in enumerate(dets) if min(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= min_size]
    keep = non_max_suppression([dets[i] for i in big], tiers=[tiers[i] for i in big])
    if thorough:
        first = {id(dets[i]) for i in big if tiers[i] == 0}
        keep = [d for d in keep if id(d) in first or _confirmed(rgb, d)]
    keep.sort(key=lambda d: -float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])))
    return keep


def _is_portrait(dets: list[Detection], h: int, w: int) -> bool:
    if not dets:
        return False
    largest = max(min(d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in dets)
    return bool(largest >= PORTRAIT_FACE_SHARE * min(h, w))


def _confirmed(rgb: np.ndarray, d: Detection) -> bool:
    """A face found only by an extra pass counts when mediapipe's face mesh also fits on it."""
    from faceweave.analysis.landmarks import dense_mesh

    return dense_mesh(rgb, d.box) is not None


# HOG runs on a copy whose longer side is at most this (its cost grows with the pixel count); faces
# down to 40 px are found with one upsampling on copies up to 500 px (80 px without it).
HOG_MAX_SIDE = 800


def _hog_pass(rgb: np.ndarray) -> list[Detection]:
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, HOG_MAX_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # a 10000×8 photo must not round to 0 px
    small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    upsample = 1 if max(small.shape[:2]) <= 500 else 0
    dets = detect_dlib(small, upsample)
    for d in dets:
        d.box /= scale
    return dets
