"""Dataset shards: deterministic ZIP archives that ``numpy.load`` opens as ``.npz``, and their resume records.

See :mod:`faceweave.data.builder` for the layout. Every file is written atomically
(:func:`faceweave.atomic.atomic_open`), so an interrupted build leaves no half-written shard.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from faceweave.atomic import atomic_open
from faceweave.data.inputs import BuildConfig, Item

FORMAT_NAME = "faceweave-rsgan-shards"
FORMAT_VERSION = 1
SAMPLE_KEYS = ("x", "x_f", "x_h", "m_bg", "m_face", "c")

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 6


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

    with atomic_open(path) as f:
        write(f)  # type: ignore[arg-type]
    return path.stat().st_size


def dump_json(path: Path, obj: Any) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    with atomic_open(path) as f:
        f.write(data)


def dump_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    with atomic_open(path) as f:
        f.write(data)


def shard_record(item_list: list[Item], cfg: BuildConfig) -> dict[str, Any]:
    return {"inputs": [it.rel for it in item_list], "config": cfg.as_dict()}


def shard_done(shards: Path, k: int, expect: dict[str, Any]) -> dict[str, Any] | None:
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
