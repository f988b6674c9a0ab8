"""faceweave's pseudo-pair identity augmentation for AEI-Net (not in the thesis; off by default).

With a handful of identities L_id alone gives the generator a weak signal of *what* a source's identity
looks like on a target. A pseudo pair gives it a pixel target: for two training crops X_s, X_t of
different identities, Y = the project's ``warp`` engine's swap of X_s onto X_t (a landmark/mesh warp
with colour transfer and blending), in X_t's own AEI frame. The trainer then adds
λ_pseudo · ½‖Ŷ_s,t − Y‖² (the form of Eq. 4.11, L_rec, with Y in place of X_t) for those pairs.
Y is an imperfect swap (warp artefacts, the target's face shape); it is a crutch for tiny data sets.

    faceweave.data.aei_pseudo.build_pseudo_pairs(FACES, OUT, per_identity=4)   # → OUT/pairs.json + PNGs

Only crops of the training folder are used, so held-out photos never enter training through it.
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
FORMAT = "faceweave-aei-pseudo-pairs"
UPSCALE = 2  # crops are analysed and swapped at twice their size (small faces detect poorly), then shrunk


def _pick(files: list[str], identities: list[str], per_identity: int, seed: int) -> list[int]:
    """Up to ``per_identity`` crops of each identity (seeded), in file order."""
    gen = np.random.default_rng(seed)
    out: list[int] = []
    for name in sorted(set(identities)):
        idx = [i for i, n in enumerate(identities) if n == name]
        if len(idx) > per_identity:
            idx = sorted(int(i) for i in gen.choice(idx, per_identity, replace=False))
        out += idx
    return sorted(out)


def build_pseudo_pairs(faces: str | os.PathLike[str], out: str | os.PathLike[str], per_identity: int = 4,
                       engine: str = "warp", seed: int = 0) -> int:
    """Swap every picked crop onto every picked crop of another identity with ``engine``; returns pairs written."""
    from faceweave.analysis import analyze
    from faceweave.engines import SwapOptions, get_engine

    root, outp = Path(faces), Path(out)
    info = json.loads((root / "faces.json").read_text(encoding="utf-8"))
    rows = info["faces"]
    files, idents = [r["file"] for r in rows], [r["identity"] for r in rows]
    picked = _pick(files, idents, per_identity, seed)
    outp.mkdir(parents=True, exist_ok=True)
    crops: dict[int, tuple[np.ndarray, Any]] = {}
    for i in picked:
        bgr = cv2.imread(str(root / files[i]), cv2.IMREAD_COLOR)
        big = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None, fx=UPSCALE, fy=UPSCALE,
                         interpolation=cv2.INTER_CUBIC)
        found = analyze(big, max_faces=1)
        if found:
            crops[i] = (big, found[0])
        else:
            log.warning("no face found in %s; left out of the pseudo pairs", files[i])
    eng, opts = get_engine(engine), SwapOptions()
    pairs = []
    for s in crops:
        for t in crops:
            if idents[s] == idents[t]:
                continue
            try:
                y = eng.swap_face(crops[s][0], crops[s][1], crops[t][0], crops[t][1], opts)
            except FaceweaveError as e:
                log.warning("%s → %s: %s", files[s], files[t], e)
                continue
            h, w = y.shape[0] // UPSCALE, y.shape[1] // UPSCALE
            small = cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA)
            name = f"p{len(pairs):05d}.png"
            cv2.imwrite(str(outp / name), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
            pairs.append({"source": files[s], "target": files[t], "ref": name})
    meta = {"format": FORMAT, "faces": str(root.resolve()), "engine": engine, "pairs": pairs}
    tmp = outp / "pairs.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    tmp.replace(outp / "pairs.json")
    return len(pairs)


def load_pseudo_pairs(path: str | os.PathLike[str], files: list[str]) -> tuple[list[tuple[int, int]], list[Path]]:
    """(target index, source index) per pseudo pair, and its reference image, for a dataset's ``files``."""
    p = Path(path)
    meta_p = p / "pairs.json"
    if not meta_p.is_file():
        raise FaceweaveError(f"--pseudo-pairs {p}: no pairs.json (build it with faceweave.data.aei_pseudo)")
    meta = json.loads(meta_p.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise FaceweaveError(f"{meta_p}: not a pseudo-pair folder")
    index = {f: i for i, f in enumerate(files)}
    idx, refs = [], []
    for r in meta["pairs"]:
        if r["source"] in index and r["target"] in index:
            idx.append((index[r["target"]], index[r["source"]]))
            refs.append(p / r["ref"])
    if not idx:
        raise FaceweaveError(f"{meta_p}: none of its pairs is in the training folder")
    return idx, refs


class PseudoTargets(Dataset):
    """A pair dataset plus pseudo targets: item (t, s, same, ref) → the base item + ``y_ref``, ``has_ref``."""

    def __init__(self, base: Any, refs: list[Path], size: int) -> None:
        self.base, self.refs, self.size = base, refs, size
        self.identities = getattr(base, "identities", None)
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.base)

    def _ref(self, j: int) -> torch.Tensor:
        if j not in self._cache:
            bgr = cv2.imread(str(self.refs[j]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise FaceweaveError(f"cannot read {self.refs[j]}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if rgb.shape[0] != self.size:
                rgb = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
            self._cache[j] = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255
        return self._cache[j]

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int | np.integer):
            return self.base[int(item)]
        t, s, same, ref = item
        out = self.base[(t, s, same)]
        out["y_ref"] = self._ref(ref) if ref >= 0 else out["x_t"]
        out["has_ref"] = torch.tensor(float(ref >= 0))
        return out


class PseudoPairSampler(Sampler[list[tuple[int, int, int, int]]]):
    """Replaces a seeded share ``ratio`` of a pair sampler's pairs by pseudo pairs (seeded per step: exact resume)."""

    def __init__(self, pairs: Any, pseudo: list[tuple[int, int]], ratio: float, seed: int, rank: int,
                 start_step: int = 0) -> None:
        self.pairs, self.pseudo, self.ratio = pairs, pseudo, ratio
        self.seed, self.rank, self.start_step = seed, rank, start_step

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        for k, batch in enumerate(self.pairs):
            gen = np.random.default_rng([self.seed, self.rank, self.start_step + k, 7])
            out = []
            for t, s, same in batch:
                if gen.random() < self.ratio:
                    j = int(gen.integers(len(self.pseudo)))
                    out.append((self.pseudo[j][0], self.pseudo[j][1], 0, j))
                else:
                    out.append((t, s, same, -1))
            yield out

    def __len__(self) -> int:
        return len(self.pairs)
