"""Training composites for the harmonizer (seed 004), made from plain photos, no labels needed.

Two kinds of sample, both cut with the inference geometry of :mod:`faceweave.compose.harmonize`
(mask = the pixels the composite changed; square crop 1.5× the mask; ``size`` px):

* **self-composites** (:func:`self_composite`): a face is disturbed — white balance, gamma,
  brightness/contrast, saturation, a light gradient across the face, blur, noise, a small warp —,
  optionally colour-transferred back (as the engines do), and re-pasted onto its own photo with a
  hull mask and multiband (or alpha) blending. The undisturbed photo is the ground truth.
* **real composites** (:func:`real_composites`): one person's face put onto another's by the
  ``warp`` and ``delaunay`` engines (the public engine registry); no ground truth, used by the
  adversarial and regularising losses only.

Items of :class:`HarmonizerDataset` are dicts of float32 tensors: ``x`` composite 3×S×S, ``m`` mask
1×S×S, ``y`` the real photo crop (ground truth of a self-composite; the target before the swap for a
real composite), ``has_gt`` 0/1, ``ct`` 0/1 whether the face was colour-transferred (the flag the
compose step passes the generator at inference). An item depends only on (seed, index), so a resumed run sees the
same batches.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from faceweave.analysis.face import Face
from faceweave.analysis.masks import polygon_mask
from faceweave.compose.blend import alpha_blend, multiband_blend
from faceweave.compose.colour import transfer_colour
from faceweave.compose.harmonize import crop, crop_mask
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

PATCH = 384  # side of the cached face patch self-composites are made in
PATCH_SCALE = 2.6  # patch side / larger side of the 68 landmarks' bounding box
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class FacePatch:
    """One face of a training photo: a square patch around it and its 68 landmarks in patch pixels."""

    image: np.ndarray  # PATCH×PATCH×3 uint8
    landmarks: np.ndarray  # (68, 2) float32
    source: str  # photo (or clip:frame) it came from


@dataclass
class RealComposite:
    """A cross-identity swap, already cut to the training crop."""

    x: np.ndarray  # S×S×3 uint8 composite
    m: np.ndarray  # S×S float32 mask
    y: np.ndarray  # S×S×3 uint8 target before the swap
    engine: str
    colour_transfer: bool = True  # whether the engine colour-transferred the face (SwapOptions' default)


# --------------------------------------------------------------------------- photos and frames
def list_photos(folder: str | os.PathLike[str], exclude: tuple[str, ...] = ()) -> list[Path]:
    """Image files directly in ``folder`` (sorted), minus names matching any ``exclude`` pattern."""
    d = Path(folder)
    if not d.is_dir():
        raise FaceweaveError(f"--photos {d}: not a folder")
    files = [p for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
             and not any(fnmatch.fnmatch(p.name, pat) for pat in exclude)]
    if not files:
        raise FaceweaveError(f"--photos {d}: no image files")
    return files


def video_frames(path: str | os.PathLike[str], every: int) -> list[np.ndarray]:
    """Every ``every``-th frame of a clip (RGB)."""
    from faceweave.media.video import read_frames

    return [f for i, f in enumerate(read_frames(path)) if i % every == 0]


def face_patch(rgb: np.ndarray, face: Face, source: str) -> FacePatch:
    """The square patch (PATCH px) centred on a face's landmarks, edges replicated."""
    lm = np.asarray(face.landmarks, np.float64)
    lo, hi = lm.min(0), lm.max(0)
    box = (float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2), float(PATCH_SCALE * max(hi - lo)))
    img = crop(rgb, box, PATCH)
    s = PATCH / box[2]
    pts = (lm - [box[0], box[1]]) * s + PATCH / 2
    return FacePatch(image=img, landmarks=pts.astype(np.float32), source=source)


