"""Face tracking for video and live frames: detect on key frames, follow each face's mesh in between.

Full analysis of a frame (BlazeFace detection, then FaceMesh — which runs its own detector — on a
crop) costs several times what following a known face does. Between key frames the tracker
refits each face's 478-point mesh with mediapipe's landmark network alone, on a rotated square
region derived from the previous frame's mesh (the way mediapipe's own tracking mode chains frames):
about 5 ms a face at 360p. Detection runs every ``detect_every`` frames (to pick up faces that
enter), whenever a track is lost (the network's face-presence score fell below 0.5, or the mesh
jumped in size or position), and after a scene cut (the whole picture changed at once: tracks reset).
With ``identity`` each track's embedding is computed when it starts and again on every key frame.

Each face keeps a track id for as long as it is followed, so a choice made on one frame (face N,
the faces matching a reference photo) can follow the same person through the clip.

The mesh handed to engines is smoothed with a One-Euro filter (Casiez, Roussel & Vogel, CHI 2012):
a low-pass filter whose cutoff rises with speed, so a still face does not shimmer and a fast one
does not lag. Each vertex gets its own cutoff (a blink moves the eyelids, not the head). The region
for the next frame is taken from the unsmoothed mesh, so tracking itself never lags. Masks are
drawn from the mesh, so they are smoothed with it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceweave.analysis import _mediapipe as mpq
from faceweave.analysis.detect import _iou, detect_faces
from faceweave.analysis.face import Face
from faceweave.analysis.landmarks import dense_mesh, landmarks_68

log = logging.getLogger(__name__)

MESH_EYE_RIGHT, MESH_EYE_LEFT = 33, 263  # the outer eye corners mediapipe orients its region by


class TrackedFace(Face):
    """A :class:`Face` that also carries the id of its track (stable across frames).

    Its 68 landmarks (dlib, on the face box, exactly as :func:`faceweave.analysis.analyze` computes
    them) are fitted only when first read: the mesh engines never read them, so video pays for them
    only with the engines that use them.
    """

    def __init__(self, *args: object, track_id: int = -1, frame: np.ndarray | None = None, **kw: object) -> None:
        self._landmarks: np.ndarray | None = None
        self._frame = frame
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.track_id = track_id

    @property  # type: ignore[override]
    def landmarks(self) -> np.ndarray:
        if self._landmarks is None:
            assert self._frame is not None, "a tracked face needs its frame or its landmarks"
            self._landmarks = landmarks_68(self._frame, self.box)
            self._frame = None
        return self._landmarks

    @landmarks.setter
    def landmarks(self, value: np.ndarray | None) -> None:
        self._landmarks = value


@dataclass
class Roi:
    """A rotated square region in pixels: centre, side, rotation (radians, mediapipe's convention)."""

    cx: float
    cy: float
    size: float
    angle: float


def roi_from_mesh(mesh: np.ndarray, scale: float = 1.5) -> Roi:
    """The landmark network's input region for the next frame: the mesh's box ×``scale``, squared,
    turned so the eyes are level (as mediapipe's FaceLandmarkLandmarksToRoi does)."""
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    c = (lo + hi) / 2
    x0, y0 = mesh[MESH_EYE_RIGHT, :2]
    x1, y1 = mesh[MESH_EYE_LEFT, :2]
    angle = -math.atan2(-(float(y1) - float(y0)), float(x1) - float(x0))
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Roi(float(c[0]), float(c[1]), float(max(hi - lo)) * scale, angle)


def mesh_in_roi(rgb: np.ndarray, roi: Roi) -> np.ndarray | None:
    """mediapipe's 478-point mesh (x, y, z in pixels) of the face in ``roi``; None when no face is there.

    Only the square around the (rotated) region is handed to mediapipe, so the cost of the image copy
    into its graph follows the face, not the frame.
    """
    h, w = rgb.shape[:2]
    half = roi.size * 0.75  # ≥ half the diagonal of the rotated square (size·√2/2)
    x0, y0 = max(int(roi.cx - half), 0), max(int(roi.cy - half), 0)
    x1, y1 = min(int(roi.cx + half) + 1, w), min(int(roi.cy + half) + 1, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    cw, ch = x1 - x0, y1 - y0
    rect = mpq.normalized_rect((roi.cx - x0) / cw, (roi.cy - y0) / ch, roi.size / cw, roi.size / ch, roi.angle)
    res = mpq.run(mpq.face_mesh_roi(), {"image": crop, "roi": rect})
    lm = res.face_landmarks
    if lm is None or not len(lm.landmark):
        return None
    pts = np.array([[p.x * cw, p.y * ch, p.z * cw] for p in lm.landmark], np.float32)
    pts[:, 0] += x0
    pts[:, 1] += y0
    return pts


def mesh_size(mesh: np.ndarray) -> float:
    return float(np.max(mesh[:, :2].max(0) - mesh[:, :2].min(0)))


@dataclass
class OneEuroFilter:
    """One-Euro filter over arrays (Casiez et al. 2012), one cutoff per row (vertex).

    Speeds are measured in ``scale`` units per second (the face size), so the same parameters suit
    small and large faces. ``min_cutoff`` (Hz) sets the smoothing of a still point, ``beta`` how fast
    the cutoff rises with speed, ``d_cutoff`` (Hz) the smoothing of the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 15.0
    d_cutoff: float = 1.0
    x_prev: np.ndarray | None = None
    dx_prev: np.ndarray | None = None

    @staticmethod
    def alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, dt: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x_prev is None or self.x_prev.shape != x.shape:
            self.x_prev, self.dx_prev = x.copy(), np.zeros(x.shape[0])
            return x.astype(np.float32)
        assert self.dx_prev is not None
        speed = np.linalg.norm(x - self.x_prev, axis=1) / dt / max(scale, 1e-6)
        a_d = self.alpha(self.d_cutoff, dt)
        dx = a_d * speed + (1 - a_d) * self.dx_prev
        a = np.asarray(self.alpha(self.min_cutoff + self.beta * dx, dt))[:, None]
        x_hat = a * x + (1 - a) * self.x_prev
        self.x_prev, self.dx_prev = x_hat, dx
        return x_hat.astype(np.float32)


def _identity512(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 512-D identity embedding that ``--reference`` matching uses (see faceweave.api)."""
    from faceweave.nets.infer import identity_embeddings  # torch: only when identities are followed

    return identity_embeddings(rgb, landmarks[None])[0]


@dataclass
class _Track:
    id: int
    raw_mesh: np.ndarray  # the last unsmoothed mesh (where to look next)
    box_in_mesh: np.ndarray  # the detector box relative to the mesh's bounding box (keeps boxes detector-like)
    score: float
    embedding: np.ndarray | None = None  # the 512-D identity (faceweave.nets identity512), as --reference uses
    filter: OneEuroFilter = field(default_factory=OneEuroFilter)
    age: int = 0


class FaceTracker:
    """Faces of consecutive frames, with stable track ids (see the module docstring).

    ``update(rgb)`` returns the faces of the frame, largest first, as :class:`TrackedFace` records
    with the same fields :func:`faceweave.analysis.analyze` fills (box, 68 landmarks, smoothed mesh,
    identity embedding when ``identity`` is set — computed once per track, when it starts).
    """

    def __init__(
        self,
        *,
        mesh: bool = True,
        identity: bool = False,
        detect_every: int = 12,
        fps: float = 30.0,
        smooth: bool = True,
        max_faces: int | None = None,
    ) -> None:
        self.mesh = mesh
        self.identity = identity
        self.detect_every = max(int(detect_every), 1)
        self.dt = 1.0 / (fps if fps and fps > 0 else 30.0)
        self.smooth = smooth
        self.max_faces = max_faces
        self.tracks: list[_Track] = []
        self._untracked: list[TrackedFace] = []
        self._thumb: np.ndarray | None = None
        self.frame = 0
        self._next_id = 0
        self.detections = 0  # how many frames ran the detector (for benchmarks and tests)

    # -- one frame
    def update(self, rgb: np.ndarray) -> list[TrackedFace]:
        self._untracked: list[TrackedFace] = []
        if self._scene_cut(rgb):
            log.debug("scene cut at frame %d: tracks reset", self.frame)
            self.tracks = []
        lost = self._follow(rgb)
        key = self.frame % self.detect_every == 0
        if lost or not self.tracks or key:
            self._detect(rgb)
        if key and self.identity:
            for t in self.tracks:  # who is in a track is re-checked on key frames, not only at its start
                box = _detector_box(t, t.raw_mesh)
                t.embedding = _identity512(rgb, landmarks_68(rgb, box))
        self.frame += 1
        return self._faces(rgb)

    def _scene_cut(self, rgb: np.ndarray, threshold: float = 45.0) -> bool:
        """A cut to another shot (the whole picture changed at once): start over with detection."""
        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 18), interpolation=cv2.INTER_AREA)
        prev, self._thumb = self._thumb, thumb.astype(np.int16)
        return prev is not None and float(np.abs(self._thumb - prev).mean()) > threshold

    def _follow(self, rgb: np.ndarray) -> bool:
        """Refit every track's mesh from its last region; drop the ones that are lost."""
        kept: list[_Track] = []
        lost = False
        for t in self.tracks:
            m = mesh_in_roi(rgb, roi_from_mesh(t.raw_mesh))
            if m is None or not self._plausible(t.raw_mesh, m, rgb.shape[:2]):
                log.debug("track %d lost at frame %d", t.id, self.frame)
                lost = True
                continue
            t.raw_mesh = m
            t.age += 1
            kept.append(t)
        # Two tracks that slid onto one face: keep the older.
        kept.sort(key=lambda t: t.id)
        uniq: list[_Track] = []
        for t in kept:
            if all(_iou(_mesh_box(t.raw_mesh), _mesh_box(u.raw_mesh)) < 0.5 for u in uniq):
                uniq.append(t)
        self.tracks = uniq
        return lost

    @staticmethod
    def _plausible(prev: np.ndarray, cur: np.ndarray, shape: tuple[int, int]) -> bool:
        s0, s1 = mesh_size(prev), mesh_size(cur)
        if not 0.7 < s1 / max(s0, 1e-6) < 1.4:
            return False
        c0, c1 = prev[:, :2].mean(0), cur[:, :2].mean(0)
        if float(np.hypot(*(c1 - c0))) > 0.5 * s0:
            return False
        cx, cy = c1
        return 0 <= cx < shape[1] and 0 <= cy < shape[0]

    def _detect(self, rgb: np.ndarray) -> None:
        """Start a track for each detected face that no current track covers.

        A face whose mesh cannot be fitted cannot be followed; it is still reported for this frame
        (with ``mesh`` None, as :func:`faceweave.analysis.analyze` would) and looked for again next frame.
        """
        self.detections += 1
        for det in detect_faces(rgb):
            if self.max_faces is not None and len(self.tracks) + len(self._untracked) >= self.max_faces:
                break
            if any(_iou(det.box, _mesh_box(t.raw_mesh)) > 0.3 for t in self.tracks):
                continue
            lm = landmarks_68(rgb, det.box)
            emb = _identity512(rgb, lm) if self.identity else None
            m = dense_mesh(rgb, det.box)
            if m is None:
                self._untracked.append(TrackedFace(index=0, box=det.box, score=det.score, landmarks=lm,
                                                   keypoints=det.keypoints, embedding512=emb))
                continue
            lo, size = m[:, :2].min(0), max(mesh_size(m), 1e-6)
            t = _Track(id=self._next_id, raw_mesh=m.astype(np.float32),
                       box_in_mesh=((det.box.reshape(2, 2) - lo) / size).reshape(4), score=det.score, embedding=emb)
            self._next_id += 1
            self.tracks.append(t)
            log.debug("track %d started at frame %d", t.id, self.frame)

    def _faces(self, rgb: np.ndarray) -> list[TrackedFace]:
        h, w = rgb.shape[:2]
        out: list[TrackedFace] = []
        for t in self.tracks:
            size = mesh_size(t.raw_mesh)
            mesh = t.filter(t.raw_mesh, self.dt, size) if self.smooth else t.raw_mesh.copy()
            box = np.clip(_detector_box(t, mesh), 0, [w, h, w, h]).astype(np.float32)
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            out.append(TrackedFace(
                index=0, box=box, score=t.score, landmarks=None, frame=rgb,
                mesh=mesh if self.mesh else None, embedding512=t.embedding, track_id=t.id,
            ))
        out.extend(self._untracked)
        out.sort(key=lambda f: -f.area)
        for i, f in enumerate(out):
            f.index = i
        return out


def _detector_box(t: _Track, mesh: np.ndarray) -> np.ndarray:
    """The box the detector would give for the face whose mesh is ``mesh`` (kept relative to the mesh)."""
    lo = mesh[:, :2].min(0)
    return (t.box_in_mesh.reshape(2, 2) * mesh_size(mesh) + lo).reshape(4).astype(np.float32)


def _mesh_box(mesh: np.ndarray) -> np.ndarray:
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    return np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)
