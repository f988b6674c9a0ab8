"""RSGAN training-set builder (Natsume et al., RSGAN, Sec. 3.2 and Fig. 3).

Every face becomes one sample ``(x, x_f, x_h, M_BG, c)``:

1. the face on CelebA's aligned 178×218 template (CelebA's own aligned photos are used as they
   are; any other photo is aligned face by face with :func:`faceweave.analysis.align.align_face`);
2. person mask (mediapipe selfie segmentation, standing in for the paper's PSPNet) on that aligned
   image, ``M_BG = 1 − person``;
3. dlib's 68 landmarks; face mask = convex hull of the 41 eye/nose/mouth points (27–67) stretched
   1.3× horizontally and 1.4× vertically about its centre;
4. face region ``x·mask`` cropped at (x=30, y=70), 118×118; hair region ``x·(1 − mask)`` cropped at
   (x=0, y=20), 178×178; ``x`` and ``M_BG`` cropped like the hair region; all resized to
   ``size``×``size``.

Output folder layout (the format :class:`faceweave.data.dataset.RSGANDataset` reads)::

    OUT/
      dataset.json          format, version, size, attribute_names, keys, split counts, shard list
      manifest.jsonl        one row per sample, in sample order:
                            {"index", "source", "face", "split", "flip", "shard", "offset", "c"}
      failures.jsonl        one row per input or face that gave no sample: {"source", "face", "reason"}
      shards/shard-NNNNN.npz
      shards/shard-NNNNN.json   the shard's inputs, config, manifest rows and failures (resume record)
      preview.png           with --preview K: contact sheet like Fig. 3 (a)–(f)

A shard is a ZIP archive that ``numpy.load`` opens as an ``.npz``. It holds one member per sample
and key, ``{offset:05d}.{key}.npy`` (so one sample is read without decompressing the others):

    x, x_f, x_h   size×size×3 uint8 RGB (x_f, x_h are 0 outside their region)
    m_bg          size×size uint8, 255 = background (in the frame of ``x``)
    m_face        size×size uint8, 255 = face mask (in the frame of ``x``; used by RSGAN-GD)
    c             [A] int8 attributes, 0/1 (A = 0 for plain folders)

Members are deflated at level 6 with a fixed timestamp, and every file is written in input
order, so the same input gives byte-identical shards whatever the number of workers.

Shard ``k`` holds the samples of inputs ``k·N … k·N + N − 1`` (inputs sorted by relative path, ``N``
= ``shard_inputs``). A rerun skips every shard whose ``.json`` record names the same inputs and
config and whose ``.npz`` has the recorded size; shards are written atomically, so an interrupted
build resumes at the first unfinished shard.

Splits: CelebA keeps ``list_eval_partition.txt`` (0 train, 1 val, 2 test). A plain folder is split
by hashing, independent of identity: ``sha1("<relative path>#<face index>")`` — for a video frame the
relative path carries the frame time, ``clip.mp4@12.500`` — first 8 hex digits as an integer mod 100:
< 90 train, < 95 val, else test. A flipped copy (``flip=True``) shares its original's split.

Videos (only when ``video_every > 0``): one frame every ``video_every`` seconds, and a face is kept
only if its aligned crop (grey, 44×54) differs from the last kept crop of the same face index by a
mean absolute difference of at least ``video_min_diff`` (in [0, 1]), so near-duplicates are few.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.media.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT_NAME = "faceweave-rsgan-shards"
FORMAT_VERSION = 1
SAMPLE_KEYS = ("x", "x_f", "x_h", "m_bg", "m_face", "c")
SPLITS = ("train", "val", "test")

TEMPLATE_SIZE = (178, 218)  # (width, height) of CelebA's aligned photos
# The paper's "(30, 70)" and "(0, 20)" are read as (x, y) top-left corners: read as (row, col) the
# face box would run to column 188, past the 178-px width, so (x, y) is the only reading that fits.
FACE_BOX = (30, 70, 118, 118)  # x, y, width, height
HAIR_BOX = (0, 20, 178, 178)
STRETCH = (1.3, 1.4)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")
CELEBA_ATTR = "list_attr_celeba.txt"
CELEBA_PARTITION = "list_eval_partition.txt"
CELEBA_IMAGES = "img_align_celeba"

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 6


# --------------------------------------------------------------------------------------------
# the per-sample pipeline (pure)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if size < min(img.shape[:2]) else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def _box_points(landmarks: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Landmarks (template pixels) in the pixel frame of ``box`` resized to ``size``×``size``."""
    x0, y0, w, h = box
    # pixel centres: template pixel i lands at (i + 0.5) · s − 0.5 after the resize
    s = np.array([size / w, size / h])
    return (np.asarray(landmarks, np.float64)[:, :2] - (x0, y0) + 0.5) * s - 0.5


