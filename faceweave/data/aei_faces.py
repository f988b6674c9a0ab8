"""AEI-Net training data: a folder of aligned face crops in the AEI frame, with optional identity labels.

Layout written by :func:`build_aei_faces` (``faceweave build-dataset SRC OUT --aei``) and read by
:class:`AEIFaceDataset`::

    OUT/faces.json          {"format": "faceweave-aei-faces", "size": S, "faces": [{"file", "identity", "source"}]}
    OUT/<identity>/<n>.png  S×S RGB crops, aligned so that ArcFace's 112 template is the central box

Identity labels (all optional; they only decide which pairs count as "same identity" for L_rec):

* VGGFace2 layout (``SRC/<identity>/*.jpg``): the sub-folder name;
* ``--identities FILE`` (CelebA's ``identity_CelebA.txt`` format, "file identity" per line; also for
  CelebA-HQ / FFHQ when you have labels): the listed identity;
* otherwise: a video clip is one identity (its largest face per frame), every face of a photo is its
  own identity (FFHQ / CelebA-HQ without labels). A same-identity pair is then the image with itself,
  which is FaceShifter's own reading of "X_s = X_t".

Pairs: :class:`PairBatchSampler` turns each batch of target indices into (target, source, same)
triples; a share ``same_ratio`` (the thesis: 1 in 5) of the sources are drawn from the target's
identity. The draw is seeded by (seed, rank, step), so a resumed run sees exactly the same pairs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

FORMAT = "faceweave-aei-faces"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


# ---------------------------------------------------------------------- building
def _identity_table(path: str | os.PathLike[str] | None) -> dict[str, str]:
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise FaceweaveError(f"--identities {p}: no such file")
    table = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            table[parts[0]] = parts[1]
    return table


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _list_sources(srcp: Path, outp: Path, video_every: float, limit: int | None) -> list[Path]:
    """The photos (and clips, with ``video_every``) under ``srcp``, sorted, outside ``outp``."""
    files = sorted(p for p in srcp.rglob("*") if p.is_file() and not p.name.startswith("."))
    files = [p for p in files if p.suffix.lower() in PHOTO_SUFFIXES + (VIDEO_SUFFIXES if video_every > 0 else ())]
    if outp.exists():
        files = [p for p in files if outp.resolve() not in p.resolve().parents]
    if limit is not None:
        files = files[:limit]
    return files


class _CropWriter:
    """Writes AEI-frame crops as ``<identity>/<n>.png`` under ``outp`` (atomically) and keeps their rows."""

    def __init__(self, outp: Path, size: int) -> None:
        self.outp, self.size = outp, size
        self.faces: list[dict[str, str]] = []
        self.failures: list[dict[str, str]] = []

    def save(self, rgb: np.ndarray, landmarks: np.ndarray, ident: str, source: str) -> np.ndarray:
        from faceweave.media.atomic import atomic_write
        from faceweave.models.aei.frame import aei_matrix

        size = self.size
        crop = cv2.warpAffine(rgb, aei_matrix(landmarks, size), (size, size), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_REPLICATE)
        rel = f"{_safe(ident)}/{len(self.faces):07d}.png"
        (self.outp / _safe(ident)).mkdir(exist_ok=True)
        bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        png = cv2.imencode(".png", bgr)[1].tobytes()
        atomic_write(self.outp / rel, lambda q: Path(q).write_bytes(png))
        self.faces.append({"file": rel, "identity": ident, "source": source})
        return crop

    def fail(self, source: str, reason: str) -> None:
        self.failures.append({"source": source, "reason": reason})


def _clip_faces(p: Path, rel: str, ident: str, writer: _CropWriter, video_every: float, video_min_diff: float,
                min_face: int) -> None:
    """The largest face of a frame every ``video_every`` s, skipping frames too like the last one kept."""

    from faceweave.analysis import analyze
    from faceweave.media.video import check_frame_size, open_video
    from faceweave.models.aei.frame import aei_matrix

    last: np.ndarray | None = None
    next_t = 0.0
    try:
        with open_video(p) as container:
            check_frame_size(container.streams.video[0], rel)
            for frame in container.decode(container.streams.video[0]):
                t = float(frame.time or 0.0)
                if t + 1e-6 < next_t:
                    continue
                next_t = t + video_every
                rgb = frame.to_ndarray(format="rgb24")
                found = analyze(rgb, mesh=False, identity=False, max_faces=1)
                if not found or min(found[0].width, found[0].height) < min_face:
                    continue
                small = cv2.resize(
                    cv2.warpAffine(rgb, aei_matrix(found[0].landmarks, 32), (32, 32)), (32, 32)
                ).astype(np.float32) / 255
                if last is not None and float(np.abs(small - last).mean()) < video_min_diff:
                    continue
                last = small
                writer.save(rgb, found[0].landmarks, ident, f"{rel}@{t:.2f}")
    except Exception as e:  # noqa: BLE001 - a bad clip is a failure row, not a crash
        writer.fail(rel, f"video: {e}")


def _photo_faces(p: Path, rel: str, folder_id: str | None, table: dict[str, str], writer: _CropWriter,
                 min_face: int) -> None:
    """Every face of a photo at least ``min_face`` pixels wide and high."""
    from faceweave.analysis import analyze
    from faceweave.media import read_image

    try:
        rgb = read_image(p).rgb
    except FaceweaveError as e:
        writer.fail(rel, str(e))
        return
    found = analyze(rgb, mesh=False, identity=False)
    if not found:
        writer.fail(rel, "no face found")
    for f in found:
        if min(f.width, f.height) < min_face:
            writer.fail(f"{rel}#{f.index}", "face too small")
            continue
        ident = folder_id or table.get(rel) or table.get(p.name) or f"{Path(rel).stem}_f{f.index}"
        writer.save(rgb, f.landmarks, ident, f"{rel}#{f.index}")


def build_aei_faces(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    size: int = 256,
    *,
    min_face: int = 40,
    video_every: float = 0.0,
    video_min_diff: float = 0.02,
    identities: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Align every face of the photos (and, with ``video_every``, clips) under ``src`` into ``out``."""
    from faceweave.media.atomic import atomic_write

    srcp, outp = Path(src), Path(out)
    if not srcp.is_dir():
        raise FaceweaveError(f"SRC {srcp} is not a directory")
    if outp.resolve() == srcp.resolve():
        raise FaceweaveError("OUT must differ from SRC")
    table = _identity_table(identities)
    files = _list_sources(srcp, outp, video_every, limit)
    if not files:
        raise FaceweaveError(f"no photos in {srcp}")
    outp.mkdir(parents=True, exist_ok=True)
    writer = _CropWriter(outp, size)
    for p in files:
        rel = p.relative_to(srcp).as_posix()
        folder_id = rel.split("/")[0] if "/" in rel else None
        if p.suffix.lower() in VIDEO_SUFFIXES:
            _clip_faces(p, rel, folder_id or table.get(rel, Path(rel).stem), writer, video_every, video_min_diff,
                        min_face)
        else:
            _photo_faces(p, rel, folder_id, table, writer, min_face)
    faces, failures = writer.faces, writer.failures
    index = {"format": FORMAT, "size": size, "faces": faces, "failures": failures}
    atomic_write(outp / "faces.json", lambda q: Path(q).write_text(json.dumps(index, indent=1), encoding="utf-8"))
    n_id = len({f["identity"] for f in faces})
    log.info("%s: %d faces of %d identities, %d failures", outp, len(faces), n_id, len(failures))
    return {"out": str(outp), "faces": len(faces), "identities": n_id, "failures": len(failures)}


