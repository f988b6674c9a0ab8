"""The harmonizer compose step (seed 004): a learned U-Net that blends a face composite into its photo.

Any engine's output can go through it, since it needs only the photo before and after the face was
put in: the region the engine changed *is* the composite's face mask (every blend restores the
pixels outside its mask bit for bit). For one face:

1. :func:`composite_mask` — the changed pixels, closed and hole-filled, as a float mask;
2. :func:`crop_box` — a square around that mask (1.5× its larger side), the generator's view;
3. the crop (RGB + mask, ``size`` px) goes through :class:`~faceweave.models.harmonizer.UNetGenerator`;
   with, for weights that read it, whether the engine colour-transferred the face (the compose step
   knows: ``SwapOptions.colour_transfer``);
4. :func:`paste_delta` — only the change ŷ − x is resized back and added, inside the generator's gate
   (mask dilated by 6 % of the crop): outside it the photo is returned bit for bit.

The same functions build the training crops (:mod:`faceweave.data.harmonizer`), so the network sees
at inference what it saw in training.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch

from faceweave.errors import FaceweaveError
from faceweave.models.harmonizer import CONFIG_METADATA_KEY, HarmonizerConfig, UNetGenerator, mask_gate

log = logging.getLogger(__name__)

CROP_SCALE = 1.5  # crop side / larger side of the mask's bounding box
DEFAULT_WEIGHTS = "harmonizer-demo"  # model registry name of the shipped weights


def composite_mask(before: np.ndarray, after: np.ndarray, min_change: int = 1) -> np.ndarray:
    """Float32 [0, 1] mask of the region where ``after`` differs from ``before`` (holes filled).

    Pixels whose largest channel difference is ≥ ``min_change`` count as changed; the largest
    connected region is kept, closed (≈ 3 % of its size) and its holes filled, then feathered by
    1 % of its size so the generator's mask channel is smooth like a blend mask.
    """
    if before.shape != after.shape:
        raise FaceweaveError(f"before {before.shape} and after {after.shape} images differ in shape")
    c0, c1, c2 = cv2.split(cv2.absdiff(before, after))
    diff = (cv2.max(cv2.max(c0, c1), c2) >= min_change).view(np.uint8)
    out = np.zeros(diff.shape, np.float32)
    bx, by, bw, bh = cv2.boundingRect(diff)
    if bw == 0 or bh == 0:
        return out
    # work on the changed region's bounding box (plus room for closing and feathering) only
    pad = int(0.1 * max(bw, bh)) + 4
    y0, y1 = max(by - pad, 0), min(by + bh + pad, diff.shape[0])
    x0, x1 = max(bx - pad, 0), min(bx + bw + pad, diff.shape[1])
    m = diff[y0:y1, x0:x1].copy()
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (lab == big).astype(np.uint8)
    ys, xs = np.nonzero(m)
    size = max(int(xs.max() - xs.min()), int(ys.max() - ys.min()), 1)
    r = max(int(round(0.03 * size)), 1)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    sigma = max(0.01 * size, 0.5)
    out[y0:y1, x0:x1] = np.clip(cv2.GaussianBlur(filled.astype(np.float32), (0, 0), sigma), 0, 1)
    return out


def _changed_region(before: np.ndarray, after: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """(x0, y0, changed): the pixels where ``after`` differs from ``before`` (uint8 0/1) in their
    bounding box, whose top-left corner is (x0, y0); None when nothing changed.

    One full-image pass (the absolute difference; its box is the bounding rectangle of the non-zero
    bytes, channels side by side); the per-pixel test runs in the box only.
    """
    if before.shape != after.shape:
        raise FaceweaveError(f"before {before.shape} and after {after.shape} images differ in shape")
    h = before.shape[0]
    c = before.shape[2] if before.ndim == 3 else 1
    d = cv2.absdiff(before, after)
    x, y, bw, bh = cv2.boundingRect(d.reshape(h, -1))  # x in channel units
    if bw == 0 or bh == 0:
        return None
    x0, x1 = x // c, (x + bw - 1) // c + 1
    sub = d[y:y + bh, x0:x1]
    if c > 1:
        sub = cv2.max(cv2.max(sub[..., 0], sub[..., 1]), sub[..., 2]) if c == 3 else sub.max(2)
    return x0, y, (sub > 0).view(np.uint8)


def crop_mask(before: np.ndarray, after: np.ndarray, size: int) -> tuple[tuple[float, float, float], np.ndarray]:
    """(box, mask): the crop box and the composite's face mask in crop space (``size`` px, float32).

    What :func:`composite_mask` does at full resolution, done where it is cheap: the changed pixels'
    largest region is found in their bounding box (its box is the crop's: closing and hole filling
    stay inside a region's convex hull), then resampled to the crop, closed (≈ 3 % of the region),
    hole-filled and feathered (1 %) there. Raises :class:`FaceweaveError` when nothing changed.
    """
    found = _changed_region(before, after)
    if found is None:
        raise FaceweaveError("empty face mask: nothing to harmonize")
    x0, y0, diff = found
    _, lab, stats, _ = cv2.connectedComponentsWithStats(diff, connectivity=8)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    bx, by, bw, bh = (int(v) for v in stats[big, :4])
    box = crop_box_of(x0 + bx, y0 + by, bw, bh)
    region = (lab == big).astype(np.float32)
    sub_box = (box[0] - x0, box[1] - y0, box[2])  # the same crop in the sub-image's coordinates
    m = (crop(region, sub_box, size, border=cv2.BORDER_CONSTANT) > 0.5).view(np.uint8)
    side = max(bw, bh) * size / box[2]  # the region's larger side in crop pixels
    r = max(int(round(0.03 * side)), 1)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(m.shape, np.float32)
    cv2.drawContours(filled, contours, -1, 1.0, thickness=cv2.FILLED)
    return box, np.clip(cv2.GaussianBlur(filled, (0, 0), max(0.01 * side, 0.5)), 0, 1)


def crop_box_of(x: float, y: float, w: float, h: float, scale: float = CROP_SCALE) -> tuple[float, float, float]:
    """(cx, cy, side) of the square crop around the box (x, y, w, h): ``scale`` × its larger side."""
    side = scale * max(w, h, 8)
    return x + w / 2.0, y + h / 2.0, float(side)


def crop_box(mask: np.ndarray, scale: float = CROP_SCALE) -> tuple[float, float, float]:
    """(cx, cy, side) of the square crop around the mask's bounding box (may reach past the image)."""
    bx, by, bw, bh = cv2.boundingRect((mask > 0.01).view(np.uint8))
    if bw == 0 or bh == 0:
        raise FaceweaveError("empty face mask: nothing to harmonize")
    return crop_box_of(bx, by, bw, bh, scale)


def _affine(box: tuple[float, float, float], size: int) -> np.ndarray:
    cx, cy, side = box
    s = size / side
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float64)