def build_sample(
    aligned: np.ndarray,
    landmarks: np.ndarray,
    size: int = 128,
    person: np.ndarray | None = None,
    *,
    face_box: tuple[int, int, int, int] = FACE_BOX,
    hair_box: tuple[int, int, int, int] = HAIR_BOX,
    stretch: tuple[float, float] = STRETCH,
) -> dict[str, np.ndarray]:
    """Fig. 3 for one face: an aligned 178×218 RGB uint8 image and its 68 landmarks (in that image).

    ``person`` is the 218×178 person mask in [0, 1] (computed with mediapipe when omitted).
    Returns ``x``, ``x_f``, ``x_h`` (size×size×3 uint8), ``m_bg`` and ``m_face`` (size×size uint8,
    0/255, in the frame of ``x``).

    Readings of the paper taken here:

    - the masks are applied before the crops, and the pixels masked out are 0 (black), as in
      Fig. 3 (e), (f);
    - the face mask is rasterised directly at the output resolution of each crop (from the landmarks
      mapped into that crop), so ``x_h`` is exactly 0 inside ``m_face`` and ``x_f`` exactly 0 outside
      it, without resampling blur across the mask edge;
    - the hull is stretched about the centre of its bounding box (see ``rsgan_face_mask``);
    - the person mask is thresholded at 0.5 (PSPNet gives hard labels), and M_BG is set to 0 inside
      the face mask: the face is part of the person by definition, and a face pixel marked as
      background would get the lower reconstruction weight (1 − β·M_BG) in Eq. (1).
    """
    from faceweave.analysis.masks import person_mask, rsgan_face_mask

    w, h = TEMPLATE_SIZE
    if aligned.shape != (h, w, 3) or aligned.dtype != np.uint8:
        raise ValueError(f"build_sample expects a {h}×{w}×3 uint8 aligned image, got {aligned.dtype} {aligned.shape}")
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"build_sample expects 68×2 landmarks, got {lm.shape}")
    if person is None:
        person = person_mask(aligned, threshold=0.5)

    hx, hy, hw, hh = hair_box
    fx, fy, fw, fh = face_box
    x = _resize(aligned[hy : hy + hh, hx : hx + hw], size)
    face_crop = _resize(aligned[fy : fy + fh, fx : fx + fw], size)
    m_face = rsgan_face_mask((size, size), _box_points(lm, hair_box, size), *stretch)
    m_face_f = rsgan_face_mask((size, size), _box_points(lm, face_box, size), *stretch)
    x_h = x * (1 - m_face).astype(np.uint8)[..., None]
    x_f = face_crop * m_face_f.astype(np.uint8)[..., None]

    bg = 1.0 - np.asarray(person, np.float32)[hy : hy + hh, hx : hx + hw]
    bg = cv2.resize(bg, (size, size), interpolation=cv2.INTER_AREA) >= 0.5
    bg &= m_face < 0.5
    return {
        "x": np.ascontiguousarray(x),
        "x_f": np.ascontiguousarray(x_f),
        "x_h": np.ascontiguousarray(x_h),
        "m_bg": bg.astype(np.uint8) * 255,
        "m_face": (m_face > 0.5).astype(np.uint8) * 255,
    }


