"""Face analysis: detection, 68 landmarks, dense mesh, identity embedding, masks, alignment.

``analyze(image)`` returns every face of a photo as :class:`Face` records, largest first. Large
photos are analysed on a downscaled copy and the results mapped back to full resolution.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from faceweave.analysis.detect import detect_faces
from faceweave.analysis.face import Face
from faceweave.analysis.identity import embedding, identity_distance
from faceweave.analysis.landmarks import dense_mesh, landmarks_68

__all__ = ["Face", "analyze", "identity_distance"]

log = logging.getLogger(__name__)

ANALYSIS_MAX_SIDE = 2048


def analyze(
    rgb: np.ndarray,
    *,
    mesh: bool = True,
    identity: bool = True,
    max_faces: int | None = None,
    max_side: int = ANALYSIS_MAX_SIDE,
    thorough: bool = True,
) -> list[Face]:
    """Every face in an H×W×3 uint8 RGB image, largest first, in full-resolution coordinates.

    ``thorough`` adds the slower detection passes (tiles, HOG; :func:`detect_faces`) that find small,
    dim and turned faces; a video path that re-detects every frame can turn it off.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # a 10000×8 photo must not round to 0 px
    small = rgb if scale == 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    faces: list[Face] = []
    small_landmarks: list[np.ndarray] = []
    for det in detect_faces(small, thorough=thorough):
        if max_faces is not None and len(faces) >= max_faces:
            break
        lm = landmarks_68(small, det.box)
        m = dense_mesh(small, det.box) if mesh else None
        emb = embedding(small, lm, det.box) if identity else None
        small_landmarks.append(lm)
        inv = 1.0 / scale
        faces.append(
            Face(
                index=len(faces),
                box=det.box * inv,
                score=det.score,
                landmarks=(lm * inv).astype(np.float32),
                keypoints=None if det.keypoints is None else det.keypoints * inv,
                mesh=None if m is None else (m * inv).astype(np.float32),
                embedding=emb,
            )
        )
    if identity and faces:
        from faceweave.nets.infer import identity_embeddings  # torch: imported only when embeddings are wanted

        for f, e in zip(faces, identity_embeddings(small, np.stack(small_landmarks)), strict=True):
            f.embedding512 = e
    log.debug("analyze: %d faces in %dx%d image", len(faces), w, h)
    return faces
