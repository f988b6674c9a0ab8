"""The per-frame swap shared by video files (:func:`faceweave.api.swap_video`) and ``faceweave live``.

A :class:`FrameSwapper` holds what is fixed for a whole clip — the engine, the source face (analysed
once), the options — and splits each frame's work in two:

* :meth:`FrameSwapper.analyse` (one frame after another): the :class:`~faceweave.analysis.track.FaceTracker`
  follows the faces, :class:`TargetFollower` decides which of them to replace and, for engines that
  keep what covers a face, the :class:`~faceweave.analysis.occlusion_track.OcclusionTracker` finds the
  hands in front of them (the hand model on some frames, the mask carried and smoothed between);
* :meth:`FrameSwapper.render` (safe to run for several frames at once): the engine puts the source face
  on each chosen face.

Every engine of the registry goes through it unchanged: an engine sees ordinary :class:`Face` records.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from faceweave.analysis.face import Face
from faceweave.analysis.identity import identity_distance
from faceweave.analysis.occlusion_track import OcclusionTracker
from faceweave.analysis.track import FaceTracker, TrackedFace
from faceweave.engines.base import Engine, SwapOptions
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

_THIRDS = np.full((1, 3), 1 / 3, np.float32)


@dataclass
class TargetFollower:
    """Which tracked faces to replace, decided once and then followed by track id.

    ``selection``: None (the largest face), an index (faces numbered largest first, as in a photo)
    or ``"all"``; ``reference``: a face with an identity embedding — every track whose embedding is
    within ``threshold`` of it is replaced, whatever its size or position. A chosen face is followed
    through the clip by its track id; when its track ends (the person left the frame, or tracking was
    lost) the choice is made again, by the same rule, on the next frame with faces.
    """

    selection: int | str | None = None
    reference: Face | None = None
    threshold: float = 1.2  # 2 − 2·cos on the 512-D identity net, as faceweave.api.REFERENCE_THRESHOLD
    chosen: set[int] = field(default_factory=set)

    def __call__(self, faces: list[TrackedFace]) -> list[TrackedFace]:
        if not faces:
            return []
        if self.reference is not None:
            assert self.reference.embedding512 is not None
            return [f for f in faces if f.embedding512 is not None
                    and identity_distance(self.reference.embedding512, f.embedding512) <= self.threshold]
        if self.selection == "all":
            return list(faces)
        present = [f for f in faces if f.track_id in self.chosen and f.track_id >= 0]
        if present:
            return present
        i = 0 if self.selection is None else int(self.selection)
        if not 0 <= i < len(faces):
            return []
        self.chosen = {faces[i].track_id}
        return [faces[i]]


@dataclass
class FrameSwapper:
    """Swap one source face into consecutive frames (see the module docstring)."""

    engine: Engine
    source: np.ndarray
    source_face: Face
    options: SwapOptions
    follower: TargetFollower
    tracker: FaceTracker
    frames: int = 0
    swapped: int = 0
    faces_seen: int = 0
    finish: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (before, after) → after, e.g. harmonize
    # (out, frame, faces) → out: the watermark, applied once a frame's faces are all swapped
    mark: Callable[[np.ndarray, np.ndarray, list[TrackedFace]], np.ndarray] | None = None
    # hands in front of the chosen faces, over time; None: the engine computes occlusion itself, if at all
    occlusion: OcclusionTracker | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # The options for a face with no hand near it: the engine must not look for one itself.
        self._no_occlusion = replace(self.options, extra={**self.options.extra, "occlusion": False})

    def analyse(self, rgb: np.ndarray, index: int = 0) -> list[TrackedFace]:
        faces = self.tracker.update(rgb)
        self.frames += 1
        self.faces_seen += bool(faces)
        chosen = self.follower(faces)
        if self.occlusion is not None:
            self.occlusion.update(rgb, chosen)
        return chosen

    def render(self, rgb: np.ndarray, chosen: list[TrackedFace], index: int = 0) -> np.ndarray:
        out = rgb
        for tf in chosen:
            try:
                opts = self.options
                if self.occlusion is not None and "occlusion" not in tf.masks:
                    opts = self._no_occlusion
                new = self.engine.swap_face(self.source, self.source_face, out, tf, opts)
                out = new if self.finish is None else self.finish(out, new)
            except FaceweaveError as e:
                log.info("frame %d: face %d not swapped (%s)", index, tf.index, e)
        if out is not rgb:
            with self._lock:
                self.swapped += 1
            if self.mark is not None:
                out = self.mark(out, rgb, chosen)
        return out

    def __call__(self, rgb: np.ndarray, index: int = 0) -> np.ndarray:
        return self.render(rgb, self.analyse(rgb, index), index)


def occlusion_tracker(engine: Engine, options: SwapOptions) -> OcclusionTracker | None:
    """The video path's occlusion tracker for engines that keep what covers a face (unless turned off)."""
    if not getattr(engine, "reads_occlusion", False) or not options.extra.get("occlusion", True):
        return None
    return OcclusionTracker()