def crop(image: np.ndarray, box: tuple[float, float, float], size: int,
         border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """The square ``box`` of ``image`` resampled to ``size``×``size`` (area-like when shrinking; edges replicated)."""
    a = _affine(box, size)
    shrink = size / box[2]
    if shrink >= 0.5:
        return cv2.warpAffine(image, a, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    # prefilter so the resampling does not alias — on the box's neighbourhood only
    sigma = 0.5 / shrink
    cx, cy, side = box
    pad = int(3 * sigma) + 2
    h, w = image.shape[:2]
    x0, y0 = max(int(cx - side / 2) - pad, 0), max(int(cy - side / 2) - pad, 0)
    x1, y1 = min(int(cx + side / 2) + pad + 1, w), min(int(cy + side / 2) + pad + 1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, w, h
    sub = cv2.GaussianBlur(image[y0:y1, x0:x1], (0, 0), sigma)
    a = a.copy()
    a[:, 2] += a[:, 0] * x0 + a[:, 1] * y0  # sub-image pixel (u, v) is image pixel (u + x0, v + y0)
    return cv2.warpAffine(sub, a, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)


def paste_delta(image: np.ndarray, delta: np.ndarray, gate: np.ndarray, box: tuple[float, float, float]) -> np.ndarray:
    """``image`` + the crop-space change ``delta`` (float, [0, 255] units) mapped back, where ``gate`` > 0.

    ``delta`` is zeroed where ``gate`` is 0, so its bilinear map back is exactly 0 there and those
    pixels are returned bit for bit; only the gate's bounding box in the photo is touched.
    """
    size = delta.shape[0]
    inside = (gate > 0).view(np.uint8)
    d = cv2.bitwise_and(delta.astype(np.float32, copy=False), delta.astype(np.float32, copy=False), mask=inside)
    gx, gy, gw, gh = cv2.boundingRect(inside)
    out = image.copy()
    if gw == 0 or gh == 0:
        return out
    cx, cy, side = box
    s = side / size  # crop pixel → photo pixels
    h, w = image.shape[:2]
    x0, y0 = max(int(np.floor(cx - side / 2 + s * (gx - 1))), 0), max(int(np.floor(cy - side / 2 + s * (gy - 1))), 0)
    x1 = min(int(np.ceil(cx - side / 2 + s * (gx + gw + 1))) + 1, w)
    y1 = min(int(np.ceil(cy - side / 2 + s * (gy + gh + 1))) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return out
    fwd = cv2.invertAffineTransform(_affine(box, size))  # crop coordinates → the sub-image at (x0, y0)
    fwd[0, 2] -= x0
    fwd[1, 2] -= y0
    d = cv2.warpAffine(d, fwd, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0)
    out[y0:y1, x0:x1] = cv2.add(image[y0:y1, x0:x1], d, dtype=cv2.CV_8U)  # rounded, saturated
    return out


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → [1, 3, H, W] float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255).unsqueeze(0)


def harmonize_face(
    before: np.ndarray,
    after: np.ndarray,
    model: UNetGenerator,
    mask: np.ndarray | None = None,
    colour_transferred: bool = True,
) -> np.ndarray:
    """Harmonize the one face an engine put into ``after`` (``before``: the same photo without it).

    ``mask`` (full resolution) defaults to the changed region, found in crop space (:func:`crop_mask`).
    ``colour_transferred``: whether the engine colour-transferred the face before blending (its
    ``SwapOptions.colour_transfer``; True is every engine's default, False under ``--no-colour``) —
    the generator's flag input (weights without it ignore it).
    Returns a new H×W×3 uint8 image; where nothing changed ``after`` is returned as it is.
    """
    size = model.config.image_size
    try:
        if mask is None:
            box, mc = crop_mask(before, after, size)
        else:
            box = crop_box(mask)
            mc = cv2.warpAffine(mask.astype(np.float32), _affine(box, size), (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    except FaceweaveError:  # nothing changed: nothing to harmonize
        return after
    x = crop(after, box, size)
    xt = to_tensor(x)
    mt = torch.from_numpy(mc)[None, None]
    with torch.inference_mode():
        gate = mask_gate(mt)
        y = model(xt, mt, gate, transferred=float(colour_transferred))
        delta = ((y - xt) * 255.0)[0].permute(1, 2, 0).contiguous().numpy()
    return paste_delta(after, delta, gate[0, 0].numpy(), box)


def load_harmonizer(path: str | os.PathLike[str] | None = None) -> UNetGenerator:
    """The generator from a weights file (default: the shipped demo weights from the model registry).

    Accepts an exported file (``UNetGenerator`` tensors) or a training checkpoint (``G.``-prefixed
    tensors); the config is read from the file's metadata.
    """
    if path is None:
        from faceweave import registry

        path = registry.get(DEFAULT_WEIGHTS).require()
    return _load(str(Path(path).resolve()))


@cache
def _load(path: str) -> UNetGenerator:
    from safetensors import safe_open

    p = Path(path)
    if p.is_dir():
        latest = p / "checkpoints" / "latest" if (p / "checkpoints").is_dir() else p / "latest"
        if not latest.is_file():
            raise FaceweaveError(f"no harmonizer weights in {p}")
        p = latest.parent / (latest.read_text(encoding="utf-8").strip() + ".safetensors")
    if not p.is_file():
        raise FaceweaveError(f"harmonizer weights not found: {p}")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict
    except Exception as e:  # noqa: BLE001 - a bad file is a user error, one line
        raise FaceweaveError(f"{p}: not a harmonizer weights file ({e})") from None
    if CONFIG_METADATA_KEY not in meta:
        raise FaceweaveError(f"{p}: not a harmonizer weights file (no config in its metadata)")
    model = UNetGenerator(HarmonizerConfig.from_dict(json.loads(meta[CONFIG_METADATA_KEY])))
    if any(k.startswith("G.") for k in tensors):
        tensors = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    try:
        model.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as e:  # another generator layout (e.g. an older release's weights)
        raise FaceweaveError(f"{p}: harmonizer weights of another layout ({str(e).splitlines()[0]})") from None
    log.debug("harmonizer weights %s", p)
    return model.eval()
