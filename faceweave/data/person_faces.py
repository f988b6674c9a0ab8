"""Faces of one person (or of anyone) from a clip or a folder of photos, aligned to the person
engine's reference frame (:mod:`faceweave.models.person.frame`), for ``faceweave train person``.

Clip frames are deduplicated: a frame whose aligned face barely differs from the last kept one
(mean absolute difference of 32 px grey thumbnails below ``dedupe``, in 0–255 units) is skipped.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.models.person.frame import FRAME_SIZE, align_to_frame, frame_landmarks

log = logging.getLogger(__name__)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@dataclass
class FaceSample:
    """One aligned face."""

    crop: np.ndarray  # FRAME_SIZE×FRAME_SIZE×3 uint8
    landmarks: np.ndarray  # (68, 2) in units of the frame side
    mesh: np.ndarray | None  # (478, 3) in frame pixels (z scaled like x, y), or None
    source: str
    frame: int  # frame index in the clip (0 for a photo)


def _thumb(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _sample(rgb: np.ndarray, face: object, source: str, frame: int, size: int) -> FaceSample:
    crop, m = align_to_frame(rgb, face.landmarks, size)  # type: ignore[attr-defined]
    mesh = None
    if getattr(face, "mesh", None) is not None:
        s = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        xy = face.mesh[:, :2] @ m[:, :2].T + m[:, 2]  # type: ignore[attr-defined]
        mesh = np.concatenate([xy, face.mesh[:, 2:3] * s], 1).astype(np.float32)  # type: ignore[attr-defined]
    return FaceSample(crop, frame_landmarks(face.landmarks, m, size), mesh, source, frame)  # type: ignore[attr-defined]


def faces_from_photo(path: str | os.PathLike[str], *, all_faces: bool = False, mesh: bool = False,
                     size: int = FRAME_SIZE, min_side: float = 48.0) -> list[FaceSample]:
    """The largest face (or every face ≥ ``min_side`` px) of a photo."""
    from faceweave.analysis import analyze
    from faceweave.media.image import read_image

    rgb = read_image(path).rgb
    faces = [f for f in analyze(rgb, mesh=mesh, identity=False) if min(f.width, f.height) >= min_side]
    if not all_faces:
        faces = faces[:1]
    return [_sample(rgb, f, str(path), 0, size) for f in faces]


def faces_from_video(path: str | os.PathLike[str], *, every: int = 1, dedupe: float = 3.0, mesh: bool = False,
                     size: int = FRAME_SIZE, frames: range | None = None) -> list[FaceSample]:
    """The largest face of every ``every``-th frame (within ``frames`` when given), deduplicated."""
    from faceweave.analysis import analyze
    from faceweave.media.video import read_frames

    out: list[FaceSample] = []
    last: np.ndarray | None = None
    skipped = 0
    for i, rgb in enumerate(read_frames(path)):
        if frames is not None and i not in frames:
            if i >= frames.stop:
                break
            continue
        if i % every:
            continue
        faces = analyze(rgb, mesh=mesh, identity=False, max_faces=1)
        if not faces:
            continue
        s = _sample(rgb, faces[0], str(path), i, size)
        t = _thumb(s.crop)
        if last is not None and float(np.abs(t - last).mean()) < dedupe:
            skipped += 1
            continue
        last = t
        out.append(s)
    log.info("%s: %d faces kept, %d near-duplicate frames skipped", path, len(out), skipped)
    return out


def person_faces(photos: str | os.PathLike[str], *, every: int = 1, dedupe: float = 3.0, mesh: bool = False,
                 frames: range | None = None) -> list[FaceSample]:
    """A clip, a folder of photos (largest face of each), or one photo → aligned faces; error if none."""
    from faceweave.media.video import is_video

    p = Path(photos)
    if not p.exists():
        raise FaceweaveError(f"--photos {p}: no such file or folder")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES)
        out = [s for f in files for s in faces_from_photo(f, mesh=mesh)]
    elif is_video(p):
        out = faces_from_video(p, every=every, dedupe=dedupe, mesh=mesh, frames=frames)
    else:
        out = faces_from_photo(p, mesh=mesh)
    if not out:
        raise FaceweaveError(f"--photos {p}: no face found")
    return out


def content_faces(path: str | os.PathLike[str], *, every: int = 3, dedupe: float = 3.0) -> list[FaceSample]:
    """Faces of other people to transform during training: every face of each photo (of a folder), or a clip's."""
    from faceweave.media.video import is_video

    p = Path(path)
    if not p.exists():
        raise FaceweaveError(f"--content {p}: no such file or folder")
    if is_video(p):
        return faces_from_video(p, every=every, dedupe=dedupe)
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES) if p.is_dir() else [p]
    return [s for f in files for s in faces_from_photo(f, all_faces=True)]


# dlib 68-point index of each point's mirror image (iBUG 300-W layout)
MIRROR_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65]
)


def mirror_landmarks(frame_lms: np.ndarray) -> np.ndarray:
    """Landmarks (in frame-side units) of the left–right mirrored face."""
    p = np.asarray(frame_lms)[..., MIRROR_68, :].copy()
    p[..., 0] = 1.0 - p[..., 0]
    return p