def mark_tracked(out: np.ndarray, before: np.ndarray, chosen: list[TrackedFace], payload_id: int) -> np.ndarray:
    """The invisible watermark of a swapped video frame, laid out on the faces the tracker follows.

    ``verify`` reads the mark in the frame of the 68 landmarks a detector finds on the *output* (the
    swap moved eyes, nose and mouth), so the landmarks are fitted on ``out``, in each tracked face's
    box (kept detector-like by the tracker), instead of detecting the faces of every frame again.
    """
    from faceweave.media import provenance as pv

    lms = [landmarks_near(out, tf.box) for tf in chosen]
    return pv.mark_faces(out, before, lms, payload_id, lambda _rgb: [], passes=2)


def landmarks_near(rgb: np.ndarray, box: np.ndarray, pad: float = 0.5) -> np.ndarray:
    """dlib's 68 landmarks of the face in ``box``, fitted on a crop ``pad`` box sizes larger on each side.

    The same points as on the whole frame (the predictor reads pixels near its current shape only;
    integer offsets keep dlib's rounding of the box), without converting the whole frame for dlib.
    """
    import cv2

    from faceweave.analysis.landmarks import landmarks_68

    x0, y0, x1, y1 = (round(float(v)) for v in box)  # dlib's rectangle, rounded as landmarks_68 rounds it
    w, h = x1 - x0, y1 - y0
    cx0, cy0 = max(int(x0 - pad * w), 0), max(int(y0 - pad * h), 0)
    cx1, cy1 = min(int(x1 + pad * w) + 1, rgb.shape[1]), min(int(y1 + pad * h) + 1, rgb.shape[0])
    crop = rgb[cy0:cy1, cx0:cx1]
    if crop.ndim == 3 and crop.shape[2] == 3:
        # dlib reads an RGB pixel as ⌊(r + g + b) / 3⌋; handing it that grey image is a third faster (dlib
        # holds the GIL) and gives the same points (float32 then truncation: exact for every RGB triple)
        crop = cv2.transform(crop.astype(np.float32), _THIRDS).astype(np.uint8)
    crop = np.ascontiguousarray(crop)
    shifted = np.array([x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0], np.float64)  # integers: no re-rounding
    return landmarks_68(crop, shifted) + np.array([cx0, cy0], np.float32)


@contextlib.contextmanager
def frame_parallel(warm_watermark: bool = False, opencv_threads: int | None = None) -> Iterator[None]:
    """The setting of a clip's frames processed several at once (video files, ``faceweave live``).

    With ``warm_watermark``, the watermark's patterns (a QR factorisation, ~0.2 s) are computed in the
    background meanwhile (enter before the source photo is analysed: they are ready long before the first
    frame; were they not, a frame would compute them itself). ``opencv_threads`` sets OpenCV's own thread
    pool while it lasts (restored on exit); None leaves it: on an idle machine OpenCV's threads fill the
    core a render thread leaves while it waits for the GIL, on a busy one they only add waits.
    """
    import cv2

    warm = None
    if warm_watermark:
        from faceweave.media.provenance import watermark as wm

        warm = threading.Thread(target=lambda: (wm.patterns(), wm.pattern_gain()), name="faceweave-warm",
                                daemon=True)
        warm.start()
    n = cv2.getNumThreads()
    if opencv_threads is not None:
        cv2.setNumThreads(int(opencv_threads))
    try:
        yield
    finally:
        cv2.setNumThreads(n)
        if warm is not None:
            warm.join()
