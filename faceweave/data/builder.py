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

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from faceweave.analysis.attributes import LANDMARK_ATTRIBUTES
from faceweave.data.inputs import (
    CELEBA_ATTR,
    PHOTO_SUFFIXES,
    VIDEO_SUFFIXES,
    BuildConfig,
    Item,
    ItemResult,
    _walk,
    _work,
    _worker_init,
    process_item,
    read_celeba,
)
from faceweave.data.preview import write_preview
from faceweave.data.sample import (
    FACE_BOX,
    HAIR_BOX,
    SPLITS,
    STRETCH,
    TEMPLATE_SIZE,
    build_sample,
    flip_sample,
    split_of,
)
from faceweave.data.shards import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SAMPLE_KEYS,
    dump_json,
    dump_jsonl,
    shard_done,
    shard_record,
    write_shard,
)
from faceweave.errors import FaceweaveError, ParameterError

__all__ = [
    "FACE_BOX", "FORMAT_NAME", "FORMAT_VERSION", "HAIR_BOX", "PHOTO_SUFFIXES", "SAMPLE_KEYS", "SPLITS", "STRETCH",
    "TEMPLATE_SIZE", "VIDEO_SUFFIXES", "BuildConfig", "BuildSummary", "Item", "ItemResult", "build_dataset",
    "build_sample", "collect_items", "flip_sample", "process_item", "read_celeba", "split_of", "write_shard",
]

log = logging.getLogger(__name__)


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


def _results(jobs: Iterator[tuple[Item, BuildConfig]], n: int, workers: int) -> tuple[Iterator[ItemResult], Any]:
    """Per-input results in input order: from a pool of spawned workers, or in this process."""
    if workers > 1 and n > 1:
        pool = mp.get_context("spawn").Pool(
            min(workers, n), initializer=_worker_init, initargs=(logging.getLogger().level,)
        )
        return pool.imap(_work, jobs, chunksize=1), pool
    return (_work(j) for j in jobs), None


def _build_shards(
    shards_dir: Path,
    chunks: list[list[Item]],
    todo: list[int],
    records: list[dict[str, Any] | None],
    cfg: BuildConfig,
    with_attributes: bool,
    workers: int,
    progress: bool | None,
) -> int:
    """Build the shards numbered in ``todo`` (filling ``records``); returns the number of samples built."""
    n_todo_items = sum(len(chunks[k]) for k in todo)
    results, pool = _results(((it, cfg) for k in todo for it in chunks[k]), n_todo_items, workers)
    bar = tqdm(total=n_todo_items, unit="input", disable=(not progress) if progress is not None else None)
    built = 0
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
            rec = {**shard_record(chunks[k], cfg), "bytes": nbytes, "rows": rows, "failures": failures}
            rec["c"] = [s["c"].tolist() for s in samples] if with_attributes else []
            dump_json(shards_dir / f"shard-{k:05d}.json", rec)
            records[k] = rec
            built += len(samples)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    return built


def _remove_stale_shards(shards_dir: Path, n_shards: int) -> None:
    """Shards left by an earlier, larger build of the same folder."""
    for p in sorted(shards_dir.glob("shard-*.*")):
        try:
            k = int(p.stem.split("-")[1])
        except (IndexError, ValueError):
            continue
        if k >= n_shards:
            p.unlink()


def _write_index(
    out_p: Path,
    records: list[dict[str, Any] | None],
    items: list[Item],
    names: list[str],
    cfg: BuildConfig,
    size: int,
    celeba: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``manifest.jsonl``, ``failures.jsonl`` and ``dataset.json`` from the shard records."""
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
    dump_jsonl(out_p / "manifest.jsonl", manifest)
    dump_jsonl(out_p / "failures.jsonl", all_failures)
    dump_json(out_p / "dataset.json", meta)
    return manifest, all_failures


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
    src_p, out_p = Path(src), Path(out)
    if size < 8:
        raise ParameterError("size", size, "must be at least 8")
    if shard_inputs < 1:
        raise ParameterError("shard_inputs", shard_inputs, "must be at least 1")
    if out_p.exists() and not out_p.is_dir():
        raise FaceweaveError(f"{out_p}: exists and is not a folder")
    items, names = collect_items(src_p, out_p, celeba, video_every > 0)
    if limit is not None:
        items = items[:limit]
    if landmark_attributes and not celeba:
        names = list(LANDMARK_ATTRIBUTES)
    cfg = BuildConfig(size, celeba, flip, min_face, video_every, video_min_diff, len(names),
                      landmark_attributes and not celeba)
    shards_dir = out_p / "shards"
    try:
        shards_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaceweaveError(f"{out_p}: cannot create output folder ({e.strerror or e})") from None

    chunks = [items[i : i + shard_inputs] for i in range(0, len(items), shard_inputs)]
    records: list[dict[str, Any] | None] = [
        shard_done(shards_dir, k, shard_record(c, cfg)) for k, c in enumerate(chunks)
    ]
    todo = [k for k, r in enumerate(records) if r is None]
    log.info("%d inputs in %d shard(s): %d to build, %d already done",
             len(items), len(chunks), len(todo), len(chunks) - len(todo))
    t0 = time.perf_counter()
    built = _build_shards(shards_dir, chunks, todo, records, cfg, bool(names), workers, progress)
    seconds = time.perf_counter() - t0
    _remove_stale_shards(shards_dir, len(chunks))
    manifest, all_failures = _write_index(out_p, records, items, names, cfg, size, celeba)
    if preview > 0:
        write_preview(out_p / "preview.png", items, cfg, preview)
    counts = {s: sum(1 for r in manifest if r["split"] == s) for s in SPLITS}
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
