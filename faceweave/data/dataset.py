"""``RSGANDataset``: the shards written by :mod:`faceweave.data.builder` as a PyTorch dataset.

Items are dicts of float32 tensors::

    x, x_f, x_h   3×S×S in [0, 1]
    m_bg          1×S×S, 1 = background (the β-weighted pixels of RSGAN's Eq. 1)
    c             [n_attr] of 0/1 (shape [0] when the set has no attributes)
    m_face        1×S×S, 1 = face region (only with ``face_mask=True``)

Reading is random access: one sample's members are decompressed from its shard, and only a few
shard files are kept open at a time (per process, so it is safe under DataLoader workers).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from faceweave.data.sample import SPLITS
from faceweave.data.shards import FORMAT_NAME, FORMAT_VERSION
from faceweave.errors import FaceweaveError

_IMAGE_KEYS = ("x", "x_f", "x_h")


class RSGANDataset(Dataset):
    """RSGAN training samples ``(x, x_f, x_h, m_bg, c)`` of one split of a built shard set.

    ``split`` is "train", "val", "test" or "all"; ``flip=True`` mirrors each item left–right with
    probability 0.5 (drawn from torch's RNG, so DataLoader seeding applies).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        flip: bool = False,
        *,
        face_mask: bool = False,
        max_open_shards: int = 4,
    ) -> None:
        self.root = Path(root)
        if split not in (*SPLITS, "all"):
            raise FaceweaveError(f"split '{split}': use one of {', '.join(SPLITS)} or all")
        meta_path = self.root / "dataset.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FaceweaveError(
                f"{self.root}: not a dataset folder (no dataset.json; run faceweave build-dataset)"
            ) from None
        except (OSError, ValueError) as e:
            raise FaceweaveError(f"{meta_path}: cannot read ({e})") from None
        if meta.get("format") != FORMAT_NAME or meta.get("version") != FORMAT_VERSION:
            raise FaceweaveError(f"{meta_path}: unsupported dataset format {meta.get('format')} v{meta.get('version')}")
        self.meta: dict[str, Any] = meta
        self.size: int = int(meta["size"])
        self.attribute_names: list[str] = list(meta["attribute_names"])
        self.split = split
        self.flip = flip
        self.face_mask = face_mask
        self._shard_files = [self.root / s["file"] for s in meta["shards"]]
        rows: list[dict[str, Any]] = []
        with open(self.root / "manifest.jsonl", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    if split == "all" or r["split"] == split:
                        rows.append(r)
        self.rows = rows
        self._index = np.array([(r["shard"], r["offset"]) for r in rows], np.int64).reshape(-1, 2)
        self._max_open = max(1, max_open_shards)
        self._open: OrderedDict[int, zipfile.ZipFile] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"RSGANDataset({str(self.root)!r}, split={self.split!r}, n={len(self)}, size={self.size})"

    def _zip(self, shard: int) -> zipfile.ZipFile:
        if self._pid != os.getpid():  # forked into a DataLoader worker: do not share file handles
            self._open = OrderedDict()
            self._pid = os.getpid()
        zf = self._open.get(shard)
        if zf is None:
            try:
                zf = zipfile.ZipFile(self._shard_files[shard])
            except (OSError, zipfile.BadZipFile) as e:
                raise FaceweaveError(f"{self._shard_files[shard]}: cannot open shard ({e})") from None
            self._open[shard] = zf
            while len(self._open) > self._max_open:
                self._open.popitem(last=False)[1].close()
        else:
            self._open.move_to_end(shard)
        return zf

    def read_arrays(self, i: int) -> dict[str, np.ndarray]:
        """The stored uint8/int8 arrays of item ``i`` (no flip, no conversion)."""
        shard, off = (int(v) for v in self._index[i])
        zf = self._zip(shard)
        keys = (*_IMAGE_KEYS, "m_bg", "c") + (("m_face",) if self.face_mask else ())
        out = {}
        for k in keys:
            with zf.open(f"{off:05d}.{k}.npy") as f:
                out[k] = np.lib.format.read_array(f, allow_pickle=False)
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        a = self.read_arrays(i)
        flip = self.flip and bool(torch.rand(()) < 0.5)
        item: dict[str, torch.Tensor] = {}
        for k in _IMAGE_KEYS:
            v = a[k][:, ::-1] if flip else a[k]
            item[k] = torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1))).float().div_(255.0)
        for k in ("m_bg", "m_face") if self.face_mask else ("m_bg",):
            v = a[k][:, ::-1] if flip else a[k]
            item[k] = torch.from_numpy(np.ascontiguousarray(v)).float().div_(255.0).unsqueeze(0)
        item["c"] = torch.from_numpy(a["c"].astype(np.float32)).reshape(len(self.attribute_names))
        return item

    def close(self) -> None:
        for zf in self._open.values():
            zf.close()
        self._open.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()  # zip handles are not picklable (spawned DataLoader workers)
        return state
