"""Batch swaps: one source face onto every photo and video of a folder, or of a list file.

``faceweave swap SRC DIR/ -o OUT/`` and ``faceweave swap SRC clips.txt -o OUT/`` call
:func:`swap_batch`. A file that fails is reported and the batch goes on; the summary counts what was
done, skipped and failed. Every output is written atomically (temporary file, then rename), so an
output that exists is a finished one: a re-run skips it and does only what is left (after an
interruption, a crash or a fix of the failing inputs).

Outputs keep the input's relative path under OUT (a folder) or its name (a list file). A photo keeps
its format when faceweave writes it (JPEG, PNG, WebP, BMP, TIFF) and becomes a PNG otherwise (GIF);
a clip keeps its container.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from faceweave.choices import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

LIST_SUFFIXES = (".txt", ".lst")  # a list file: one photo or clip per line (relative to the list's folder)
INPUT_SUFFIXES = (*IMAGE_SUFFIXES, ".gif", *VIDEO_SUFFIXES)
Status = Literal["done", "skipped", "failed"]


@dataclass
class BatchItem:
    """One input of a batch and what became of it."""

    input: Path
    output: Path
    status: Status
    reason: str = ""  # why it failed (one line)
    seconds: float = 0.0


@dataclass
class BatchSummary:
    items: list[BatchItem] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for it in self.items if it.status == status)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def line(self) -> str:
        """``3 done, 1 skipped (already there), 1 failed, of 5 files``."""
        return (f"{self.count('done')} done, {self.count('skipped')} skipped (already there), "
                f"{self.failed} failed, of {len(self.items)} files")


def is_batch_target(target: str | os.PathLike[str]) -> bool:
    """A folder or a list file (``.txt``/``.lst``) is a batch; anything else is one photo or clip."""
    p = Path(target)
    return p.is_dir() or p.suffix.lower() in LIST_SUFFIXES


def _output_name(rel: Path) -> Path:
    suffix = rel.suffix.lower()
    return rel if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES else rel.with_suffix(".png")


def batch_inputs(target: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """The (input, output) pairs of a batch, in a stable order. Hidden files and OUT itself are left out."""
    t, out = Path(target), Path(out_dir)
    if t.is_dir():
        skip = out.resolve()
        pairs = []
        for p in sorted(t.rglob("*")):
            rel = p.relative_to(t)
            if (p.is_dir() or p.suffix.lower() not in INPUT_SUFFIXES or any(s.startswith(".") for s in rel.parts)
                    or skip in p.resolve().parents):
                continue
            pairs.append((p, out / _output_name(rel)))
        if not pairs:
            raise FaceweaveError(f"{t}: no photos or videos in this folder ({', '.join(INPUT_SUFFIXES)})")
        return pairs
    try:
        lines = t.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FaceweaveError(f"{t}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FaceweaveError(f"{t}: cannot read the list ({e})") from None
    pairs = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            p = Path(line.strip())
            pairs.append((p if p.is_absolute() else t.parent / p, out / _output_name(Path(p.name))))
    names = [o for _, o in pairs]
    dup = sorted({o.name for o in names if names.count(o) > 1})
    if dup:
        raise FaceweaveError(f"{t}: two inputs would write the same output {dup[0]} (rename one)")
    if not pairs:
        raise FaceweaveError(f"{t}: the list names no files")
    return pairs


def _check_out_dir(target: Path, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FaceweaveError(f"{out}: a batch writes into a folder; this is a file")
    if target.is_dir() and out.resolve() == target.resolve():
        raise FaceweaveError(f"{out}: the output folder is the input folder; choose another one")


def _make_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaceweaveError(f"{out}: cannot create the output folder ({e.strerror or e})") from None


def _swap_one(source: str | os.PathLike[str] | None, inp: Path, output: Path, options: dict[str, object]) -> None:
    from faceweave import api
    from faceweave.media.video import is_video

    output.parent.mkdir(parents=True, exist_ok=True)
    if is_video(inp):
        api.swap_video(source, inp, output, **options)  # type: ignore[arg-type]
        return
    inputs = tuple(x for x in (source, inp, options.get("reference")) if isinstance(x, (str, os.PathLike)))
    res = api.swap_picture(source, inp, **options)  # type: ignore[arg-type]
    api.save(res.picture, output, inputs)


def swap_batch(
    source: str | os.PathLike[str] | None,
    target: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    on_item: Callable[[BatchItem], None] | None = None,
    **options: object,
) -> BatchSummary:
    """Swap ``source``'s face into every photo and clip of ``target`` (a folder or a list file).

    ``options`` are those of :func:`faceweave.api.swap_picture` (and ``swap_video``). A bad source
    photo fails the whole batch at once; a bad target file fails only itself (its reason is kept in
    the summary). ``on_item`` is called after each file. ``KeyboardInterrupt`` stops the batch: the
    file being written is discarded and the finished ones stay, so a re-run resumes.
    """
    from faceweave.media.image import read_image

    t, out = Path(target), Path(out_dir)
    _check_out_dir(t, out)
    pairs = batch_inputs(t, out)
    _make_out_dir(out)
    if source is not None:
        read_image(source)  # a bad source is one error, not one per file
    summary = BatchSummary()
    for inp, output in pairs:
        t0 = time.monotonic()
        if output.exists():
            item = BatchItem(inp, output, "skipped")
        else:
            try:
                _swap_one(source, inp, output, dict(options))
                item = BatchItem(inp, output, "done")
            except FaceweaveError as e:
                msg = str(e)
                item = BatchItem(inp, output, "failed", msg if str(inp) in msg else f"{inp}: {msg}")
            except (MemoryError, Exception) as e:  # noqa: BLE001 - one bad file must not stop the batch
                log.debug("batch: %s failed", inp, exc_info=True)
                item = BatchItem(inp, output, "failed", f"{inp}: internal error: {type(e).__name__}: {e}")
        item.seconds = time.monotonic() - t0
        summary.items.append(item)
        if on_item is not None:
            on_item(item)
    return summary
