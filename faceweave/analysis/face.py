"""The ``Face`` record: everything analysis knows about one detected face."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Face:
    """One detected face, in the pixel coordinates of the full-resolution image.

    ``landmarks`` are dlib's 68 points (iBUG 300-W order); ``mesh`` is mediapipe's 478-point mesh
    (x, y in pixels, z in pixels relative to the face centre, larger z = further from the camera);
    ``embedding`` is dlib's 128-D identity vector (the metric protocol of DESIGN.md §5);
    ``embedding512`` is the 512-D vector of the ArcFace-style net (``faceweave.nets`` ``identity512``,
    raw, compare by cosine), which separates people better on the sample photos and drives
    ``--reference`` matching. ``masks`` caches masks computed on demand.
    """

    index: int
    box: np.ndarray  # (4,) x0, y0, x1, y1
    score: float
    landmarks: np.ndarray  # (68, 2) float32
    keypoints: np.ndarray | None = None  # (6, 2) detector keypoints: eyes, nose, mouth, ears
    mesh: np.ndarray | None = None  # (478, 3) float32
    embedding: np.ndarray | None = None  # (128,) float32, dlib
    embedding512: np.ndarray | None = None  # (512,) float32, faceweave.nets identity512
    masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2

    def to_dict(self, with_mesh: bool = False) -> dict[str, object]:
        d: dict[str, object] = {
            "index": self.index,
            "box": [round(float(v), 1) for v in self.box],
            "score": round(self.score, 3),
            "landmarks": np.round(self.landmarks, 1).tolist(),
            "has_mesh": self.mesh is not None,
            "embedding": None if self.embedding is None else np.round(self.embedding, 5).tolist(),
            "embedding512": None if self.embedding512 is None else np.round(self.embedding512, 5).tolist(),
        }
        if with_mesh and self.mesh is not None:
            d["mesh"] = np.round(self.mesh, 1).tolist()
        return d
