"""The public Python API. The CLI and the web UI call these functions and nothing deeper.

>>> import faceweave
>>> out = faceweave.swap("me.jpg", "group.jpg", target_face="all")   # H×W×3 uint8 RGB
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from faceweave.analysis import Face
from faceweave.analysis import analyze as _analyze
from faceweave.analysis.identity import identity_distance
from faceweave.engines.base import BLEND_MODES, SwapOptions, get_engine
from faceweave.errors import FaceweaveError, NoFaceError
from faceweave.media.image import Picture, as_picture, write_image
from faceweave.media.provenance.verify import VerifyReport
from faceweave.pipelines.rsgan.photos import attributes, edit, interpolate, sample

if TYPE_CHECKING:
    from faceweave.realtime import FrameSwapper

log = logging.getLogger(__name__)

__all__ = ["analyze", "attributes", "edit", "interpolate", "sample", "save", "swap", "swap_picture", "swap_video",
           "verify"]

ImageLike = str | os.PathLike[str] | np.ndarray | Picture
TargetSelection = int | Literal["all"] | list[int] | tuple[int, ...] | None

# Squared distance between unit 512-D embeddings (faceweave.nets identity512; = 2 − 2·cosine) under
# which two faces count as the same person. scripts/identity_separation.py on the shared sample photos
# (18 faces, 9 people): same-person pairs ≤ 0.92 (cosine ≥ 0.542), different people ≥ 1.49 (cosine
# ≤ 0.254); 1.2 (cosine 0.40) sits in the middle of the gap. dlib's 128-D vectors left a gap of only
# 0.937 vs 0.935 in cosine there, so matching uses the 512-D net.
REFERENCE_THRESHOLD = 1.2


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


def _source(eng: object, source: ImageLike | None, index: int | None) -> tuple[Picture | None, Face | None]:
    """The source picture and face; engines with ``needs_source = False`` (``person``) take none."""
    if not getattr(eng, "needs_source", True):
        if source is not None:
            raise FaceweaveError(
                f"engine '{getattr(eng, 'name', '?')}' takes no source photo (its trained person is the source)"
            )
        return None, None
    if source is None:
        raise FaceweaveError(f"engine '{getattr(eng, 'name', '?')}' needs a source photo")
    from faceweave.analysis.cache import analyze_cached  # the same source on many targets is analysed once

    src = as_picture(source)
    faces = analyze_cached(src.rgb, mesh=getattr(eng, "needs_mesh", False), identity=False)
    return src, _pick_source(faces, src, index)


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
    """Which target faces to replace: an index, a list of indices, ``"all"``, or those matching a reference identity."""
    if not faces:
        raise NoFaceError(f"{_name(pic)}: no face found in the target photo")
    if reference is not None:
        assert reference.embedding512 is not None
        d = [identity_distance(reference.embedding512, f.embedding512) for f in faces]  # type: ignore[arg-type]
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
    if isinstance(selection, (list, tuple)):
        if not selection:
            raise FaceweaveError("target face: the list of faces is empty")
        return [select_targets(faces, pic, int(i))[0] for i in dict.fromkeys(selection)]
    if not 0 <= int(selection) < len(faces):
        raise FaceweaveError(
            f"{_name(pic)}: has {len(faces)} face(s); target face {selection} is out of range (0–{len(faces) - 1})"
        )
    return [faces[int(selection)]]


def _harmonizer(harmonize: bool | str | os.PathLike[str]) -> object | None:
    """The harmonizer generator for ``harmonize`` (True: the shipped demo weights; a path: those weights)."""
    if harmonize is False or harmonize is None:
        return None
    from faceweave.compose.harmonize import load_harmonizer

    return load_harmonizer(None if harmonize is True else harmonize)


def _harmonized(model: object | None, before: np.ndarray, after: np.ndarray, colour_transferred: bool) -> np.ndarray:
    """The seed-004 harmonizer compose step on one swapped face (identity when ``model`` is None);
    ``colour_transferred``: the engine's ``SwapOptions.colour_transfer`` (the generator's flag input)."""
    if model is None:
        return after
    from faceweave.compose.harmonize import harmonize_face

    return harmonize_face(before, after, model, colour_transferred=colour_transferred)  # type: ignore[arg-type]


def _provenance(eng: object, inputs: tuple[tuple[str, object], ...], opts: SwapOptions,
                harmonize: bool | str | os.PathLike[str] = False) -> object | None:
    """The provenance record of a new output (None under ``--no-provenance``), with a fresh watermark id.

    Learned engines, and any engine followed by the learned harmonizer, make trainedAlgorithmicMedia;
    the manifest names the engine's weights (and the harmonizer's).
    """
    from faceweave.media import provenance as pv
    from faceweave.media.provenance.watermark import new_payload_id

    if not pv.settings().enabled:
        return None
    model_name = getattr(eng, "model_name", None)
    models = [str(model_name(opts)) if callable(model_name) else ""]
    harmonized = harmonize is not False and harmonize is not None
    if harmonized:
        from faceweave.compose.harmonize import DEFAULT_WEIGHTS
        from faceweave.engines.base import weights_label

        models.append("harmonizer " + weights_label(None if harmonize is True else harmonize, DEFAULT_WEIGHTS))
    return pv.Provenance(
        engine=str(getattr(eng, "name", "")), model=" + ".join(m for m in models if m),
        learned=bool(getattr(eng, "learned", False)) or harmonized,
        inputs=[(role, str(p)) for role, p in inputs if isinstance(p, (str, os.PathLike))],
        watermark_id=new_payload_id(),
    )


def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """Which synthetic-media marks a photo or clip carries: C2PA manifest, XMP tag, watermark (see VerifyReport)."""
    from faceweave.media.provenance.verify import verify as _verify

    return _verify(path, _faces_for_marks)


def _faces_for_marks(rgb: np.ndarray) -> list[Face]:
    """The faces the watermark is laid out on and read from (68 landmarks; no mesh, no identity)."""
    return _analyze(rgb, mesh=False, identity=False)


def swap_picture(
    source: ImageLike | None,
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
    harmonize: bool | str | os.PathLike[str] = False,
    **extra: object,
) -> SwapResult:
    """Like :func:`swap` but returns the :class:`Picture` (alpha kept) and the replaced face indices."""
    if blend not in BLEND_MODES:
        raise FaceweaveError(f"unknown blend '{blend}' (choose from {', '.join(BLEND_MODES)})")
    eng = get_engine(engine)
    harmonizer = _harmonizer(harmonize)  # a bad weights file fails before any analysis
    src, sf = _source(eng, source, source_face)
    dst = as_picture(target)
    need_id = reference is not None
    ref_face = _reference_face(reference)
    dst_faces = _analyze(dst.rgb, mesh=eng.needs_mesh, identity=need_id)
    chosen = select_targets(dst_faces, dst, target_face, ref_face, reference_threshold)
    opts = SwapOptions(blend=blend, colour_transfer=colour_transfer, keep_mouth=keep_mouth, extra=dict(extra))  # type: ignore[arg-type]
    out = dst.rgb
    for tf in chosen:
        out = _harmonized(harmonizer, out, eng.swap_face(None if src is None else src.rgb, sf, out, tf, opts),  # type: ignore[arg-type]
                          opts.colour_transfer)
    if dst.info.get("grayscale"):
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.repeat(g[..., None], 3, axis=2)
    prov = _provenance(eng, (("source", source), ("target", target), ("reference", reference)), opts, harmonize)
    if prov is not None:  # invisible watermark inside each swapped face (pixels outside stay identical)
        from faceweave.media.provenance import mark_faces

        out = mark_faces(out, dst.rgb, [tf.landmarks for tf in chosen], prov.watermark_id,  # type: ignore[attr-defined]
                         _faces_for_marks)
    pic = Picture(rgb=out, alpha=dst.alpha, source="<swap>", info={**dst.info, "provenance": prov})
    return SwapResult(picture=pic, swapped=[f.index for f in chosen])


def _check_video_job(source: ImageLike | None, target: str | os.PathLike[str], output: str | os.PathLike[str],
                     blend: str, target_face: TargetSelection) -> tuple[Path, Path]:
    """Refuse a video job before any work: output kind and folder, output = an input, bad options."""
    from faceweave.media.image import check_output_path
    from faceweave.media.video import VIDEO_SUFFIXES

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
    if isinstance(target_face, str) and target_face != "all":
        raise FaceweaveError(f"target face must be a number or 'all', not {target_face!r}")
    return out, tp


@contextlib.contextmanager
def _video_progress(bar_wanted: bool, on_frame: Callable[[int, int | None], None] | None, total: int | None,
                    name: str) -> Iterator[Callable[[int], None] | None]:
    """The ``progress(frames_written)`` callback of a video job: a tqdm bar and/or ``on_frame``."""
    bar = None
    if bar_wanted:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="frame", desc=name, leave=False, dynamic_ncols=True)

    def tick(done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
        if on_frame is not None:
            on_frame(done, total)

    try:
        yield tick if (bar is not None or on_frame is not None) else None
    finally:
        if bar is not None:
            bar.close()


def _video_finish(swapper: FrameSwapper, harmonize: bool | str | os.PathLike[str],
                  prov: object | None, colour_transferred: bool = True) -> object | None:
    """Hook the per-frame harmonizer and watermark into ``swapper``; returns ``prov``."""
    from faceweave.media import provenance as pv

    harmonizer = _harmonizer(harmonize)
    if harmonizer is not None:
        swapper.finish = lambda before, after: _harmonized(harmonizer, before, after, colour_transferred)
    if prov is not None and pv.settings().watermark_video:
        from faceweave.realtime import mark_tracked

        swapper.mark = lambda out_rgb, rgb, chosen: mark_tracked(out_rgb, rgb, chosen, prov.watermark_id)  # type: ignore[union-attr]
    return prov


def swap_video(
    source: ImageLike | None,
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
    on_frame: Callable[[int, int | None], None] | None = None,
    workers: int = 2,
    detect_every: int = 12,
    harmonize: bool | str | os.PathLike[str] = False,
    **extra: object,
) -> dict[str, int]:
    """Swap the source face into every frame of a clip; the audio is kept. Returns frame counts.

    The clip streams through :func:`faceweave.media.stream.stream_video` (decode, track, swap and
    encode overlap; ``workers`` frames are swapped at once). Faces are detected every
    ``detect_every`` frames and followed in between (:mod:`faceweave.analysis.track`), so
    ``target_face`` and ``reference`` keep following the same person. Frames without a (matching)
    face are written unchanged; a clip where no frame had one is still written (its frames
    unchanged) with a warning. ``progress`` shows a bar with fps and time left on stderr.
    ``on_frame(done, total)`` is called after each frame (``total`` is None when the container does
    not say); an exception it raises stops the job and leaves no output file (how the web UI cancels).
    """
    from faceweave.analysis.track import FaceTracker
    from faceweave.media.image import check_pixels
    from faceweave.media.stream import stream_video
    from faceweave.media.video import probe
    from faceweave.realtime import FrameSwapper, TargetFollower, frame_parallel, occlusion_tracker

    out, tp = _check_video_job(source, target, output, blend, target_face)
    info = probe(tp)
    check_pixels(info.width, info.height, str(tp))  # frame size, before any frame is decoded
    from faceweave.media import provenance as pv

    with frame_parallel(warm_watermark=pv.settings().enabled and pv.settings().watermark_video):
        eng = get_engine(engine)
        src, sf = _source(eng, source, source_face)
        ref_face = _reference_face(reference)
        opts = SwapOptions(blend=blend, colour_transfer=colour_transfer, keep_mouth=keep_mouth,  # type: ignore[arg-type]
                           extra=dict(extra))
        swapper = FrameSwapper(
            engine=eng, source=None if src is None else src.rgb, source_face=sf, options=opts,
            follower=TargetFollower(target_face, ref_face, reference_threshold),
            tracker=FaceTracker(identity=ref_face is not None, detect_every=detect_every, fps=info.fps),
            occlusion=occlusion_tracker(eng, opts),
        )
        prov = _video_finish(swapper, harmonize, _provenance(eng, (("source", source), ("target", target),
                                                                  ("reference", reference)), opts, harmonize),
                            opts.colour_transfer)
        if not getattr(eng, "thread_safe", True):
            workers = 1

        def finalize(tmp: Path) -> None:
            if prov is None:
                pv.log_disabled(out)
            else:
                pv.finalize_file(tmp, out, prov)  # type: ignore[arg-type]

        with _video_progress(progress, on_frame, info.frames or None, tp.name) as tick:
            n = stream_video(tp, out, swapper.analyse, swapper.render, workers=workers, progress=tick,
                             finalize=finalize)
    if swapper.swapped == 0:
        what = "no face found in any frame" if swapper.faces_seen == 0 else "no face was swapped in any frame"
        if ref_face is not None and swapper.faces_seen:
            what = "no face in any frame matches the reference"
        log.warning("%s: %s of the target video; %s has the %d input frames unchanged", tp, what, out, n)
    return {"frames": n, "swapped": swapper.swapped, "with_faces": swapper.faces_seen}


def swap(source: ImageLike, target: ImageLike, **options: object) -> np.ndarray:
    """Put the source's face onto the target's face(s); returns H×W×3 RGB (H×W×4 when the target has alpha).

    Options: ``engine`` (``"warp"`` default; see ``faceweave.engines.engine_names()``),
    ``source_face`` (index, default the largest), ``target_face`` (index, ``"all"``, default the
    largest), ``reference`` (a photo: replace only the target faces of that identity), ``blend``
    (``"multiband"`` default, ``"alpha"``, ``"poisson"``), ``colour_transfer``, ``keep_mouth``,
    ``harmonize`` (True: the learned harmonizer of seed 004 after the blend; or a weights path).
    """
    res = swap_picture(source, target, **options)  # type: ignore[arg-type]
    p = res.picture
    return np.dstack([p.rgb, p.alpha]) if p.alpha is not None else p.rgb


def save(picture: Picture, path: str | os.PathLike[str], inputs: tuple[ImageLike, ...] = ()) -> str:
    """Write a result atomically with its provenance tag, refusing to overwrite an input."""
    in_paths = tuple(i for i in inputs if isinstance(i, (str, os.PathLike)))
    return str(write_image(path, picture.rgb, picture.alpha, inputs=in_paths,
                           provenance=picture.info.get("provenance")))
