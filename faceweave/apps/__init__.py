"""RSGAN's applications as public functions: attribute editing, random parts, interpolation.

Paths, :class:`~faceweave.media.image.Picture` objects or arrays in; arrays out (H×W×3 uint8 RGB, or
H×W×4 when the input photo has alpha), like :func:`faceweave.api.swap`. The face swap itself is the
``rsgan`` engine: ``faceweave.swap(a, b, engine="rsgan", gd=True, set={"Smiling": 1})``.

>>> import faceweave.apps as apps
>>> smiling = apps.edit("me.jpg", {"Smiling": 1.0}, region="face")
>>> sheet = apps.sample("me.jpg", random="hair", n=8, seed=1, sheet=True)
>>> frames = apps.interpolate("a.jpg", "b.jpg", part="face", steps=5)

Every function takes ``checkpoint`` (default: the shipped demo weights,
``faceweave/weights/rsgan_demo.safetensors``) and ``face`` (index of the face, largest first;
default the largest). This module imports torch only when one of the functions is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from faceweave.analysis.face import Face
    from faceweave.apps.rsgan_ops import OpResult
    from faceweave.media.image import Picture

__all__ = ["attributes", "edit", "interpolate", "sample"]

ImageLike = str | os.PathLike[str] | np.ndarray
Checkpoint = str | os.PathLike[str] | None


def _name(p: Picture) -> str:
    return p.source if p.source != "<array>" else "the given image"


def _face(pic: Picture, index: int | None, role: str = "") -> Face:
    from faceweave.analysis import analyze
    from faceweave.errors import FaceweaveError, NoFaceError

    faces = analyze(pic.rgb, mesh=False, identity=False)
    if not faces:
        raise NoFaceError(f"{_name(pic)}: no face found{f' in the {role} photo' if role else ''}")
    i = 0 if index is None else int(index)
    if not 0 <= i < len(faces):
        raise FaceweaveError(f"{_name(pic)}: has {len(faces)} face(s); face {i} is out of range (0–{len(faces) - 1})")
    return faces[i]


def _as_output(pic: Picture, rgb: np.ndarray) -> np.ndarray:
    """Same conventions as ``faceweave.swap``: grayscale inputs stay gray, alpha is carried over."""
    import cv2

    if pic.info.get("grayscale"):
        rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return np.dstack([rgb, pic.alpha]) if pic.alpha is not None else rgb


def attributes(
    checkpoint: Checkpoint = None, photo: ImageLike | Picture | None = None, face: int | None = None
) -> dict[str, float | None]:
    """The checkpoint's attribute names; with ``photo``, the classifier's c* for its face (else ``None`` values)."""
    from faceweave.apps import rsgan_ops as ops
    from faceweave.media.image import as_picture

    model = ops.load_model(checkpoint)
    names = list(model.config.attribute_names)
    if photo is None:
        return dict.fromkeys(names)
    pic = as_picture(photo)
    al = ops.prepare(pic.rgb, _face(pic, face), model.config.image_size)
    c = ops.encode(model, [al.crop]).c[0].tolist()
    return {n: round(float(v), 4) for n, v in zip(names, c, strict=True)}


def edit_result(
    photo: ImageLike | Picture,
    values: Mapping[str, float] | Iterable[str],
    *,
    region: str = "face",
    face: int | None = None,
    checkpoint: Checkpoint = None,
    residual: bool = True,
    blend: str = "multiband",
) -> tuple[Picture, OpResult]:
    """:func:`edit` returning the input :class:`Picture` and the full :class:`~faceweave.apps.rsgan_ops.OpResult`."""
    from faceweave.apps import rsgan_ops as ops
    from faceweave.errors import FaceweaveError
    from faceweave.media.image import as_picture

    vals = ops.parse_assignments(values)
    if region not in ops.REGIONS:
        raise FaceweaveError(f"unknown region {region!r} (choose from {', '.join(ops.REGIONS)})")
    model = ops.load_model(checkpoint)
    ops.resolve_attributes(model.config.attribute_names, vals)  # fail on a bad name before analysing the photo
    pic = as_picture(photo)
    res = ops.edit_face(model, pic.rgb, _face(pic, face), vals, region=region, residual=residual, blend=blend)
    return pic, res


def edit(
    photo: ImageLike | Picture,
    values: Mapping[str, float] | Iterable[str],
    *,
    region: str = "face",
    face: int | None = None,
    checkpoint: Checkpoint = None,
    residual: bool = True,
    blend: str = "multiband",
) -> np.ndarray:
    """Set attributes (``{"Smiling": 1.0}`` or ``["Smiling=1"]``, values in [0, 1]) of a face; returns the photo.

    ``region`` picks which attribute latent takes the new values: ``face`` (z_cf), ``hair`` (z_ch)
    or ``both``; only that region of the photo changes. ``residual`` (default) adds the generator's
    change (edited − reconstruction) to the photo instead of pasting the generator's pixels, so the
    photo's own detail is kept; ``residual=False`` pastes the generated region as the paper shows it.
    """
    pic, res = edit_result(photo, values, region=region, face=face, checkpoint=checkpoint, residual=residual,
                           blend=blend)
    return _as_output(pic, res.photos[0])


def sample_result(
    photo: ImageLike | Picture,
    *,
    random: str = "hair",
    n: int = 8,
    seed: int | None = 0,
    face: int | None = None,
    checkpoint: Checkpoint = None,
    blend: str = "multiband",
) -> tuple[Picture, OpResult]:
    """:func:`sample` returning the input :class:`Picture` and the :class:`~faceweave.apps.rsgan_ops.OpResult`."""
    from faceweave.apps import rsgan_ops as ops
    from faceweave.errors import FaceweaveError
    from faceweave.media.image import as_picture

    if random not in ("face", "hair"):
        raise FaceweaveError(f"random must be 'face' or 'hair', not {random!r}")
    if n < 1:
        raise FaceweaveError(f"n={n}: need at least 1 sample")
    model = ops.load_model(checkpoint)
    pic = as_picture(photo)
    res = ops.sample_parts(model, pic.rgb, _face(pic, face), random=random, n=n, seed=seed, blend=blend)
    return pic, res


def sample(
    photo: ImageLike | Picture,
    *,
    random: str = "hair",
    n: int = 8,
    seed: int | None = 0,
    face: int | None = None,
    checkpoint: Checkpoint = None,
    sheet: bool = False,
    raw: bool = False,
    columns: int = 9,
    blend: str = "multiband",
) -> list[np.ndarray] | np.ndarray:
    """Keep one region (``random="hair"`` keeps the face) and draw the other from N(0, I) (paper Fig. 7).

    Returns ``n`` photos, or with ``sheet=True`` one contact sheet: the input's head frame first,
    then the ``n`` results (``raw=True``: the generator's crops instead of pasted-back photos).
    The same ``seed`` gives the same samples; ``seed=None`` draws a fresh one.
    """
    pic, res = sample_result(photo, random=random, n=n, seed=seed, face=face, checkpoint=checkpoint, blend=blend)
    if sheet:
        return sample_sheet(res, raw=raw, columns=columns)
    return [_as_output(pic, p) for p in res.photos]


def interpolate_result(
    a: ImageLike | Picture,
    b: ImageLike | Picture,
    *,
    part: str = "face",
    steps: int = 5,
    face_a: int | None = None,
    face_b: int | None = None,
    checkpoint: Checkpoint = None,
    blend: str = "multiband",
) -> tuple[Picture, Picture, Face, OpResult]:
    """:func:`interpolate` returning both pictures, B's face and the :class:`~faceweave.apps.rsgan_ops.OpResult`."""
    from faceweave.apps import rsgan_ops as ops
    from faceweave.media.image import as_picture

    ops.part_keys(part)
    model = ops.load_model(checkpoint)
    pa, pb = as_picture(a), as_picture(b)
    fa, fb = _face(pa, face_a, "first"), _face(pb, face_b, "second")
    res = ops.interpolate_parts(model, pa.rgb, fa, pb.rgb, fb, part=part, steps=steps, blend=blend)
    return pa, pb, fb, res


def interpolate(
    a: ImageLike | Picture,
    b: ImageLike | Picture,
    *,
    part: str = "face",
    steps: int = 5,
    face_a: int | None = None,
    face_b: int | None = None,
    checkpoint: Checkpoint = None,
    sheet: bool = False,
    raw: bool = False,
    blend: str = "multiband",
) -> list[np.ndarray] | np.ndarray:
    """Move ``part`` (``face``, ``hair`` or ``both``) from A to B in ``steps`` results, pasted into A's photo.

    The other latents stay A's. Returns ``steps`` photos, or with ``sheet=True`` one row: A's head
    frame, the ``steps`` results, B's head frame (``raw=True``: generator crops).
    """
    pa, pb, fb, res = interpolate_result(a, b, part=part, steps=steps, face_a=face_a, face_b=face_b,
                                         checkpoint=checkpoint, blend=blend)
    if sheet:
        return interpolate_sheet(res, pb.rgb, fb, raw=raw)
    return [_as_output(pa, p) for p in res.photos]


def sample_sheet(res: OpResult, raw: bool = False, columns: int = 9) -> np.ndarray:
    """Input tile, then one tile per sample."""
    from faceweave.apps import rsgan_ops as ops

    first = ops.upscale_crop(res.aligned.crop) if raw else ops.head_view(_photo_of(res), res.aligned)
    return ops.make_sheet([first, *res.tiles(raw=raw)], columns=columns)


def interpolate_sheet(res: OpResult, photo_b: np.ndarray, face_b: Face, raw: bool = False) -> np.ndarray:
    """One row: A, the steps, B."""
    from faceweave.apps import rsgan_ops as ops

    model_size = res.aligned.size
    bl = ops.prepare(photo_b, face_b, model_size)
    if raw:
        first, last = ops.upscale_crop(res.aligned.crop), ops.upscale_crop(bl.crop)
    else:
        first, last = ops.head_view(_photo_of(res), res.aligned), ops.head_view(photo_b, bl)
    tiles = [first, *res.tiles(raw=raw), last]
    return ops.make_sheet(tiles, columns=len(tiles))


def _photo_of(res: OpResult) -> np.ndarray:
    """The original photo behind a result."""
    if res.source is None:
        raise ValueError("this result carries no source photo")
    return res.source