# --------------------------------------------------------------------------- self-composites
def hull_mask(landmarks: np.ndarray, rng: np.random.Generator, shape: tuple[int, int] = (PATCH, PATCH)) -> np.ndarray:
    """A blend mask like the engines': the 68-point hull (brows up, optionally raised onto the forehead), feathered."""
    lm = np.asarray(landmarks, np.float64).copy()
    size = float(max(np.ptp(lm, 0)))
    if rng.random() < 0.5:  # warp-engine-like: the skin reaches onto the forehead
        up = rng.uniform(0.05, 0.25) * size
        brows = lm[17:27].copy()
        brows[:, 1] -= up
        lm = np.vstack([lm, brows])
    m = polygon_mask(shape, lm, convex=True)
    radius = rng.uniform(0.02, 0.05) * size
    r = max(int(round(radius)), 1)
    m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.GaussianBlur(m, (0, 0), sigmaX=max(radius / 2, 0.5))


def disturb(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face patch after random photometric changes and a small warp (what a foreign face brings)."""
    f = img.astype(np.float32) / 255.0
    h, w = f.shape[:2]
    lm = np.asarray(landmarks, np.float64)
    c = lm.mean(0)
    size = float(max(np.ptp(lm, 0)))
    f = f * np.exp(rng.normal(0, 0.10, 3)).astype(np.float32)  # white balance: per-channel gain
    f = np.clip(f, 0, 1) ** np.float32(np.exp(rng.uniform(-0.35, 0.35)))  # gamma
    mean = f.mean((0, 1), keepdims=True)
    f = (f - mean) * np.float32(np.exp(rng.normal(0, 0.12))) + mean * np.float32(np.exp(rng.normal(0, 0.15)))
    grey = f.mean(2, keepdims=True)
    f = grey + (f - grey) * np.float32(rng.uniform(0.6, 1.4))  # saturation
    if rng.random() < 0.7:  # a light gradient across the face
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = ((xx - c[0]) * np.cos(ang) + (yy - c[1]) * np.sin(ang)) / max(size, 1.0)
        f = f * (1 + np.float32(rng.uniform(-0.5, 0.5)) * np.clip(t, -1, 1))[..., None]
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.4, 1.0)))
    if rng.random() < 0.2:
        f = f + rng.normal(0, rng.uniform(0.003, 0.012), f.shape).astype(np.float32)
    if rng.random() < 0.3:  # small warp (≲ 1 % of the face): rotation, scale, shift about the face centre
        angle, scale = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.99, 1.01))
        a = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, scale)
        a[:, 2] += rng.uniform(-0.005, 0.005, 2) * size
        f = cv2.warpAffine(f, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8)


def jitter_scene(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The whole patch under another light and camera (ours, training only): per-channel gain,
    gamma and saturation applied to face *and* surroundings alike, so the photo stays consistent and
    remains a ground truth. Multiplies the few skin tones and illuminants of ~60 training faces, so
    the network must read the face's colour against its surroundings instead of remembering faces."""
    f = img.astype(np.float32) / 255.0
    f = f * np.exp(rng.normal(0, 0.12, 3)).astype(np.float32)
    f = np.clip(f, 0, 1) ** np.float32(np.exp(rng.uniform(-0.25, 0.25)))
    grey = f.mean(2, keepdims=True)
    f = grey + (f - grey) * np.float32(rng.uniform(0.7, 1.3))
    return np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8)


