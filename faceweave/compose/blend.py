"""Blending a new face into a photo: alpha feather, multiband (Laplacian pyramid), Poisson.

Each function takes the destination photo, the source pixels already aligned to it, and a mask
in [0, 1], and returns a new uint8 image; pixels where the mask is 0 are left exactly as they were.
"""

from __future__ import annotations

import cv2
import numpy as np


def _bbox(mask: np.ndarray, pad: int) -> tuple[int, int, int, int] | None:
    x, y, bw, bh = cv2.boundingRect((mask > 1e-3).view(np.uint8))  # the box of the mask's non-zero pixels
    if not bw:
        return None
    h, w = mask.shape
    return max(y - pad, 0), min(y + bh + pad, h), max(x - pad, 0), min(x + bw + pad, w)


def _restore_outside(dst: np.ndarray, out: np.ndarray, mask: np.ndarray,
                     box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Guarantee: pixels where the mask is 0 are the destination's, bit for bit.

    ``box`` (y0, y1, x0, x1): the only part of ``out`` that can differ from ``dst`` (the rest is a copy).
    """
    y0, y1, x0, x1 = box if box is not None else (0, mask.shape[0], 0, mask.shape[1])
    keep = (mask[y0:y1, x0:x1] <= 1e-3).view(np.uint8)
    o = out[y0:y1, x0:x1]
    o[...] = cv2.copyTo(np.ascontiguousarray(dst[y0:y1, x0:x1]), keep, np.ascontiguousarray(o))
    return out


def alpha_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = np.clip(mask, 0, 1)[..., None]
    out = dst.astype(np.float32) * (1 - m) + src.astype(np.float32) * m
    return _restore_outside(dst, np.clip(out + 0.5, 0, 255).astype(np.uint8), mask)


def multiband_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Burt–Adelson multi-resolution spline: Laplacian pyramids blended with a Gaussian mask pyramid.

    Works on the mask's bounding box only (plus a margin), so its cost follows the face size.
    """
    bb = _bbox(mask, pad=8)
    if bb is None:
        return dst.copy()
    y0, y1, x0, x1 = bb
    d8 = np.ascontiguousarray(dst[y0:y1, x0:x1])
    diff = cv2.subtract(np.ascontiguousarray(src[y0:y1, x0:x1]), d8, dtype=cv2.CV_32F)
    m = np.clip(mask[y0:y1, x0:x1], 0, 1).astype(np.float32)
    if levels is None:
        levels = int(np.clip(np.log2(max(min(m.shape), 2)) - 3, 1, 6))
    # Blending the two Laplacian pyramids, L(d)·(1 − G) + L(s)·G, equals d + L(s − d)·G collapsed
    # (the pyramid is linear and L(d) collapses back to d): one pyramid to build instead of two.
    gm = [m]
    lp = []
    cur = diff
    for _ in range(levels):
        nxt = cv2.pyrDown(cur)
        gm.append(cv2.pyrDown(gm[-1]))
        lap = cur  # in place: each level is used once
        lap -= cv2.pyrUp(nxt, dstsize=(cur.shape[1], cur.shape[0]))
        lp.append(lap)
        cur = nxt
    out = cur * gm[-1][..., None]
    for i in range(levels - 1, -1, -1):
        size = (lp[i].shape[1], lp[i].shape[0])
        lp[i] *= gm[i][..., None]
        out = cv2.pyrUp(out, dstsize=size)
        out += lp[i]
    res = dst.copy()
    res[y0:y1, x0:x1] = cv2.add(out, d8, dtype=cv2.CV_8U)  # d + blended difference, rounded and saturated
    return _restore_outside(dst, res, mask, bb)


def poisson_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Gradient-domain (Poisson) blending with OpenCV's seamlessClone.

    seamlessClone fails when the mask touches the image border (docs/design.md §6), so the work region is
    padded by reflection first; the binary clone region is then feathered back with the soft mask so
    nothing outside the mask changes.
    """
    bb = _bbox(mask, pad=4)
    if bb is None:
        return dst.copy()
    y0, y1, x0, x1 = bb
    pad = 16
    d = cv2.copyMakeBorder(dst[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_REFLECT101)
    s = cv2.copyMakeBorder(src[y0:y1, x0:x1], pad, pad, pad, pad, cv2.BORDER_REFLECT101)
    m = np.zeros(d.shape[:2], np.uint8)
    m[pad:-pad, pad:-pad] = (mask[y0:y1, x0:x1] > 0.05).astype(np.uint8) * 255
    if m.max() == 0:
        return dst.copy()
    # seamlessClone centres the mask's bounding box at `center`.
    ys, xs = np.nonzero(m)
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    cloned = cv2.seamlessClone(
        cv2.cvtColor(s, cv2.COLOR_RGB2BGR), cv2.cvtColor(d, cv2.COLOR_RGB2BGR), m, center, cv2.NORMAL_CLONE
    )
    cloned = cv2.cvtColor(cloned, cv2.COLOR_BGR2RGB)[pad:-pad, pad:-pad]
    full = dst.copy()
    full[y0:y1, x0:x1] = cloned
    return alpha_blend(dst, full, mask)


def blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, mode: str = "multiband") -> np.ndarray:
    if mode == "alpha":
        return alpha_blend(dst, src, mask)
    if mode == "multiband":
        return multiband_blend(dst, src, mask)
    if mode == "poisson":
        return poisson_blend(dst, src, mask)
    raise ValueError(f"unknown blend mode {mode!r}")
