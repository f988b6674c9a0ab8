"""The public Python API. The CLI and the web UI call these functions and nothing deeper.

>>> import faceweave
>>> out = faceweave.swap("me.jpg", "group.jpg", target_face="all")   # H×W×3 uint8 RGB
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from faceweave.analysis import Face
from faceweave.analysis import analyze as _analyze
from faceweave.analysis.identity import identity_distance
from faceweave.apps import attributes, edit, interpolate, sample
from faceweave.engines.base import BLEND_MODES, SwapOptions, get_engine
from faceweave.errors import FaceweaveError, NoFaceError
from faceweave.media.image import Picture, as_picture, write_image
from faceweave.media.provenance.verify import VerifyReport

log = logging.getLogger(__name__)

__all__ = ["analyze", "attributes", "edit", "interpolate", "sample", "save", "swap", "swap_picture", "swap_video",
           "verify"]

ImageLike = str | os.PathLike[str] | np.ndarray | Picture
TargetSelection = int | Literal["all"] | None

# Squared distance between unit dlib embeddings under which two faces count as the same person.
# Same-person pairs of the sample photos measure 0.02–0.09, different people 0.13 and above.
REFERENCE_THRESHOLD = 0.12


def _name(p: Picture) -> str:
    return p.source if p.source != "<array>" else "the given image"


def analyze(image: ImageLike, *, mesh: bool = True, identity: bool = True) -> list[Face]:
    """Every face in a photo, largest first (see :class:`faceweave.analysis.Face`)."""
    return _analyze(as_picture(image).rgb, mesh=mesh, identity=identity)


@dataclass
class SwapResult:
    """What :func:`swap_picture` produced: the new picture and which target faces it replaced."""

    picture: Picture
    swapped: list[int]


def _pick_source(faces: list[Face], pic: Picture, index: int | None) -> Face:
    if not faces:
        raise NoFaceError(f"{_name(pic)}: no face found in the source photo")
    i = 0 if index is None else index
    if not 0 <= i < len(faces):
        raise FaceweaveError(
            f"{_name(pic)}: has {len(faces)} face(s); source face {i} is out of range (0–{len(faces) - 1})"
        )
    return faces[i]


def _reference_face(reference: ImageLike | None) -> Face | None:
    """The largest face of the reference photo, with its identity embedding (None without one)."""
    if reference is None:
        return None
    rp = as_picture(reference)
    rf = _analyze(rp.rgb, mesh=False, identity=True, max_faces=1)
    if not rf:
        raise NoFaceError(f"{_name(rp)}: no face found in the reference photo")
    return rf[0]


def select_targets(
    faces: list[Face],
    pic: Picture,
    selection: TargetSelection = None,
    reference: Face | None = None,
    threshold: float = REFERENCE_THRESHOLD,
) -> list[Face]:
    """Which target faces to replace: an index, ``"all"``, or those matching a reference identity."""
    if not faces:
        raise NoFaceError(f"{_name(pic)}: no face found in the target photo")
    if reference is not None:
        assert reference.embedding is not None
        d = [identity_distance(reference.embedding, f.embedding) for f in faces]  # type: ignore[arg-type]
        chosen = [f for f, di in zip(faces, d, strict=True) if di <= threshold]
        if not chosen:
            raise FaceweaveError(
                f"{_name(pic)}: no face matches the reference (nearest identity distance "
                f"{min(d):.3f} > threshold {threshold:.3f})"
            )
        return chosen
    if selection is None:
        return [faces[0]]
    if selection == "all":
        return list(faces)
    if isinstance(selection, str):
        raise FaceweaveError(f"target face must be a number or 'all', not {selection!r}")
    if not 0 <= int(selection) < len(faces):
        raise FaceweaveError(
            f"{_name(pic)}: has {len(faces)} face(s); target face {selection} is out of range (0–{len(faces) - 1})"
        )
    return [faces[int(selection)]]


def _provenance(eng: object, inputs: tuple[tuple[str, object], ...]) -> object | None:
    """The provenance record of a new output (None under ``--no-provenance``), with a fresh watermark id."""
    from faceweave.media import provenance as pv
    from faceweave.media.provenance.watermark import new_payload_id

    if not pv.settings().enabled:
        return None
    return pv.Provenance(
        engine=str(getattr(eng, "name", "")), model=str(getattr(eng, "model_name", "") or ""),
        learned=bool(getattr(eng, "learned", False)),
        inputs=[(role, str(p)) for role, p in inputs if isinstance(p, (str, os.PathLike))],
        watermark_id=new_payload_id(),
    )


def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """Which synthetic-media marks a photo or clip carries: C2PA manifest, XMP tag, watermark (see VerifyReport)."""
    from faceweave.media.provenance.verify import verify as _verify

    return _verify(path)


def swap_picture(
    source: ImageLike,
    target: ImageLike,
    *,
    engine: str = "warp",
    source_face: int | None = None,
    target_face: TargetSelection = None,
    reference: ImageLike | None = None,
    reference_threshold: float = REFERENCE_THRESHOLD,
    blend: str = "multiband",
    colour_transfer: bool = True,
    keep_mouth: bool = True,
    **extra: object,
) -> SwapResult:
    """Like :func:`swap` but returns the :class:`Picture` (alpha kept) and the replaced face indices."""
    if blend not in BLEND_MODES:
        raise FaceweaveError(f"unknown blend '{blend}' (choose from {', '.join(BLEND_MODES)})")
    eng = get_engine(engine)
    src = as_picture(source)
    dst = as_picture(target)
    need_id = reference is not None
    src_faces = _analyze(src.rgb, mesh=eng.needs_mesh, identity=False)
    sf = _pick_source(src_faces, src, source_face)
    ref_face = _reference_face(reference)
    dst_faces = _analyze(dst.rgb, mesh=eng.needs_mesh, identity=need_id)
    chosen = select_targets(dst_faces, dst, target_face, ref_face, reference_threshold)
    opts = SwapOptions(blend=blend, colour_transfer=colour_transfer, keep_mouth=keep_mouth, extra=dict(extra))  # type: ignore[arg-type]
    out = dst.rgb
    for tf in chosen:
        out = eng.swap_face(src.rgb, sf, out, tf, opts)
    if dst.info.get("grayscale"):
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.repeat(g[..., None], 3, axis=2)
    prov = _provenance(eng, (("source", source), ("target", target), ("reference", reference)))
    if prov is not None:  # invisible watermark inside each swapped face (pixels outside stay identical)
        from faceweave.media.provenance import mark_faces

        out = mark_faces(out, dst.rgb, [tf.landmarks for tf in chosen], prov.watermark_id)  # type: ignore[attr-defined]
    pic = Picture(rgb=out, alpha=dst.alpha, source="<swap>", info={**dst.info, "provenance": prov})
    return SwapResult(picture=pic, swapped=[f.index for f in chosen])


def _smooth_meshes(faces: list[Face], previous: list[Face], keep: float = 0.5) -> None:
    """Damp frame-to-frame landmark jitter: a face that barely moved keeps part of its last mesh."""
    for f in faces:
        if f.mesh is None:
            continue
        best = None
        for p in previous:
            if p.mesh is None:
                continue
            d = float(np.hypot(f.center[0] - p.center[0], f.center[1] - p.center[1]))
            if d < 0.05 * max(f.width, 1.0) and (best is None or d < best[0]):
                best = (d, p)
        if best is not None:
            f.mesh = (keep * best[1].mesh + (1 - keep) * f.mesh).astype(np.float32)


def swap_video(
    source: ImageLike,
    target: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    engine: str = "warp",
    source_face: int | None = None,
    target_face: TargetSelection = None,
    reference: ImageLike | None = None,
    reference_threshold: float = REFERENCE_THRESHOLD,
    blend: str = "multiband",
    colour_transfer: bool = True,
    keep_mouth: bool = True,
    progress: bool = False,
    **extra: object,
) -> dict[str, int]:
    """Swap the source face into every frame of a clip; the audio is kept. Returns frame counts.

    Frames where no (matching) face is found are written unchanged; a clip where no frame had one
    is an error and leaves no output file.
    """
    from faceweave.media.image import check_output_path
    from faceweave.media.video import VIDEO_SUFFIXES, probe, transform_video

    out = Path(output)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise FaceweaveError(f"{out}: a video output needs a video suffix ({', '.join(VIDEO_SUFFIXES)})")
    if not out.parent.is_dir():
        raise FaceweaveError(f"{out}: output folder {out.parent} does not exist")
    tp = Path(target)
    if out.resolve() == tp.resolve():
        raise FaceweaveError(f"{out}: output path is the same as an input; choose another file name")
    if isinstance(source, (str, os.PathLike)):
        check_output_path(out.with_suffix(".png"), (source,))  # refuses out == source as well
    if blend not in BLEND_MODES:
        raise FaceweaveError(f"unknown blend '{blend}' (choose from {', '.join(BLEND_MODES)})")
    info = probe(tp)
    eng = get_engine(engine)
    src = as_picture(source)
    sf = _pick_source(_analyze(src.rgb, mesh=eng.needs_mesh, identity=False), src, source_face)
    ref_face = _reference_face(reference)
    opts = SwapOptions(blend=blend, colour_transfer=colour_transfer, keep_mouth=keep_mouth, extra=dict(extra))  # type: ignore[arg-type]
    counts = {"frames": 0, "swapped": 0}
    from faceweave.media import provenance as pv

    prov = _provenance(eng, (("source", source), ("target", target), ("reference", reference)))
    mark_frames = prov is not None and pv.settings().watermark_video
    previous: list[Face] = []
    frame_pic = Picture(rgb=np.zeros((1, 1, 3), np.uint8), source=str(tp))

    def per_frame(rgb: np.ndarray, i: int) -> np.ndarray:
        nonlocal previous
        counts["frames"] += 1
        faces = _analyze(rgb, mesh=eng.needs_mesh, identity=ref_face is not None)
        _smooth_meshes(faces, previous)
        previous = faces
        try:
            chosen = select_targets(faces, frame_pic, target_face, ref_face, reference_threshold)
        except FaceweaveError:
            return rgb
        out_rgb = rgb
        for tf in chosen:
            try:
                out_rgb = eng.swap_face(src.rgb, sf, out_rgb, tf, opts)
            except FaceweaveError as e:
                log.info("frame %d: face %d not swapped (%s)", i, tf.index, e)
        counts["swapped"] += out_rgb is not rgb
        if mark_frames and out_rgb is not rgb:
            out_rgb = pv.mark_faces(out_rgb, rgb, [tf.landmarks for tf in chosen], prov.watermark_id, passes=2)  # type: ignore[union-attr]
        return out_rgb

    def finalize(tmp: Path) -> None:
        if prov is None:
            pv.log_disabled(out)
        else:
            pv.finalize_file(tmp, out, prov)  # type: ignore[arg-type]

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=info.frames or None, unit="frame", desc=tp.name, leave=False)
    try:
        transform_video(tp, out, per_frame, progress=(lambda n: bar.update(1)) if bar is not None else None,
                        require=lambda: counts["swapped"] > 0,
                        require_message=f"{tp}: no face found in any frame of the target video", finalize=finalize)
    finally:
        if bar is not None:
            bar.close()
    return counts


def swap(source: ImageLike, target: ImageLike, **options: object) -> np.ndarray:
    """Put the source's face onto the target's face(s); returns H×W×3 RGB (H×W×4 when the target has alpha).

    Options: ``engine`` (``"warp"`` default; see ``faceweave.engines.engine_names()``),
    ``source_face`` (index, default the largest), ``target_face`` (index, ``"all"``, default the
    largest), ``reference`` (a photo: replace only the target faces of that identity), ``blend``
    (``"multiband"`` default, ``"alpha"``, ``"poisson"``), ``colour_transfer``, ``keep_mouth``.
    """
    res = swap_picture(source, target, **options)  # type: ignore[arg-type]
    p = res.picture
    return np.dstack([p.rgb, p.alpha]) if p.alpha is not None else p.rgb


def save(picture: Picture, path: str | os.PathLike[str], inputs: tuple[ImageLike, ...] = ()) -> str:
    """Write a result atomically with its provenance tag, refusing to overwrite an input."""
    in_paths = tuple(i for i in inputs if isinstance(i, (str, os.PathLike)))
    return str(write_image(path, picture.rgb, picture.alpha, inputs=in_paths,
                           provenance=picture.info.get("provenance")))
