"""Hands in front of faces over time: the hand model on some frames, its mask carried and smoothed between.

Per frame, the hand model of :mod:`faceweave.analysis.occlusion` (palm detector + 21 landmarks on a
crop about the face) costs more than following the face itself. In a video most frames have no hand
near the face, and a hand that is there moves smoothly, so :class:`OcclusionTracker` runs the model:

* on the first frame of each face track, then every ``every`` frames while no hand is near;
* as soon as something moves around the face that the face's own motion does not explain: the mean
  grey-level change, frame to frame, of the ring between the face box and the hand model's crop
  (on a small grey copy of the frame) over ``motion`` — a hand coming in is seen on the frame it enters;
* every ``present_every`` frames while a hand is near (or was, within the last ``every`` frames: the
  model misses a hand now and then); on the frames between, each hand's 21
  landmarks are extrapolated from its last two fits (constant velocity) and the mask covers both the
  last fit and the extrapolated one, so a moving hand is not uncovered for a frame.

The mask is smoothed over time without lagging behind the hand: each frame's mask is the current
hand mask, joined with the previous frame's mask at ``trail`` strength (a hand that moves away
fades over a frame or two instead of popping); when the model misses a hand it saw just before, the
previous mask is held for up to ``hold`` frames. The result is stored as ``face.masks["occlusion"]``,
which the warp engine uses as given; faces with no hand near get no mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from faceweave.analysis.face import Face
from faceweave.analysis.occlusion import HAND_GROW, face_crop_box, hand_landmarks

HAND_EVERY = 6  # frames between checks while no hand is near
HAND_EVERY_PRESENT = 2  # frames between fits while a hand is near
MOTION_TRIGGER = 5.0  # mean |Δ grey| in the ring around the face that calls the hand model at once
TRAIL = 0.5  # weight of the previous frame's mask
HOLD = 2  # frames a missed hand's mask is held
THUMB_WIDTH = 160  # width of the grey copy the motion is measured on
_ANGLES = np.linspace(0, 2 * np.pi, 24, endpoint=False)


@dataclass
class _Hands:
    """What is known about the hands near one tracked face."""

    last_run: int = -(10**9)
    hands: list[np.ndarray] = field(default_factory=list)  # landmarks at the last fit
    before: list[np.ndarray] = field(default_factory=list)  # … at the fit before (for the velocity)
    gap: int = 1  # frames between those two fits
    since_seen: int = 10**9  # frames since a hand was last found
    mask: np.ndarray | None = None  # the last frame's smoothed mask (H×W float32)


class OcclusionTracker:
    """Occlusion masks for the faces of consecutive frames (see the module docstring)."""

    def __init__(self, *, every: int = HAND_EVERY, present_every: int = HAND_EVERY_PRESENT,
                 motion: float = MOTION_TRIGGER, trail: float = TRAIL, hold: int = HOLD) -> None:
        self.every, self.present_every = max(int(every), 1), max(int(present_every), 1)
        self.motion, self.trail, self.hold = motion, trail, hold
        self.state: dict[int, _Hands] = {}
        self.frame = 0
        self.runs = 0  # how many times the hand model ran (for benchmarks and tests)
        self._thumb: np.ndarray | None = None

    def update(self, rgb: np.ndarray, faces: list[Face]) -> None:
        """Set ``face.masks["occlusion"]`` on each face of ``faces`` (the frame ``rgb``) with a hand near."""
        thumb, scale = self._grey(rgb)
        prev, self._thumb = self._thumb, thumb
        seen: dict[int, _Hands] = {}
        for face in faces:
            key = int(getattr(face, "track_id", -1))
            st = self.state.get(key, _Hands()) if key >= 0 else _Hands()
            seen[key] = st
            raw = self._raw_mask(rgb, face, st, prev, thumb, scale)
            mask = self._smooth(raw, st)
            if mask is not None:
                face.masks["occlusion"] = mask
        self.state = {k: v for k, v in seen.items() if k >= 0}
        self.frame += 1

    def _raw_mask(self, rgb: np.ndarray, face: Face, st: _Hands, prev: np.ndarray | None, thumb: np.ndarray,
                  scale: float) -> np.ndarray | None:
        since = self.frame - st.last_run
        near = bool(st.hands) or st.since_seen <= self.every  # a hand now, or a moment ago (the model can miss one)
        due = since >= (self.present_every if near else self.every)
        if due or (prev is not None and self._ring_motion(face, prev, thumb, scale, rgb.shape[:2]) > self.motion):
            hands = hand_landmarks(rgb, face)
            self.runs += 1
            if hands:
                st.before, st.gap, st.hands = st.hands, max(self.frame - st.last_run, 1), hands
                st.since_seen = 0
            else:
                st.before, st.hands = [], []
                st.since_seen += 1
            st.last_run = self.frame
            pts = hands
        else:
            st.since_seen = 0 if st.hands else st.since_seen + 1
            pts = st.hands + self._extrapolated(st, since)
        return self._hand_mask(rgb.shape[:2], pts) if pts else None

    @staticmethod
    def _extrapolated(st: _Hands, since: int) -> list[np.ndarray]:
        if not st.before or len(st.before) != len(st.hands):
            return []
        return [h + (h - b) * (since / st.gap) for h, b in zip(st.hands, st.before, strict=True)]

    @staticmethod
    def _hand_mask(shape: tuple[int, int], hands: list[np.ndarray]) -> np.ndarray:
        """The hands' mask: :func:`~faceweave.analysis.occlusion.hand_mask`'s region, drawn directly.

        A convex hull dilated by a disk is the hull of its corners' disks (a Minkowski sum), so one
        anti-aliased convex fill gives the grown hull without a large-kernel dilation of the frame.
        """
        out = np.zeros(shape, np.uint8)
        ring = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)
        for pts in hands:
            r = max(int(round(HAND_GROW * float(np.linalg.norm(pts[9] - pts[0])))), 1)
            grown = (pts[:, None, :] + r * ring[None]).reshape(-1, 2)
            hull = cv2.convexHull(np.round(grown * 16).astype(np.int32))
            one = np.zeros(shape, np.uint8)
            cv2.fillConvexPoly(one, hull, 255, lineType=cv2.LINE_AA, shift=4)
            np.maximum(out, one, out=out)
        return out.astype(np.float32) / 255.0

    def _smooth(self, raw: np.ndarray | None, st: _Hands) -> np.ndarray | None:
        prev = st.mask
        if raw is not None:
            mask = raw if prev is None or prev.shape != raw.shape else np.maximum(raw, self.trail * prev)
        elif prev is not None and st.since_seen <= self.hold:
            mask = prev  # the model missed a hand it saw a moment ago: hold its mask
        elif prev is not None and float(prev.max()) * self.trail > 0.1:
            mask = self.trail * prev  # a hand that left fades out
        else:
            mask = None
        st.mask = mask
        return mask

    @staticmethod
    def _grey(rgb: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = rgb.shape[:2]
        scale = min(THUMB_WIDTH / max(w, 1), 1.0)
        size = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.int16), scale

    @staticmethod
    def _ring_motion(face: Face, prev: np.ndarray, cur: np.ndarray, scale: float, shape: tuple[int, int]) -> float:
        """Mean |Δ grey| between the face box and the hand model's crop about it, on the small copies."""
        if prev.shape != cur.shape:
            return float("inf")
        x0, y0, x1, y1 = (int(round(v * scale)) for v in face_crop_box(face, shape))
        bx0, by0, bx1, by1 = (int(round(float(v) * scale)) for v in face.box)
        diff = np.abs(cur[y0:y1, x0:x1] - prev[y0:y1, x0:x1])
        keep = np.ones(diff.shape, bool)
        keep[max(by0 - y0, 0):max(by1 - y0, 0), max(bx0 - x0, 0):max(bx1 - x0, 0)] = False
        return float(diff[keep].mean()) if keep.any() else 0.0