def flip_sample(sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mirror a sample left–right.

    Both crops are centred on the template's vertical axis (30 + 118 = 178 − 30; 0 + 178 = 178), so
    mirroring the outputs equals building from the mirrored aligned photo.
    """
    out = {}
    for k, v in sample.items():
        out[k] = np.ascontiguousarray(v[:, ::-1]) if k != "c" and v.ndim >= 2 else v.copy()
    return out


def split_of(key: str) -> str:
    """Identity-free split by hashing: sha1(key) → 90 % train, 5 % val, 5 % test."""
    h = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if h < 90 else "val" if h < 95 else "test"


# --------------------------------------------------------------------------------------------
# inputs


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


# --------------------------------------------------------------------------------------------
# per-input processing (runs in the worker processes)


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
    from faceweave.analysis.masks import person_mask

    person = person_mask(aligned, threshold=0.5)
    s = build_sample(aligned, landmarks, cfg.size, person)
    if cfg.landmark_attributes and not cfg.celeba:
        from faceweave.analysis.attributes import landmark_attributes

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
    from faceweave.analysis import analyze
    from faceweave.analysis.align import align_face, transform_points

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
    from faceweave.media import read_image

    rgb = read_image(item.path).rgb
    for idx, aligned, lm in _faces_of(rgb, cfg, item.rel, res):
        _add_face(res, cfg, item, item.rel, idx, aligned, lm, split_of(f"{item.rel}#{idx}"), keep_preview)


def _process_celeba(item: Item, cfg: BuildConfig, res: ItemResult, keep_preview: bool) -> None:
    from faceweave.analysis.align import align_face, transform_points
    from faceweave.analysis.detect import detect_faces
    from faceweave.analysis.landmarks import landmarks_68
    from faceweave.media import read_image

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
        container = av.open(item.path)
    except (av.error.FFmpegError, OSError) as e:
        raise FaceweaveError(f"{item.rel}: cannot open video ({e})") from None
    with container:
        if not container.streams.video:
            raise FaceweaveError(f"{item.rel}: no video stream")
        stream = container.streams.video[0]
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


# --------------------------------------------------------------------------------------------
# shards


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def write_shard(path: Path, samples: list[dict[str, np.ndarray]]) -> int:
    """Write a deterministic shard (fixed timestamps, fixed compression); returns its size in bytes."""

    def write(f: io.BufferedWriter) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_ZIP_LEVEL) as zf:
            for i, s in enumerate(samples):
                for key in SAMPLE_KEYS:
                    info = zipfile.ZipInfo(f"{i:05d}.{key}.npy", date_time=_ZIP_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, _npy_bytes(s[key]), compresslevel=_ZIP_LEVEL)

    _atomic_write(path, write)
    return path.stat().st_size


def _dump_json(path: Path, obj: Any) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    _atomic_write(path, lambda f: f.write(data))


def _dump_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    _atomic_write(path, lambda f: f.write(data))


def _shard_record(item_list: list[Item], cfg: BuildConfig) -> dict[str, Any]:
    return {"inputs": [it.rel for it in item_list], "config": cfg.as_dict()}


def _shard_done(shards: Path, k: int, expect: dict[str, Any]) -> dict[str, Any] | None:
    rec_path = shards / f"shard-{k:05d}.json"
    npz = shards / f"shard-{k:05d}.npz"
    try:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if rec.get("inputs") != expect["inputs"] or rec.get("config") != expect["config"]:
        return None
    if not npz.is_file() or npz.stat().st_size != rec.get("bytes"):
        return None
    return rec


# --------------------------------------------------------------------------------------------
# the build


@dataclass
class BuildSummary:
    """What a build did, for the CLI's report and the tests."""

    out: Path
    inputs: int
    samples: int
    failures: int
    shards: int
    shards_built: int
    shards_skipped: int
    counts: dict[str, int]
    seconds: float
    samples_built: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples_built / self.seconds if self.seconds > 0 else 0.0


def collect_items(src: Path, out: Path, celeba: bool, with_videos: bool) -> tuple[list[Item], list[str]]:
    """The inputs of a build (sorted), and the attribute names (CelebA) or []."""
    if not src.exists():
        raise FaceweaveError(f"{src}: no such folder")
    if not src.is_dir():
        raise FaceweaveError(f"{src}: is not a folder")
    if celeba:
        items, names = read_celeba(src)
        if not items:
            raise FaceweaveError(f"{src / CELEBA_ATTR}: lists no photos")
        return items, names
    items = _walk(src, out.resolve() if out.exists() else None, with_videos)
    if not items:
        kinds = "jpg, jpeg, png, webp" + (", or videos" if with_videos else "")
        raise FaceweaveError(f"{src}: no photos found ({kinds}, searched recursively)")
    return items, []


def build_dataset(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    celeba: bool = False,
    size: int = 128,
    workers: int = 1,
    preview: int = 0,
    flip: bool = False,
    min_face: int = 40,
    video_every: float = 0.0,
    video_min_diff: float = 0.02,
    shard_inputs: int = 500,
    limit: int | None = None,
    progress: bool | None = None,
    landmark_attributes: bool = False,
) -> BuildSummary:
    """Build (or resume) an RSGAN shard set from ``src`` into ``out``; see the module docstring."""
    import time

    from tqdm import tqdm

    src_p, out_p = Path(src), Path(out)
    if size < 8:
        raise FaceweaveError(f"--size {size}: must be at least 8")
    if shard_inputs < 1:
        raise FaceweaveError("--shard-inputs must be at least 1")
    if out_p.exists() and not out_p.is_dir():
        raise FaceweaveError(f"{out_p}: exists and is not a folder")
    items, names = collect_items(src_p, out_p, celeba, video_every > 0)
    if limit is not None:
        items = items[:limit]
    if landmark_attributes and not celeba:
        from faceweave.analysis.attributes import LANDMARK_ATTRIBUTES

        names = list(LANDMARK_ATTRIBUTES)
    cfg = BuildConfig(size, celeba, flip, min_face, video_every, video_min_diff, len(names),
                      landmark_attributes and not celeba)
    shards_dir = out_p / "shards"
    try:
        shards_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaceweaveError(f"{out_p}: cannot create output folder ({e.strerror or e})") from None

    chunks = [items[i : i + shard_inputs] for i in range(0, len(items), shard_inputs)]
    records: list[dict[str, Any] | None] = []
    for k, chunk in enumerate(chunks):
        records.append(_shard_done(shards_dir, k, _shard_record(chunk, cfg)))
    todo = [k for k, r in enumerate(records) if r is None]
    n_todo_items = sum(len(chunks[k]) for k in todo)
    log.info(
        "%d inputs in %d shard(s): %d to build, %d already done",
        len(items),
        len(chunks),
        len(todo),
        len(chunks) - len(todo),
    )

    t0 = time.perf_counter()
    built = 0
    jobs = ((it, cfg) for k in todo for it in chunks[k])
    pool = None
    if workers > 1 and n_todo_items > 1:
        pool = mp.get_context("spawn").Pool(
            min(workers, n_todo_items), initializer=_worker_init, initargs=(logging.getLogger().level,)
        )
        results: Iterator[ItemResult] = pool.imap(_work, jobs, chunksize=1)
    else:
        results = (_work(j) for j in jobs)
    bar = tqdm(total=n_todo_items, unit="input", disable=(not progress) if progress is not None else None)
    try:
        for k in todo:
            samples: list[dict[str, np.ndarray]] = []
            rows: list[dict[str, Any]] = []
            failures: list[dict[str, Any]] = []
            for _ in chunks[k]:
                r = next(results)
                samples.extend(r.samples)
                rows.extend(r.rows)
                failures.extend(r.failures)
                bar.update(1)
                bar.set_postfix(samples=built + len(samples), failed=len(failures), refresh=False)
            for off, row in enumerate(rows):
                row["shard"], row["offset"] = k, off
            nbytes = write_shard(shards_dir / f"shard-{k:05d}.npz", samples)
            rec = {**_shard_record(chunks[k], cfg), "bytes": nbytes, "rows": rows, "failures": failures}
            rec["c"] = [s["c"].tolist() for s in samples] if names else []
            _dump_json(shards_dir / f"shard-{k:05d}.json", rec)
            records[k] = rec
            built += len(samples)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    seconds = time.perf_counter() - t0

    # stale shards from an earlier, larger build of the same folder
    for p in sorted(shards_dir.glob("shard-*.*")):
        try:
            k = int(p.stem.split("-")[1])
        except (IndexError, ValueError):
            continue
        if k >= len(chunks):
            p.unlink()

    manifest: list[dict[str, Any]] = []
    all_failures: list[dict[str, Any]] = []
    shard_list = []
    for k, rec in enumerate(records):
        assert rec is not None
        cs = rec.get("c") or []
        for row, c in zip(rec["rows"], cs or [None] * len(rec["rows"]), strict=True):
            manifest.append({"index": len(manifest), **row, **({"c": c} if c is not None else {})})
        all_failures.extend(rec["failures"])
        shard_list.append({"file": f"shards/shard-{k:05d}.npz", "samples": len(rec["rows"]), "bytes": rec["bytes"]})
    counts = {s: sum(1 for r in manifest if r["split"] == s) for s in SPLITS}
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "size": size,
        "mode": "celeba" if celeba else "folder",
        "attribute_names": names,
        "keys": list(SAMPLE_KEYS),
        "template": {
            "size": list(TEMPLATE_SIZE),
            "face_box": list(FACE_BOX),
            "hair_box": list(HAIR_BOX),
            "stretch": list(STRETCH),
        },
        "config": cfg.as_dict(),
        "inputs": len(items),
        "samples": len(manifest),
        "failures": len(all_failures),
        "counts": counts,
        "shards": shard_list,
    }
    _dump_jsonl(out_p / "manifest.jsonl", manifest)
    _dump_jsonl(out_p / "failures.jsonl", all_failures)
    _dump_json(out_p / "dataset.json", meta)

    if preview > 0:
        from faceweave.data.preview import write_preview

        write_preview(out_p / "preview.png", items, cfg, preview)

    summary = BuildSummary(
        out_p,
        len(items),
        len(manifest),
        len(all_failures),
        len(chunks),
        len(todo),
        len(chunks) - len(todo),
        counts,
        seconds,
        built,
    )
    log.info(
        "%d samples (train %d, val %d, test %d) from %d inputs; %d failure(s) listed in %s",
        summary.samples,
        counts["train"],
        counts["val"],
        counts["test"],
        len(items),
        len(all_failures),
        out_p / "failures.jsonl",
    )
    if built:
        log.info("built %d samples in %.1f s (%.2f samples/s, %d worker(s))", built, seconds, built / seconds, workers)
    return summary


if __name__ == "__main__":
    from faceweave.data.cli import main as _main

    sys.exit(_main())