def self_composite(p: FacePatch, rng: np.random.Generator, colour_transfer: float = 0.5,
                   multiband: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    """(composite, ground truth) in patch space: ``p``'s face disturbed and re-pasted onto itself."""
    comp, truth, _ = self_composite_flagged(p, rng, colour_transfer, multiband)
    return comp, truth


def self_composite_flagged(p: FacePatch, rng: np.random.Generator, colour_transfer: float = 0.5,
                           multiband: float = 0.85) -> tuple[np.ndarray, np.ndarray, bool]:
    """(composite, ground truth, transferred): :func:`self_composite` and whether the face was
    colour-transferred (a share ``colour_transfer`` of them) — the flag the generator reads, as the
    compose step passes it at inference. Same random draws as :func:`self_composite`."""
    truth = p.image
    mask = hull_mask(p.landmarks, rng)
    face = disturb(truth, p.landmarks, rng)
    transferred = bool(rng.random() < colour_transfer)
    if transferred:
        skin = cv2.erode((mask > 0.5).astype(np.float32), np.ones((5, 5), np.uint8))
        face = transfer_colour(face, skin, truth, skin)
    comp = multiband_blend(truth, face, mask) if rng.random() < multiband else alpha_blend(truth, face, mask)
    return comp, truth, transferred


def training_crop(before: np.ndarray, after: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, m, y): the composite, its changed-region mask and the photo before, cut as at inference."""
    box, mc = crop_mask(before, after, size)
    return crop(after, box, size), mc, crop(before, box, size)


# --------------------------------------------------------------------------- real composites
def real_composites(
    images: list[tuple[str, np.ndarray, list[Face]]],
    size: int,
    engines: tuple[str, ...] = ("warp", "delaunay"),
    max_pairs: int = 200,
    seed: int = 0,
) -> list[RealComposite]:
    """Cross-identity swaps by the engines between faces of *different* images, cut to training crops."""
    from faceweave.engines import SwapOptions, get_engine

    rng = np.random.default_rng(seed)
    faces = [(i, f) for i, (_, _, fs) in enumerate(images) for f in fs]
    pairs = [(a, b) for a in range(len(faces)) for b in range(len(faces)) if faces[a][0] != faces[b][0]]
    rng.shuffle(pairs)
    out: list[RealComposite] = []
    for a, b in pairs:
        if len(out) >= max_pairs:
            break
        eng_name = engines[len(out) % len(engines)]
        eng = get_engine(eng_name)
        (ia, fa), (ib, fb) = faces[a], faces[b]
        src, dst = images[ia][1], images[ib][1]
        opts = SwapOptions()
        try:
            after = eng.swap_face(src, fa, dst, fb, opts)
            x, m, y = training_crop(dst, after, size)
        except FaceweaveError as e:
            log.debug("pair %s → %s skipped: %s", images[ia][0], images[ib][0], e)
            continue
        if m.max() < 0.5:
            continue
        out.append(RealComposite(x=x, m=m, y=y, engine=eng_name, colour_transfer=opts.colour_transfer))
    return out


# --------------------------------------------------------------------------- dataset
class HarmonizerDataset(Dataset):
    """Endless-style dataset of self- and real composites; item ``i`` is a function of (seed, i) only."""

    def __init__(self, patches: list[FacePatch], reals: list[RealComposite], size: int = 256,
                 real_fraction: float = 0.25, seed: int = 0, length: int = 1_000_000,
                 scene_jitter: float = 0.0) -> None:
        if not patches:
            raise FaceweaveError("no faces to make self-composites from")
        self.patches, self.reals, self.size = patches, reals, size
        self.real_fraction = real_fraction if reals else 0.0
        self.seed, self.length = seed, length
        self.scene_jitter = scene_jitter  # share of self-composites made from a re-lit photo (jitter_scene)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng((self.seed, int(i)))
        flip = rng.random() < 0.5
        if rng.random() < self.real_fraction:
            r = self.reals[int(rng.integers(len(self.reals)))]
            x, m, y, gt, ct = r.x, r.m, r.y, 0.0, r.colour_transfer
        else:
            p = self.patches[int(rng.integers(len(self.patches)))]
            if self.scene_jitter > 0 and rng.random() < self.scene_jitter:
                p = FacePatch(image=jitter_scene(p.image, rng), landmarks=p.landmarks, source=p.source)
            for _ in range(4):
                comp, truth, ct = self_composite_flagged(p, rng)
                try:
                    x, m, y = training_crop(truth, comp, self.size)
                    break
                except FaceweaveError:  # disturbance too small to change a pixel: draw again
                    continue
            else:  # nothing changed: an identity sample (ŷ should equal x)
                x = y = crop(p.image, (PATCH / 2, PATCH / 2, PATCH / 1.2), self.size)
                m = np.zeros((self.size, self.size), np.float32)
            gt = 1.0
        if flip:
            x, m, y = x[:, ::-1], m[:, ::-1], y[:, ::-1]
        return {
            "x": torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1).float().div(255),
            "m": torch.from_numpy(np.ascontiguousarray(m))[None].float(),
            "y": torch.from_numpy(np.ascontiguousarray(y)).permute(2, 0, 1).float().div(255),
            "has_gt": torch.tensor(gt),
            "ct": torch.tensor(float(ct)),  # the engine colour-transferred the face (the generator's flag input)
        }
