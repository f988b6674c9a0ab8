"""Training data of the person trainer (seed 003): the aligned faces, Φ_l of the style images, batches.

A batch is a pure function of ``(seed, step)``: every rank draws the same global batch and keeps its
own share (``rank::world``), so ``torchrun --nproc_per_node=N`` trains on exactly the batches of one
process with the whole batch, and a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from faceweave.errors import FaceweaveError
from faceweave.models.person.frame import FRAME_SIZE, pose_expression_descriptor
from faceweave.models.person.losses import DenseNetFeatures


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, 3) → float (B, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255.0


def load_or_extract_faces(photos: str, content: Sequence[str], cache: Path, every: int = 2, dedupe: float = 3.0,
                          frames: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The aligned style and content faces (cached in the run folder, so a resumed run skips extraction)."""
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if str(d["photos"]) == photos:
            return d
        raise FaceweaveError(f"--out {cache.parent}: holds a run for --photos {d['photos']}; choose another --out")
    from faceweave.data.person_faces import content_faces, person_faces

    style = person_faces(photos, every=every, dedupe=dedupe, frames=range(*frames) if frames else None)
    other = [s for c in content for s in content_faces(c)]
    d = {
        "photos": np.array(photos),
        "content_sources": np.array(list(content), dtype=str),
        "style_crops": np.stack([s.crop for s in style]),
        "style_lms": np.stack([s.landmarks for s in style]),
        "style_frames": np.array([s.frame for s in style]),
        "content_crops": np.stack([s.crop for s in other]) if other
        else np.zeros((0, FRAME_SIZE, FRAME_SIZE, 3), np.uint8),
        "content_lms": np.stack([s.landmarks for s in other]) if other else np.zeros((0, 68, 2), np.float32),
    }
    from faceweave.media.atomic import atomic_write

    cache.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **d)

    atomic_write(cache, write)
    return d


@dataclass
class TrainData:
    """The inputs x (other people's faces, then the person's own) and the style images' Φ_l(y)."""

    content_crops: np.ndarray
    content_lms: np.ndarray
    n_other: int
    style_phi: dict[str, torch.Tensor]
    style_desc: np.ndarray
    person_embedding: torch.Tensor | None = None  # ē: mean unit identity512 embedding of the style images
    pair_x: np.ndarray | None = None  # pseudo pairs (faceweave.data.person_pseudo): inputs, uint8 (N, S, S, 3)
    pair_y: np.ndarray | None = None  # ... and their targets


def arcface_of_frames(x: torch.Tensor, frame_lms: np.ndarray) -> torch.Tensor:
    """ArcFace crops of aligned frames (landmarks in units of the frame side), differentiable."""
    from faceweave.nets.align import arcface_crop

    return arcface_crop(x, frame_lms * x.shape[-1])


def person_embedding(crops: np.ndarray, lms: np.ndarray) -> torch.Tensor:
    """ē: the normalised mean identity512 embedding of the person's faces."""
    from faceweave.nets.loading import load

    net = load("identity512")
    with torch.no_grad():
        e = torch.cat([torch.nn.functional.normalize(net(arcface_of_frames(to_tensor(crops[i : i + 16]),
                                                                           lms[i : i + 16])))
                       for i in range(0, len(crops), 16)])
    return torch.nn.functional.normalize(e.mean(0), dim=0)


def train_data(d: dict[str, np.ndarray], feats: DenseNetFeatures, style_layers: tuple[str, ...],
               identity: bool = False) -> TrainData:
    """Φ_l(y) of every style image (once, fp16 to save memory) and the inputs of the batches."""
    style_crops, style_lms = d["style_crops"], d["style_lms"]
    with torch.no_grad():
        ys = to_tensor(style_crops)
        style_feats: dict[str, list[torch.Tensor]] = {name: [] for name in style_layers}
        for i in range(0, len(ys), 16):
            f = feats.net.features(ys[i : i + 16], tuple(style_layers))
            for name in style_layers:
                style_feats[name].append(f[name].half())
        style_phi = {k: torch.cat(v) for k, v in style_feats.items()}
    return TrainData(
        content_crops=np.concatenate([d["content_crops"], style_crops]),  # others, then the person's own faces
        content_lms=np.concatenate([d["content_lms"], style_lms]),
        n_other=len(d["content_crops"]),
        style_phi=style_phi,
        style_desc=pose_expression_descriptor(style_lms),
        person_embedding=person_embedding(style_crops, style_lms) if identity else None,
    )


def batch_at(data: TrainData, batch: int, seed: int, step: int, rank: int = 0,
             world: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    """This rank's share of step ``step``'s global batch: inputs x (mirrored at random, colour gain 0.8–1.2)
    and their landmarks. Half the global batch comes from other people, half from the person (when there
    are others); rank r keeps items r, r + world, …"""
    from faceweave.data.person_faces import mirror_landmarks

    rng = np.random.default_rng([seed, step])
    n_other, content_crops, content_lms = data.n_other, data.content_crops, data.content_lms
    if n_other:
        idx = np.concatenate([rng.integers(0, n_other, (batch + 1) // 2),
                              rng.integers(n_other, len(content_crops), batch // 2)])
    else:
        idx = rng.integers(0, len(content_crops), batch)
    flip = rng.random(batch) < 0.5
    gain = rng.uniform(0.8, 1.2, (batch, 1, 1, 3)).astype(np.float32)
    idx, flip, gain = idx[rank::world], flip[rank::world], gain[rank::world]
    crops = np.stack([c[:, ::-1] if f else c for c, f in zip(content_crops[idx], flip, strict=True)])
    lms = np.stack([mirror_landmarks(m) if f else m for m, f in zip(content_lms[idx], flip, strict=True)])
    x = (to_tensor(crops) * torch.from_numpy(gain).permute(0, 3, 1, 2)).clamp(0, 1)
    return x, lms


def pair_batch_at(data: TrainData, batch: int, seed: int, step: int, rank: int = 0,
                  world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's share of step ``step``'s pseudo pairs (x, y), both mirrored together at random."""
    assert data.pair_x is not None and data.pair_y is not None
    rng = np.random.default_rng([seed, step, 1])
    idx = rng.integers(0, len(data.pair_x), batch)[rank::world]
    flip = (rng.random(batch) < 0.5)[rank::world]
    xs = np.stack([c[:, ::-1] if f else c for c, f in zip(data.pair_x[idx], flip, strict=True)])
    ys = np.stack([c[:, ::-1] if f else c for c, f in zip(data.pair_y[idx], flip, strict=True)])
    return to_tensor(xs), to_tensor(ys)
