"""The inputs of a dataset build (photos, video clips, CelebA) and their processing into samples.

:func:`process_item` runs in the worker processes of :func:`faceweave.data.builder.build_dataset`:
it finds the faces of one input, aligns each to the CelebA template and builds its sample
(:func:`faceweave.data.sample.build_sample`); a bad input becomes a failure row, never an exception.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceweave.analysis import analyze
from faceweave.analysis.align import align_face, transform_points
from faceweave.analysis.attributes import landmark_attributes
from faceweave.analysis.detect import detect_faces
from faceweave.analysis.landmarks import landmarks_68
from faceweave.analysis.masks import person_mask
from faceweave.choices import DATASET_PHOTO_SUFFIXES, VIDEO_SUFFIXES
from faceweave.data.sample import SPLITS, TEMPLATE_SIZE, build_sample, flip_sample, split_of
from faceweave.errors import FaceweaveError
from faceweave.media import read_image
from faceweave.media.video import check_frame_size, open_video

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = DATASET_PHOTO_SUFFIXES
CELEBA_ATTR = "list_attr_celeba.txt"
CELEBA_PARTITION = "list_eval_partition.txt"
CELEBA_IMAGES = "img_align_celeba"


@dataclass(frozen=True)
class Item:
    """One input: a photo, a video clip, or a CelebA aligned photo (with its split and labels)."""

    kind: str  # "photo" | "video" | "celeba"
    path: str
    rel: str
    split: str | None = None
    attrs: tuple[int, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    """Options that decide the content of the shards (recorded with each shard for resume)."""

    size: int = 128
    celeba: bool = False
    flip: bool = False
    min_face: int = 40
    video_every: float = 0.0
    video_min_diff: float = 0.02
    n_attr: int = 0
    landmark_attributes: bool = False  # plain folders: label c from the landmarks (analysis.attributes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ItemResult:
    samples: list[dict[str, np.ndarray]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def _walk(src: Path, exclude: Path | None, with_videos: bool) -> list[Item]:
    suffixes = PHOTO_SUFFIXES + (VIDEO_SUFFIXES if with_videos else ())
    items: list[Item] = []
    skipped_videos = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        d = Path(dirpath)
        if exclude is not None:
            dirnames[:] = [n for n in dirnames if (d / n).resolve() != exclude]
        dirnames.sort()
        for name in sorted(filenames):
            suf = Path(name).suffix.lower()
            if name.startswith("."):
                continue
            if suf not in suffixes:
                skipped_videos += suf in VIDEO_SUFFIXES
                continue
            p = d / name
            kind = "video" if suf in VIDEO_SUFFIXES else "photo"
            items.append(Item(kind, str(p), p.relative_to(src).as_posix()))
    if skipped_videos:
        log.info("%d video file(s) ignored (use --video-every to sample their frames)", skipped_videos)
    items.sort(key=lambda it: it.rel)
    return items


def _read_table(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f if line.strip()]


def read_celeba(src: Path) -> tuple[list[Item], list[str]]:
    """Items and the 40 attribute names of a CelebA folder (labels −1/1 → 0/1, official split)."""
    for name in (CELEBA_IMAGES, CELEBA_ATTR, CELEBA_PARTITION):
        if not (src / name).exists():
            raise FaceweaveError(f"{src}: not a CelebA folder ({name} is missing)")
    rows = _read_table(src / CELEBA_ATTR)
    try:
        names = rows[1]
        parts = {r[0]: int(r[1]) for r in _read_table(src / CELEBA_PARTITION)}
    except (IndexError, ValueError) as e:
        raise FaceweaveError(f"{src}: cannot parse {CELEBA_ATTR} / {CELEBA_PARTITION} ({e})") from None
    items: list[Item] = []
    for r in rows[2:]:
        if len(r) != len(names) + 1:
            raise FaceweaveError(f"{src / CELEBA_ATTR}: row for {r[0]} has {len(r) - 1} values, expected {len(names)}")
        split = SPLITS[parts[r[0]]] if parts.get(r[0]) in (0, 1, 2) else None
        attrs = tuple(1 if int(v) > 0 else 0 for v in r[1:])
        items.append(Item("celeba", str(src / CELEBA_IMAGES / r[0]), f"{CELEBA_IMAGES}/{r[0]}", split, attrs))
    items.sort(key=lambda it: it.rel)
    return items, names


def _rel_message(e: BaseException, item: Item) -> str:
    return str(e).replace(item.path, item.rel).splitlines()[0] if str(e) else type(e).__name__


def _add_face(
    res: ItemResult,
    cfg: BuildConfig,
    item: Item,
    source: str,
    face: int,
    aligned: np.ndarray,
    landmarks: np.ndarray,
    split: str,
    keep_preview: bool,
) -> None:
    person = person_mask(aligned, threshold=0.5)
    s = build_sample(aligned, landmarks, cfg.size, person)
    if cfg.landmark_attributes and not cfg.celeba:
        s["c"] = landmark_attributes(landmarks)
    else:
        s["c"] = np.asarray(item.attrs, np.int8).reshape(len(item.attrs))
    if keep_preview:
        s["_aligned"], s["_landmarks"], s["_person"] = aligned, np.asarray(landmarks, np.float32), person
    row: dict[str, Any] = {"source": source, "face": face, "split": split, "flip": False}
    res.samples.append(s)
    res.rows.append(row)
    if cfg.flip:
        res.samples.append(flip_sample({k: v for k, v in s.items() if not k.startswith("_")}))
        res.rows.append({**row, "flip": True})


def _faces_of(
    rgb: np.ndarray, cfg: BuildConfig, source: str, res: ItemResult
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(face index, aligned crop, landmarks in the crop) for each usable face of a photo or frame."""
    faces = analyze(rgb, mesh=False, identity=False)
    if not faces:
        res.failures.append({"source": source, "face": None, "reason": "no face found"})
    for f in faces:
        if min(f.width, f.height) < cfg.min_face:
            res.failures.append(
                {"source": source, "face": f.index, "reason": f"face too small ({f.width:.0f}×{f.height:.0f} px)"}
            )
            continue
        aligned, m = align_face(rgb, f.landmarks, TEMPLATE_SIZE)
        # The photo's landmarks are mapped into the crop rather than detected again on it: the
        # mapping is exact and the photo usually has more pixels on the face than the crop.
        yield f.index, aligned, transform_points(f.landmarks, m).astype(np.float32)


