"""RSGAN's frame on a photo: alignment to the CelebA template, the hair-crop frame, region masks.

The hair-crop frame is the 178×178 box at (0, 20) of the aligned 178×218 image
(:data:`faceweave.analysis.template.RSGAN_HAIR_BOX`), resized to the model's ``image_size``, exactly
as the training set was built (:mod:`faceweave.data.sample`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from faceweave.analysis.align import align_face, transform_points
from faceweave.analysis.face import Face
from faceweave.analysis.masks import person_mask, rsgan_face_mask
from faceweave.analysis.template import CELEBA_SIZE as TEMPLATE_SIZE
from faceweave.analysis.template import RSGAN_HAIR_BOX as HAIR_BOX
from faceweave.analysis.template import RSGAN_MASK_STRETCH as STRETCH
from faceweave.choices import REGIONS, check_choice


@dataclass
class AlignedFace:
    """One face of a photo in the model's frame (see the module docstring)."""

    crop: np.ndarray  # S×S×3 uint8: the model's input x
    matrix: np.ndarray  # 2×3 float64, photo pixels → crop pixels
    face_mask: np.ndarray  # S×S float32 0/1: RSGAN face mask in the crop frame
    landmarks: np.ndarray  # 68×2 in the crop frame
    aligned: np.ndarray = field(repr=False)  # the 218×178 CelebA-template image (for the person mask)
    photo_shape: tuple[int, int] = (0, 0)  # (H, W) of the photo
    _person: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    def person(self) -> np.ndarray:
        """Person mask (S×S float32 0/1) in the crop frame, computed once (mediapipe selfie segmentation)."""
        if self._person is None:
            pm = person_mask(self.aligned, threshold=None)
            hx, hy, hw, hh = HAIR_BOX
            pm = cv2.resize(pm[hy : hy + hh, hx : hx + hw], (self.size, self.size), interpolation=cv2.INTER_AREA)
            self._person = (pm >= 0.5).astype(np.float32)
        return self._person


def frame_matrix(size: int) -> np.ndarray:
    """2×3 matrix: CelebA template pixels → the hair-crop frame resized to ``size`` (pixel centres kept)."""
    x0, y0, w, _ = HAIR_BOX
    s = size / w
    return np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 matrix of ``outer ∘ inner``."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]])
    return a[:2]


def prepare(rgb: np.ndarray, face: Face, size: int) -> AlignedFace:
    """Align ``face`` of ``rgb`` to the model's frame, as the dataset builder does for training samples."""
    aligned, m = align_face(rgb, face.landmarks, TEMPLATE_SIZE)
    hx, hy, hw, hh = HAIR_BOX
    region = aligned[hy : hy + hh, hx : hx + hw]
    interp = cv2.INTER_AREA if size < hw else cv2.INTER_LINEAR
    crop = np.ascontiguousarray(cv2.resize(region, (size, size), interpolation=interp))
    full = compose_affine(frame_matrix(size), m)
    lm = transform_points(face.landmarks, full)
    mask = rsgan_face_mask((size, size), lm, *STRETCH)
    return AlignedFace(crop=crop, matrix=full, face_mask=mask, landmarks=lm, aligned=aligned,
                       photo_shape=(int(rgb.shape[0]), int(rgb.shape[1])))


def edge_fade(size: int, width: float = 0.06) -> np.ndarray:
    """S×S ramp: 0 on the frame border, 1 from ``width``·S inwards."""
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    r = np.clip(d / max(width * size, 1.0), 0.0, 1.0)
    return np.minimum(r[:, None], r[None, :])


def _disk(radius: int) -> np.ndarray:
    r = max(int(radius), 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def region_mask(aligned: AlignedFace, region: str) -> np.ndarray:
    """Where a result may change the photo (S×S float32 in [0, 1], hard-edged; feathered by :func:`paste_back`)."""
    s = aligned.size
    face = aligned.face_mask
    if region == "face":
        m = face
    elif region in ("hair", "both"):
        head = cv2.dilate(aligned.person(), _disk(round(0.06 * s)))
        m = np.maximum(head, face) if region == "both" else head * (1.0 - cv2.erode(face, _disk(round(0.02 * s))))
    else:
        check_choice("region", region, REGIONS)
    return (m * edge_fade(s)).astype(np.float32)


def crop_region_masks(aligned: AlignedFace, margin: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """(face, rest) boolean masks of the crop for measuring: the face mask eroded, and all outside it dilated.

    A small margin on both sides of the mask edge is left out so the measure does not depend on how
    sharply the generator draws the boundary.
    """
    k = _disk(round(margin * aligned.size))
    face = cv2.erode(aligned.face_mask, k) > 0.5
    rest = cv2.dilate(aligned.face_mask, k) < 0.5
    return face, rest
