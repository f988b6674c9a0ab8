"""The ``person`` engine: puts one trained person into a photo or clip (Korshunova et al., seed 003).

Inference only (no training code is imported). The target face is aligned to the reference frame
(:mod:`faceweave.models.person.frame`), the person's transformation network turns it into the
person while keeping pose, expression and light, and the face region (hull of the 68 landmarks,
brows lifted a little, feathered) is warped back and blended into the photo with the common blends
(poster, "Method": alignment, transformation, segmentation + paste-back).

There is no source photo: the person is the source. Engine options (``SwapOptions.extra``):

- ``person``: a person file (``.safetensors`` from ``faceweave train person``), a training run
  folder holding ``NAME.safetensors``, or the name of a shipped person (default: the demo person).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceweave.analysis.face import Face
from faceweave.compose.blend import blend as blend_images
from faceweave.compose.colour import transfer_colour
from faceweave.engines.base import EngineBase, EngineOptions, SwapOptions, register_engine, weights_label
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEMO_PERSON = "pexels_woman"
_LOCK = threading.Lock()
_CACHE: dict[tuple[str, float], tuple[Any, dict[str, Any]]] = {}


def resolve_person(person: str | None) -> Path:
    """A person file path from a path, a run folder or a shipped name (default: the demo person)."""
    name = person or DEMO_PERSON
    p = Path(name)
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        if len(files) != 1:
            raise FaceweaveError(f"--person {p}: expected one NAME.safetensors in the folder, found {len(files)}")
        return files[0]
    if p.suffix == ".safetensors" or p.exists():
        if not p.is_file():
            raise FaceweaveError(f"--person {p}: no such file")
        return p
    shipped = WEIGHTS_DIR / f"person_{name}.safetensors"
    if shipped.is_file():
        return shipped
    known = sorted(f.stem.removeprefix("person_") for f in WEIGHTS_DIR.glob("person_*.safetensors")
                   if f.stem != "person_light")
    raise FaceweaveError(
        f"--person {name!r}: not a person file, run folder or shipped person (shipped: {', '.join(known)})"
    )


def available_persons(folder: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Trained persons a user can pick: the shipped ones by name, then ``folder``'s ``*.safetensors`` by path."""
    out = {f.stem.removeprefix("person_"): f.stem.removeprefix("person_")
           for f in sorted(WEIGHTS_DIR.glob("person_*.safetensors")) if f.stem != "person_light"}
    if folder is not None and Path(folder).is_dir():
        for f in sorted(Path(folder).glob("*.safetensors")):
            out.setdefault(f.stem, str(f))
    return out


def load(person: str | None = None) -> tuple[Any, dict[str, Any]]:
    """(frozen TransformationNet, model card), cached per file and mtime."""
    from faceweave.models.person.person_file import load_person

    p = resolve_person(person)
    key = (str(p.resolve()), p.stat().st_mtime)
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = load_person(p)
            log.info("loaded person %s (%s)", _CACHE[key][1].get("name", "?"), p)
        return _CACHE[key]


def face_region(landmarks_px: np.ndarray, size: int, brow_lift: float = 0.12) -> np.ndarray:
    """size×size float mask: hull of the 68 landmarks with the brows lifted by ``brow_lift`` of the face height."""
    p = np.asarray(landmarks_px, np.float32).copy()
    h = float(p[:, 1].max() - p[:, 1].min())
    p[17:27, 1] -= brow_lift * h
    hull = cv2.convexHull(p).reshape(-1, 1, 2)
    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [np.round(hull).astype(np.int32)], 1)
    return m.astype(np.float32)


def transform_crops(net: Any, crops: np.ndarray) -> np.ndarray:
    """(B, S, S, 3) uint8 aligned faces → the person's faces, same shape."""
    import torch

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255.0
        y = net(x)
    return (y.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def paste_back(photo: np.ndarray, generated: np.ndarray, m: np.ndarray, region: np.ndarray,
               mode: str = "multiband", colour: bool = False) -> np.ndarray:
    """Warp the generated crop and its feathered region back into the photo (inverse of ``m``) and blend."""
    from faceweave.analysis.masks import feather

    size = generated.shape[0]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    hgt, wid = photo.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int).clip(0, [wid, hgt])
    x1, y1 = np.ceil(corners.max(0)).astype(int).clip(0, [wid, hgt])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return photo.copy()
    shift = np.array([[1, 0, -x0], [0, 1, -y0]], np.float64)
    inv_roi = shift @ np.vstack([inv, [0, 0, 1]])
    soft = feather(region, max(1.0, size / 40))
    mask = cv2.warpAffine(soft, inv_roi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)
    src = cv2.warpAffine(generated, inv_roi, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    dst = photo[y0:y1, x0:x1]
    if float(mask.max()) <= 1e-3:
        return photo.copy()
    if colour:
        sel = (mask > 0.5).astype(np.float32)
        src = transfer_colour(src, sel, dst, sel)
    out = photo.copy()
    out[y0:y1, x0:x1] = blend_images(dst, src, mask, mode)
    return out


@dataclass(frozen=True)
class PersonOptions(EngineOptions):
    """The person engine's own options."""

    person: str | os.PathLike[str] | None = None  # a trained person: shipped name, .safetensors file or run folder


@register_engine("person")
class PersonEngine(EngineBase):
    """A trained person's transformation network (seed 003); needs no source photo."""

    name = "person"
    needs_mesh = False
    needs_source = False
    learned = True
    Options = PersonOptions

    @classmethod
    def add_cli_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--person", metavar="NAME_OR_PATH",
                           help="person engine: a trained person (.safetensors, run folder or shipped name; "
                           "default the demo person)")

    @classmethod
    def options_from_cli(cls, args: argparse.Namespace) -> dict[str, object]:
        return {"person": getattr(args, "person", None)}

    @classmethod
    def cli_flags_given(cls, args: argparse.Namespace) -> list[str]:
        return ["--person"] if getattr(args, "person", None) else []

    def model_name(self, options: SwapOptions) -> str:
        return f"person {weights_label(self.options(options).person, DEMO_PERSON)}"

    def swap_face(
        self,
        source: np.ndarray | None,
        source_face: Face | None,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        from faceweave.models.person.frame import align_to_frame

        t0 = time.perf_counter()
        net, _card = load(options.extra.get("person"))  # type: ignore[arg-type]
        size = int(net.config.size)
        crop, m = align_to_frame(target, target_face.landmarks, size)
        t1 = time.perf_counter()
        gen = transform_crops(net, crop[None])[0]
        t2 = time.perf_counter()
        lms = np.asarray(target_face.landmarks, np.float64) @ m[:, :2].T + m[:, 2]
        out = paste_back(target, gen, m, face_region(lms, size), options.blend, options.colour_transfer)
        self.timings = {"align": t1 - t0, "transform": t2 - t1, "paste": time.perf_counter() - t2}
        return out
