"""Contact sheet of the dataset pipeline, laid out like RSGAN's Fig. 3 (a)–(f).

One row per sample: (a) the aligned 178×218 photo, (b) the background mask, (c) the 68 landmarks
(the 41 that define the face region in blue, the others in red), (d) the face mask with the face
(green) and hair (orange) clipping rectangles, (e) the face region image x_f, (f) the hair region
image x_h.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from faceweave.compose.sheet import make_sheet
from faceweave.data.inputs import BuildConfig, Item, process_item
from faceweave.data.sample import FACE_BOX, HAIR_BOX, STRETCH, TEMPLATE_SIZE

log = logging.getLogger(__name__)

LABELS = ("(a) input", "(b) M_BG", "(c) landmarks", "(d) face mask", "(e) x_f", "(f) x_h")
_GAP = 4


def _cell(img: np.ndarray) -> np.ndarray:
    """Fit an image into a 178×218 cell (centred, grey border)."""
    w, h = TEMPLATE_SIZE
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    s = min(w / img.shape[1], h / img.shape[0])
    if s != 1.0:
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=interp)
    out = np.full((h, w, 3), 96, np.uint8)
    y0, x0 = (h - img.shape[0]) // 2, (w - img.shape[1]) // 2
    out[y0 : y0 + img.shape[0], x0 : x0 + img.shape[1]] = img
    return out


def preview_row(
    aligned: np.ndarray, landmarks: np.ndarray, person: np.ndarray, sample: dict[str, np.ndarray]
) -> list[np.ndarray]:
    """The six panels (a)–(f) of one sample, each 178×218 RGB uint8."""
    from faceweave.analysis.masks import rsgan_face_mask

    lm = np.asarray(landmarks, np.float64)
    bg = ((1.0 - person) * 255).astype(np.uint8)
    marks = aligned.copy()
    for i, (x, y) in enumerate(lm):
        colour = (40, 90, 255) if i >= 27 else (230, 40, 40)
        cv2.circle(marks, (int(round(x)), int(round(y))), 2, colour, -1, lineType=cv2.LINE_AA)
    mask = rsgan_face_mask(aligned.shape[:2], lm, *STRETCH)
    d = (aligned * (0.35 + 0.65 * mask[..., None])).astype(np.uint8)
    for (x, y, w, h), colour in ((FACE_BOX, (60, 220, 60)), (HAIR_BOX, (255, 150, 30))):
        cv2.rectangle(d, (x, y), (x + w - 1, y + h - 1), colour, 1)
    return [_cell(aligned), _cell(bg), _cell(marks), _cell(d), _cell(sample["x_f"]), _cell(sample["x_h"])]


def contact_sheet(rows: Sequence[list[np.ndarray]]) -> np.ndarray:
    """Rows of equal-size panels on a white sheet, with the Fig. 3 column labels on top."""
    n = len(rows[0]) if rows else len(LABELS)
    return make_sheet([p for row in rows for p in row], columns=n, pad=_GAP, labels=LABELS[:n])


def write_preview(path: Path, items: Sequence[Item], cfg: BuildConfig, k: int) -> Path:
    """Rebuild the first ``k`` samples of ``items`` (without flips) and write their contact sheet."""
    from faceweave.media import write_image

    cfg = dataclasses.replace(cfg, flip=False)
    rows: list[list[np.ndarray]] = []
    for item in items:
        res = process_item(item, cfg, keep_preview=True)
        for s in res.samples:
            rows.append(preview_row(s["_aligned"], s["_landmarks"], s["_person"], s))
            if len(rows) >= k:
                break
        if len(rows) >= k:
            break
    if not rows:
        log.warning("preview: no sample could be built, %s not written", path)
        return path
    write_image(path, contact_sheet(rows), synthetic=False)
    log.info("preview of %d sample(s) written to %s", len(rows), path)
    return path
