"""Crop templates: where a face sits in each model's input frame, all in one place.

A template is a canonical image size and the five points (eye centres, image-left first; nose tip;
mouth corners) a face is aligned to by a similarity transform
(:func:`faceweave.analysis.align.align_matrix`). Models that crop further inside an aligned image
name their boxes here too, so inference and the dataset builder cut the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CropTemplate:
    """A canonical crop: its size (width, height) and its five reference points in that frame."""

    name: str
    size: tuple[int, int]
    points: np.ndarray  # 5×2 float64: eye centres (image-left first), nose tip, mouth corners


# CelebA's aligned images (img_align_celeba, 178×218): the averages of list_landmarks_align_celeba.txt.
CELEBA_SIZE = (178, 218)  # (width, height)
CELEBA_5PT = np.array(
    [[69.0, 111.0], [107.0, 111.0], [88.0, 134.5], [72.0, 152.5], [105.0, 152.5]], np.float64
)
CELEBA = CropTemplate("celeba", CELEBA_SIZE, CELEBA_5PT)

# ArcFace / InsightFace's 112×112 recognition crop (the widely used five reference points).
ARCFACE_SIZE = (112, 112)
ARCFACE_5PT = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float64,
)
ARCFACE_112 = CropTemplate("arcface-112", ARCFACE_SIZE, ARCFACE_5PT)

TEMPLATES: dict[str, CropTemplate] = {t.name: t for t in (CELEBA, ARCFACE_112)}

# RSGAN (Natsume et al. 2018, Sec. 3.2, Fig. 3), boxes on the CelebA template as (x, y, width, height).
# The paper's "(30, 70)" and "(0, 20)" are read as (x, y) top-left corners: read as (row, col) the
# face box would run to column 188, past the 178-px width, so (x, y) is the only reading that fits.
RSGAN_FACE_BOX = (30, 70, 118, 118)  # the face-region image x_f
RSGAN_HAIR_BOX = (0, 20, 178, 178)  # the hair-region image x_h, and the frame of x the model sees
RSGAN_MASK_STRETCH = (1.3, 1.4)  # the face mask's hull, stretched horizontally and vertically
