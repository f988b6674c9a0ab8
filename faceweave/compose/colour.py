"""Colour transfer in a perceptual space (CIE L*a*b*), estimated on skin pixels only."""

from __future__ import annotations

import cv2
import numpy as np


def lab_stats(rgb: np.ndarray, mask: np.ndarray, lab: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of L*a*b* over the pixels where ``mask`` > 0.5.

    ``lab`` may pass the 8-bit L*a*b* image when the caller has it already.
    """
    if lab is None:
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    sel = (mask > 0.5).astype(np.uint8)
    if cv2.countNonZero(sel) < 16:
        sel = None
    mean, std = cv2.meanStdDev(lab, mask=sel)  # one pass, float64 (video frames pay for every copy)
    return mean.reshape(3).astype(np.float32), std.reshape(3).astype(np.float32) + 1e-3


def transfer_colour(
    src: np.ndarray,
    src_mask: np.ndarray,
    ref: np.ndarray,
    ref_mask: np.ndarray,
    strength: float = 1.0,
    max_gain: float = 2.5,
    lightness_contrast: float = 1.0,
) -> np.ndarray:
    """Shift ``src``'s L*a*b* statistics over ``src_mask`` to those of ``ref`` over ``ref_mask``.

    Reinhard-style mean/std matching, done in L*a*b* (OpenCV's 8-bit encoding) so lightness and
    chroma are corrected separately; the gain is clamped so a grayscale source (zero chroma spread)
    does not explode. ``lightness_contrast`` < 1 keeps part of the source's own lightness contrast
    (its shading: wrinkles, creases, the modelling of the nose) — the L* gain is raised to that
    power, so 0 matches only the mean lightness and 1 also its spread. Returns the whole of ``src``
    recoloured (uint8).
    """
    lab8 = cv2.cvtColor(src, cv2.COLOR_RGB2LAB)
    ms, ss = lab_stats(src, src_mask, lab8)
    mr, sr = lab_stats(ref, ref_mask)
    gain = np.clip(sr / ss, 1.0 / max_gain, max_gain)
    gain[0] = gain[0] ** lightness_contrast
    # lab + strength·((lab − ms)·gain + mr − lab) is affine per channel: one saturating, rounding pass.
    scale = 1.0 - strength + strength * gain
    offset = strength * (mr - ms * gain)
    m = np.zeros((3, 4), np.float32)
    m[[0, 1, 2], [0, 1, 2]] = scale
    m[:, 3] = offset
    return cv2.cvtColor(cv2.transform(lab8, m), cv2.COLOR_LAB2RGB)
