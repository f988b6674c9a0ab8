"""The AEI frame: the aligned square crop AEI-Net works on, built around ArcFace's 112×112 template.

FaceShifter feeds the identity net the box [19:237] of its 256-px crops, resized to 112. We build the
crop so that this box is *exactly* ArcFace's 5-point template (eye centres, nose tip, mouth corners on
the 112×112 grid): the identity net then sees a properly aligned face through one fixed, differentiable
crop-and-resize of the generator's output (:func:`faceweave.models.aei.identity.identity_crop`).
"""

from __future__ import annotations

import numpy as np

from faceweave.analysis.align import five_points, similarity_transform
from faceweave.analysis.template import ARCFACE_5PT as ARCFACE_112  # ArcFace's 5-point template on 112×112


def aei_template(size: int, id_crop: float = 218 / 256) -> np.ndarray:
    """The five template points in a ``size``×``size`` AEI crop whose central ``id_crop`` box is ArcFace's 112."""
    box = id_crop * size
    margin = (size - box) / 2
    return margin + ARCFACE_112 * (box / 112.0)


def aei_matrix(landmarks68: np.ndarray, size: int, id_crop: float = 218 / 256) -> np.ndarray:
    """2×3 similarity taking photo coordinates to the AEI crop (from dlib's 68 landmarks, or 5 points)."""
    pts = landmarks68 if len(landmarks68) == 5 else five_points(landmarks68)
    return similarity_transform(pts, aei_template(size, id_crop))
