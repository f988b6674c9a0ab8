"""RSGAN's applications on photos, as public functions: attribute editing, random parts, interpolation.

Paths, :class:`~faceweave.media.image.Picture` objects or arrays in; arrays out (H×W×3 uint8 RGB, or
H×W×4 when the input photo has alpha), like :func:`faceweave.api.swap`, which re-exports them. The
face swap itself is the ``rsgan`` engine:
``faceweave.swap(a, b, engine="rsgan", gd=True, set_attrs={"Smiling": 1})``.

>>> import faceweave
>>> smiling = faceweave.edit("me.jpg", {"Smiling": 1.0}, region="face")
>>> sheet = faceweave.sample("me.jpg", random="hair", n=8, seed=1, sheet=True)
>>> frames = faceweave.interpolate("a.jpg", "b.jpg", part="face", steps=5)

Every function takes ``checkpoint`` (default: the registry's ``rsgan-demo`` weights) and ``face``
(index of the face, largest first; default the largest). This module imports torch only when one
of the functions is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import cv2
import numpy as np

from faceweave.analysis import analyze
from faceweave.choices import RANDOM_PARTS, REGIONS, check_choice
from faceweave.errors import FaceweaveError, NoFaceError, ParameterError
from faceweave.media.image import Picture, as_picture

if TYPE_CHECKING:
    from faceweave.analysis.face import Face
    from faceweave.pipelines.rsgan.ops import OpResult

__all__ = ["attributes", "edit", "interpolate", "provenance", "sample"]

ImageLike = str | os.PathLike[str] | np.ndarray | Picture
Checkpoint = str | os.PathLike[str] | None


def provenance(checkpoint: Checkpoint, *inputs: object) -> object | None:
    """The provenance record of an edit/sample/interpolate output (None under ``--no-provenance``).

    RSGAN's generator makes the pixels, so the IPTC digital source type is ``trainedAlgorithmicMedia``.
    Pass its ``watermark_id`` to :func:`edit`, :func:`sample` or :func:`interpolate` so that the
    watermark in the pixels and the manifest name the same id.
    """
    from faceweave.media import provenance as pv
    from faceweave.media.provenance.watermark import new_payload_id

    if not pv.settings().enabled:
        return None
    return pv.Provenance(engine="rsgan", model=pv.weights_label(checkpoint or None, "rsgan-demo"), learned=True,
                         inputs=[("input", str(i)) for i in inputs if isinstance(i, (str, os.PathLike))],
                         watermark_id=new_payload_id())


def _mark(out: np.ndarray, before: np.ndarray, landmarks: list[np.ndarray], watermark_id: int | None) -> np.ndarray:
    """The invisible watermark in the face RSGAN changed, as ``faceweave swap`` marks its faces (only
    changed pixels move); nothing under ``--no-provenance``. ``watermark_id`` None: a fresh id."""
    from faceweave.media import provenance as pv
    from faceweave.media.provenance.watermark import new_payload_id

    if not pv.settings().enabled:
        return out
    pid = new_payload_id() if watermark_id is None else int(watermark_id)
    return pv.mark_faces(out, before, landmarks, pid, lambda rgb: analyze(rgb, mesh=False, identity=False))


def _marked_tiles(first: np.ndarray, tiles: list[np.ndarray], watermark_id: int | None) -> list[np.ndarray]:
    """Sheet tiles of results, each marked in its face. A tile is a new picture (not a photo whose other
    pixels are promised unchanged), so the mark may use the whole face even where RSGAN kept it
    (``random="hair"`` keeps the face: only changed pixels would leave the mark too little room)."""
    from faceweave.media import provenance as pv
    from faceweave.media.provenance import watermark as wm

    if not pv.settings().enabled:
        return tiles
    pid = wm.new_payload_id() if watermark_id is None else int(watermark_id)
    bits = wm.encode_payload(pid)
    out = []
    for t in tiles:
        faces = analyze(t, mesh=False, identity=False)
        if not faces:
            out.append(t)
            continue
        hull = np.zeros(t.shape[:2], np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(faces[0].landmarks.astype(np.int32)), 1)
        region = pv.changed_region(t, first) | (hull > 0)
        out.append(wm.embed(t, faces[0].landmarks, region, bits))
    return out


def _name(p: Picture) -> str:
    return p.source if p.source != "<array>" else "the given image"


def _face(pic: Picture, index: int | None, role: str = "") -> Face:
    faces = analyze(pic.rgb, mesh=False, identity=False)
    if not faces:
        raise NoFaceError(f"{_name(pic)}: no face found{f' in the {role} photo' if role else ''}")
    i = 0 if index is None else int(index)
    if not 0 <= i < len(faces):
        raise FaceweaveError(f"{_name(pic)}: has {len(faces)} face(s); face {i} is out of range (0–{len(faces) - 1})")
    return faces[i]


def _as_output(pic: Picture, rgb: np.ndarray, face: Face, watermark_id: int | None) -> np.ndarray:
    """Same conventions as ``faceweave.swap``: grayscale inputs stay gray, the face is watermarked,
    alpha is carried over."""
    if pic.info.get("grayscale"):
        rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    rgb = _mark(rgb, pic.rgb, [face.landmarks], watermark_id)
    return np.dstack([rgb, pic.alpha]) if pic.alpha is not None else rgb


def attributes(
    checkpoint: Checkpoint = None, photo: ImageLike | None = None, face: int | None = None
) -> dict[str, float | None]:
    """The checkpoint's attribute names; with ``photo``, the classifier's c* for its face (else ``None`` values)."""
    from faceweave.pipelines.rsgan import geometry, latents, weights

    model = weights.load_model(checkpoint)
    names = list(model.config.attribute_names)
    if photo is None:
        return dict.fromkeys(names)
    pic = as_picture(photo)
    al = geometry.prepare(pic.rgb, _face(pic, face), model.config.image_size)
    c = latents.encode(model, [al.crop]).c[0].tolist()
    return {n: round(float(v), 4) for n, v in zip(names, c, strict=True)}


def edit(
    photo: ImageLike,
    set_attrs: Mapping[str, float] | Iterable[str],
    *,
    region: str = "face",
    face: int | None = None,
    checkpoint: Checkpoint = None,
    residual: bool = True,
    blend: str = "multiband",
    watermark_id: int | None = None,
) -> np.ndarray:
    """Set attributes (``{"Smiling": 1.0}`` or ``["Smiling=1"]``, values in [0, 1]) of a face; returns the photo.

    ``region`` picks which attribute latent takes the new values: ``face`` (z_cf), ``hair`` (z_ch)
    or ``both``; only that region of the photo changes. ``residual`` (default) adds the generator's
    change (edited − reconstruction) to the photo instead of pasting the generator's pixels, so the
    photo's own detail is kept; ``residual=False`` pastes the generated region as the paper shows it.
    The changed face carries the invisible watermark with ``watermark_id`` (see :func:`provenance`).
    """
    # the submodule by its full name: the package also exports a function called `attributes`
    from faceweave.pipelines.rsgan import ops, weights
    from faceweave.pipelines.rsgan.attributes import parse_assignments, resolve_attributes

    vals = parse_assignments(set_attrs)
    check_choice("region", region, REGIONS)
    model = weights.load_model(checkpoint)
    resolve_attributes(model.config.attribute_names, vals)  # fail on a bad name before analysing the photo
    pic = as_picture(photo)
    f = _face(pic, face)
    res = ops.edit_face(model, pic.rgb, f, vals, region=region, residual=residual, blend=blend)
    return _as_output(pic, res.photos[0], f, watermark_id)


def sample(
    photo: ImageLike,
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
    watermark_id: int | None = None,
) -> list[np.ndarray] | np.ndarray:
    """Keep one region (``random="hair"`` keeps the face) and draw the other from N(0, I) (paper Fig. 7).

    Returns ``n`` photos, or with ``sheet=True`` one contact sheet: the input's head frame first,
    then the ``n`` results (``raw=True``: the generator's crops instead of pasted-back photos).
    The same ``seed`` gives the same samples; ``seed=None`` draws a fresh one.
    """
    from faceweave.pipelines.rsgan import ops, weights

    check_choice("random", random, RANDOM_PARTS)
    if n < 1:
        raise ParameterError("n", n, "need at least 1 sample")
    model = weights.load_model(checkpoint)
    pic = as_picture(photo)
    f = _face(pic, face)
    res = ops.sample_parts(model, pic.rgb, f, random=random, n=n, seed=seed, blend=blend)
    if sheet:
        return _sample_sheet(res, raw=raw, columns=columns, watermark_id=watermark_id)
    return [_as_output(pic, p, f, watermark_id) for p in res.photos]


def interpolate(
    a: ImageLike,
    b: ImageLike,
    *,
    part: str = "face",
    steps: int = 5,
    face_a: int | None = None,
    face_b: int | None = None,
    checkpoint: Checkpoint = None,
    sheet: bool = False,
    raw: bool = False,
    blend: str = "multiband",
    watermark_id: int | None = None,
) -> list[np.ndarray] | np.ndarray:
    """Move ``part`` (``face``, ``hair`` or ``both``) from A to B in ``steps`` results, pasted into A's photo.

    The other latents stay A's. Returns ``steps`` photos, or with ``sheet=True`` one row: A's head
    frame, the ``steps`` results, B's head frame (``raw=True``: generator crops).
    """
    from faceweave.pipelines.rsgan import ops, weights

    check_choice("part", part, REGIONS)
    if steps < 2:
        raise ParameterError("steps", steps, "need at least 2 (the two ends)")
    model = weights.load_model(checkpoint)
    pa, pb = as_picture(a), as_picture(b)
    fa, fb = _face(pa, face_a, "first"), _face(pb, face_b, "second")
    res = ops.interpolate_parts(model, pa.rgb, fa, pb.rgb, fb, part=part, steps=steps, blend=blend)
    if sheet:
        return _interpolate_sheet(res, pb.rgb, fb, raw=raw, watermark_id=watermark_id)
    return [_as_output(pa, p, fa, watermark_id) for p in res.photos]


def _sample_sheet(res: OpResult, raw: bool = False, columns: int = 9, watermark_id: int | None = None) -> np.ndarray:
    """Input tile, then one tile per sample (each marked)."""
    from faceweave.compose.sheet import make_sheet
    from faceweave.pipelines.rsgan.paste import head_view, upscale_crop

    first = upscale_crop(res.aligned.crop) if raw else head_view(_photo_of(res), res.aligned)
    return make_sheet([first, *_marked_tiles(first, res.tiles(raw=raw), watermark_id)], columns=columns)


def _interpolate_sheet(res: OpResult, photo_b: np.ndarray, face_b: Face, raw: bool = False,
                       watermark_id: int | None = None) -> np.ndarray:
    """One row: A, the steps (each marked), B."""
    from faceweave.compose.sheet import make_sheet
    from faceweave.pipelines.rsgan.geometry import prepare
    from faceweave.pipelines.rsgan.paste import head_view, upscale_crop

    bl = prepare(photo_b, face_b, res.aligned.size)
    if raw:
        first, last = upscale_crop(res.aligned.crop), upscale_crop(bl.crop)
    else:
        first, last = head_view(_photo_of(res), res.aligned), head_view(photo_b, bl)
    tiles = [first, *_marked_tiles(first, res.tiles(raw=raw), watermark_id), last]
    return make_sheet(tiles, columns=len(tiles))


def _photo_of(res: OpResult) -> np.ndarray:
    """The original photo behind a result."""
    if res.source is None:
        raise ValueError("this result carries no source photo")
    return res.source