# ---------------------------------------------------------------------- reading
class AEIFaceDataset(Dataset):
    """Aligned AEI-frame crops as [0, 1] tensors; an item is a (target, source, same) triple of indices.

    ``dataset[(t, s, same)]`` → ``{"x_t", "x_s": 3×S×S, "same": scalar}``; ``dataset[i]`` → one image.
    Also reads a plain folder of already-aligned crops (no ``faces.json``: FFHQ / CelebA-HQ crops in
    the AEI frame; sub-folders are identities). Images are cached in memory up to ``cache`` items.
    """

    def __init__(self, root: str | os.PathLike[str], size: int | None = None, cache: int = 20000) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FaceweaveError(f"--data {self.root} is not a directory")
        meta = self.root / "faces.json"
        if meta.is_file():
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except ValueError as e:
                raise FaceweaveError(f"{meta}: not valid JSON ({e})") from None
            if info.get("format") != FORMAT:
                raise FaceweaveError(f"{meta}: not an AEI face folder")
            rows = info["faces"]
        else:
            rows = [
                {"file": p.relative_to(self.root).as_posix(),
                 "identity": p.parent.name if p.parent != self.root else p.stem}
                for p in sorted(self.root.rglob("*")) if p.suffix.lower() in PHOTO_SUFFIXES
            ]
        if not rows:
            raise FaceweaveError(f"{self.root}: no face crops (build them with faceweave build-dataset SRC OUT --aei)")
        self.files = [r["file"] for r in rows]
        names = sorted({r["identity"] for r in rows})
        ids = {n: i for i, n in enumerate(names)}
        self.identity_names = names
        self.identities = np.array([ids[r["identity"]] for r in rows], np.int64)
        self.size = size
        self._cache: dict[int, torch.Tensor] = {}
        self._cache_limit = cache

    def __len__(self) -> int:
        return len(self.files)

    def image(self, i: int) -> torch.Tensor:
        if i in self._cache:
            return self._cache[i]
        bgr = cv2.imread(str(self.root / self.files[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FaceweaveError(f"cannot read {self.root / self.files[i]}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self.size and rgb.shape[0] != self.size:
            rgb = cv2.resize(rgb, (self.size, self.size),
                             interpolation=cv2.INTER_AREA if rgb.shape[0] > self.size else cv2.INTER_CUBIC)
        t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255
        if len(self._cache) < self._cache_limit:
            self._cache[i] = t
        return t

    def __getitem__(self, item: int | tuple[int, int, int]) -> Any:
        if isinstance(item, int | np.integer):
            return self.image(int(item))
        t, s, same = item
        return {"x_t": self.image(t), "x_s": self.image(s), "same": torch.tensor(float(same))}


def draw_sources(
    targets: list[int], identities: np.ndarray, same_ratio: float, gen: np.random.Generator
) -> list[tuple[int, int, int]]:
    """For each target, a source of its identity with probability ``same_ratio``, else of another identity."""
    n = len(identities)
    by_id: dict[int, np.ndarray] = {}
    names: np.ndarray | None = None
    out = []
    for t in targets:
        ident = int(identities[t])
        if gen.random() < same_ratio:
            if ident not in by_id:
                by_id[ident] = np.flatnonzero(identities == ident)
            s = int(gen.choice(by_id[ident]))
        else:  # another identity, uniformly over identities (not images: a long clip must not dominate)
            if names is None:
                names = np.unique(identities)
            other_ids = names[names != ident]
            if len(other_ids):
                pick = int(gen.choice(other_ids))
                if pick not in by_id:
                    by_id[pick] = np.flatnonzero(identities == pick)
                s = int(gen.choice(by_id[pick]))
            else:
                s = int(gen.integers(n))
        out.append((t, s, int(identities[s] == ident)))
    return out


class PairBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """Wraps a per-step batch sampler of target indices; adds a seeded source per target."""

    def __init__(self, targets: Any, identities: np.ndarray, same_ratio: float, seed: int, rank: int,
                 start_step: int = 0) -> None:
        self.targets = targets
        self.identities = identities
        self.same_ratio = same_ratio
        self.seed = seed
        self.rank = rank
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        for k, batch in enumerate(self.targets):
            gen = np.random.default_rng([self.seed, self.rank, self.start_step + k])
            yield draw_sources([int(i) for i in batch], self.identities, self.same_ratio, gen)

    def __len__(self) -> int:
        return len(self.targets)
