"""One RSGAN training sample from one aligned face (Natsume et al., RSGAN, Sec. 3.2 and Fig. 3).

Pure functions: an aligned 178×218 photo and its 68 landmarks in, the sample's arrays out; see
:mod:`faceweave.data.builder` for the whole pipeline and the output format.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from faceweave.analysis.template import CELEBA_SIZE as TEMPLATE_SIZE
from faceweave.analysis.template import RSGAN_FACE_BOX as FACE_BOX
from faceweave.analysis.template import RSGAN_HAIR_BOX as HAIR_BOX
from faceweave.analysis.template import RSGAN_MASK_STRETCH as STRETCH

__all__ = ["FACE_BOX", "HAIR_BOX", "SPLITS", "STRETCH", "TEMPLATE_SIZE", "build_sample", "flip_sample", "split_of"]

SPLITS = ("train", "val", "test")


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if size < min(img.shape[:2]) else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def _box_points(landmarks: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Landmarks (template pixels) in the pixel frame of ``box`` resized to ``size``×``size``."""
    x0, y0, w, h = box
    # pixel centres: template pixel i lands at (i + 0.5) · s − 0.5 after the resize
    s = np.array([size / w, size / h])
    return (np.asarray(landmarks, np.float64)[:, :2] - (x0, y0) + 0.5) * s - 0.5


def build_sample(
    aligned: np.ndarray,
    landmarks: np.ndarray,
    size: int = 128,
    person: np.ndarray | None = None,
    *,
    face_box: tuple[int, int, int, int] = FACE_BOX,
    hair_box: tuple[int, int, int, int] = HAIR_BOX,
    stretch: tuple[float, float] = STRETCH,
) -> dict[str, np.ndarray]:
    """Fig. 3 for one face: an aligned 178×218 RGB uint8 image and its 68 landmarks (in that image).

    ``person`` is the 218×178 person mask in [0, 1] (computed with mediapipe when omitted).
    Returns ``x``, ``x_f``, ``x_h`` (size×size×3 uint8), ``m_bg`` and ``m_face`` (size×size uint8,
    0/255, in the frame of ``x``).

    Readings of the paper taken here:

    - the masks are applied before the crops, and the pixels masked out are 0 (black), as in
      Fig. 3 (e), (f);
    - the face mask is rasterised directly at the output resolution of each crop (from the landmarks
      mapped into that crop), so ``x_h`` is exactly 0 inside ``m_face`` and ``x_f`` exactly 0 outside
      it, without resampling blur across the mask edge;
    - the hull is stretched about the centre of its bounding box (see ``rsgan_face_mask``);
    - the person mask is thresholded at 0.5 (PSPNet gives hard labels), and M_BG is set to 0 inside
      the face mask: the face is part of the person by definition, and a face pixel marked as
      background would get the lower reconstruction weight (1 − β·M_BG) in Eq. (1).
    """
    from faceweave.analysis.masks import person_mask, rsgan_face_mask

    w, h = TEMPLATE_SIZE
    if aligned.shape != (h, w, 3) or aligned.dtype != np.uint8:
        raise ValueError(f"build_sample expects a {h}×{w}×3 uint8 aligned image, got {aligned.dtype} {aligned.shape}")
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"build_sample expects 68×2 landmarks, got {lm.shape}")
    if person is None:
        person = person_mask(aligned, threshold=0.5)

    hx, hy, hw, hh = hair_box
    fx, fy, fw, fh = face_box
    x = _resize(aligned[hy : hy + hh, hx : hx + hw], size)
    face_crop = _resize(aligned[fy : fy + fh, fx : fx + fw], size)
    m_face = rsgan_face_mask((size, size), _box_points(lm, hair_box, size), *stretch)
    m_face_f = rsgan_face_mask((size, size), _box_points(lm, face_box, size), *stretch)
    x_h = x * (1 - m_face).astype(np.uint8)[..., None]
    x_f = face_crop * m_face_f.astype(np.uint8)[..., None]

    bg = 1.0 - np.asarray(person, np.float32)[hy : hy + hh, hx : hx + hw]
    bg = cv2.resize(bg, (size, size), interpolation=cv2.INTER_AREA) >= 0.5
    bg &= m_face < 0.5
    return {
        "x": np.ascontiguousarray(x),
        "x_f": np.ascontiguousarray(x_f),
        "x_h": np.ascontiguousarray(x_h),
        "m_bg": bg.astype(np.uint8) * 255,
        "m_face": (m_face > 0.5).astype(np.uint8) * 255,
    }


def flip_sample(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mirror a sample left–right.

    Both crops are centred on the template's vertical axis (30 + 118 = 178 − 30; 0 + 178 = 178), so
    mirroring the outputs equals building from the mirrored aligned photo.
    """
    out = {}
    for k, v in sample.items():
        out[k] = np.ascontiguousarray(v[:, ::-1]) if k != "c" and v.ndim >= 2 else v.copy()
    return out


def split_of(key: str) -> str:
    """Identity-free split by hashing: sha1(key) → 90 % train, 5 % val, 5 % test."""
    h = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if h < 90 else "val" if h < 95 else "test"