def _process_photo(item: Item, cfg: BuildConfig, res: ItemResult, keep_preview: bool) -> None:
    rgb = read_image(item.path).rgb
    for idx, aligned, lm in _faces_of(rgb, cfg, item.rel, res):
        _add_face(res, cfg, item, item.rel, idx, aligned, lm, split_of(f"{item.rel}#{idx}"), keep_preview)


def _process_celeba(item: Item, cfg: BuildConfig, res: ItemResult, keep_preview: bool) -> None:
    if item.split is None:
        res.failures.append({"source": item.rel, "face": None, "reason": f"not listed in {CELEBA_PARTITION}"})
        return
    rgb = read_image(item.path).rgb
    dets = detect_faces(rgb)
    if not dets:
        res.failures.append({"source": item.rel, "face": None, "reason": "no face found"})
        return
    lm = landmarks_68(rgb, dets[0].box)  # the largest face: CelebA's aligned photo is centred on it
    w, h = TEMPLATE_SIZE
    if rgb.shape[:2] != (h, w):  # not CelebA's aligned size: align it like any other photo
        rgb, m = align_face(rgb, lm, TEMPLATE_SIZE)
        lm = transform_points(lm, m).astype(np.float32)
    _add_face(res, cfg, item, item.rel, 0, rgb, lm, item.split, keep_preview)


def _thumb(aligned: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (44, 54), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _process_video(item: Item, cfg: BuildConfig, res: ItemResult, keep_preview: bool) -> None:
    import av

    last: dict[int, np.ndarray] = {}
    next_t = 0.0
    try:
        container = open_video(item.path)
    except (av.error.FFmpegError, OSError) as e:
        raise FaceweaveError(f"{item.rel}: cannot open video ({e})") from None
    with container:
        if not container.streams.video:
            raise FaceweaveError(f"{item.rel}: no video stream")
        stream = container.streams.video[0]
        check_frame_size(stream, item.rel)
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else next_t
                if t + 1e-6 < next_t:
                    continue
                next_t = t + cfg.video_every
                rgb = frame.to_ndarray(format="rgb24")
                source = f"{item.rel}@{t:.3f}"
                faces_res = ItemResult()
                for idx, aligned, lm in _faces_of(rgb, cfg, source, faces_res):
                    th = _thumb(aligned)
                    if idx in last and float(np.abs(th - last[idx]).mean()) < cfg.video_min_diff:
                        continue
                    last[idx] = th
                    _add_face(res, cfg, item, source, idx, aligned, lm, split_of(f"{source}#{idx}"), keep_preview)
                # frames without a face are normal in a clip: they are not listed as failures
                res.failures.extend(f for f in faces_res.failures if f["face"] is not None)
        except av.error.FFmpegError as e:
            res.failures.append({"source": item.rel, "face": None, "reason": f"video decoding stopped: {e}"})


def process_item(item: Item, cfg: BuildConfig, keep_preview: bool = False) -> ItemResult:
    """All samples of one input; never raises for a bad input (it becomes a failure row)."""
    res = ItemResult()
    try:
        if item.kind == "celeba":
            _process_celeba(item, cfg, res, keep_preview)
        elif item.kind == "video":
            _process_video(item, cfg, res, keep_preview)
        else:
            _process_photo(item, cfg, res, keep_preview)
    except Exception as e:  # noqa: BLE001 - one bad photo must never abort the build
        if not isinstance(e, FaceweaveError):
            log.debug("%s failed", item.rel, exc_info=True)
        # keep what was built before the error (a video cut short), list the error
        res.failures.append({"source": item.rel, "face": None, "reason": _rel_message(e, item)})
    return res


def _work(args: tuple[Item, BuildConfig]) -> ItemResult:
    return process_item(*args)


def _worker_init(level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    cv2.setNumThreads(1)
