"""``faceweave train person``: train one person's transformation network (seed 003, Korshunova et al.).

1. The person's faces (a clip — deduplicated — a folder of photos, or one photo) are aligned to the
   reference frame; they are the style images Y. Faces of other people (``--content``) and the
   person's own faces are the inputs x.
2. Each step: x̂ = f(x); L = L_content + α L_style + β L_light + γ L_TV (poster Eq. 5), the style
   term matching neural patches of x̂ against the N_best style images nearest x in landmark space.
3. Checkpoints (weights + optimiser + RNG) are written atomically every ``--checkpoint-every`` steps
   and at the end or on SIGINT/SIGTERM; a re-run with the same ``--out`` resumes from the latest
   (also after SIGKILL). The result is ``OUT/NAME.safetensors``: weights and model card.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from faceweave.errors import FaceweaveError
from faceweave.models.person.frame import FRAME_SIZE, nearest_style_images, pose_expression_descriptor
from faceweave.models.person.losses import (
    DenseNetFeatures,
    LossWeights,
    content_loss,
    identity_loss,
    light_loss,
    style_loss,
    tv_loss,
)
from faceweave.models.person.network import TransformationConfig, TransformationNet
from faceweave.models.person.person_file import save_person

log = logging.getLogger(__name__)


@dataclass
class PersonTrainOptions:
    photos: str
    name: str
    out: str
    content: list[str] = field(default_factory=list)
    steps: int = 2000
    batch: int = 8
    lr: float = 2e-3
    n_best: int = 8
    seed: int = 0
    every: int = 2  # use every n-th clip frame (before deduplication)
    dedupe: float = 3.0
    frames: tuple[int, int] | None = None  # [start, stop) clip frames the person is trained on
    max_minutes: float | None = None
    checkpoint_every: int = 100
    alpha: float = LossWeights.alpha
    beta: float = LossWeights.beta
    gamma: float = LossWeights.gamma
    identity_weight: float = 0.0  # λ_id of our identity term (not in the poster; 0 = the poster's losses only)
    content_layers: tuple[str, ...] = LossWeights.content_layers
    style_layers: tuple[str, ...] = LossWeights.style_layers
    progress: bool = False


def _to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255.0


def _faces(o: PersonTrainOptions, cache: Path) -> dict[str, np.ndarray]:
    """The aligned style and content faces (cached in the run folder, so a resumed run skips extraction)."""
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if str(d["photos"]) == o.photos:
            return d
        raise FaceweaveError(f"--out {cache.parent}: holds a run for --photos {d['photos']}; choose another --out")
    from faceweave.data.person_faces import content_faces, person_faces

    frames = range(*o.frames) if o.frames else None
    style = person_faces(o.photos, every=o.every, dedupe=o.dedupe, frames=frames)
    other = [s for c in o.content for s in content_faces(c)]
    d = {
        "photos": np.array(o.photos),
        "content_sources": np.array(list(o.content), dtype=str),
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


def _check(o: PersonTrainOptions) -> Path:
    if not o.name or not o.name.replace("-", "").replace("_", "").isalnum():
        raise FaceweaveError(f"--name {o.name!r}: use letters, digits, '-' and '_'")
    if o.steps < 1 or o.batch < 1 or o.n_best < 1:
        raise FaceweaveError("--steps, --batch and --n-best must be at least 1")
    out = Path(o.out)
    if out.exists() and not out.is_dir():
        raise FaceweaveError(f"--out {out}: exists and is not a folder")
    return out


@dataclass
class _TrainData:
    """The inputs x (other people's faces, then the person's own) and the style images' Φ_l(y)."""

    content_crops: np.ndarray
    content_lms: np.ndarray
    n_other: int
    style_phi: dict[str, torch.Tensor]
    style_desc: np.ndarray
    person_embedding: torch.Tensor | None = None  # ē: mean unit identity512 embedding of the style images


def _arcface(x: torch.Tensor, frame_lms: np.ndarray) -> torch.Tensor:
    """ArcFace crops of aligned frames (landmarks in units of the frame side), differentiable."""
    from faceweave.nets.align import arcface_crop

    return arcface_crop(x, frame_lms * x.shape[-1])


def _person_embedding(crops: np.ndarray, lms: np.ndarray) -> torch.Tensor:
    from faceweave.nets.loading import load

    net = load("identity512")
    with torch.no_grad():
        e = torch.cat([torch.nn.functional.normalize(net(_arcface(_to_tensor(crops[i : i + 16]), lms[i : i + 16])))
                       for i in range(0, len(crops), 16)])
    return torch.nn.functional.normalize(e.mean(0), dim=0)


def _train_data(d: dict[str, np.ndarray], feats: DenseNetFeatures, style_layers: tuple[str, ...],
                identity: bool = False) -> _TrainData:
    style_crops, style_lms = d["style_crops"], d["style_lms"]
    with torch.no_grad():  # Φ_l(y) of every style image, once (fp16 to save memory)
        ys = _to_tensor(style_crops)
        style_feats: dict[str, list[torch.Tensor]] = {name: [] for name in style_layers}
        for i in range(0, len(ys), 16):
            f = feats.net.features(ys[i : i + 16], tuple(style_layers))
            for name in style_layers:
                style_feats[name].append(f[name].half())
        style_phi = {k: torch.cat(v) for k, v in style_feats.items()}
    return _TrainData(
        content_crops=np.concatenate([d["content_crops"], style_crops]),  # others, then the person's own faces
        content_lms=np.concatenate([d["content_lms"], style_lms]),
        n_other=len(d["content_crops"]),
        style_phi=style_phi,
        style_desc=pose_expression_descriptor(style_lms),
        person_embedding=_person_embedding(style_crops, style_lms) if identity else None,
    )


def _batch(data: _TrainData, batch: int) -> tuple[torch.Tensor, np.ndarray]:
    """Inputs x (mirrored at random, colour gain 0.8–1.2) and their landmarks."""
    from faceweave.data.person_faces import mirror_landmarks

    n_other, content_crops, content_lms = data.n_other, data.content_crops, data.content_lms
    # half the batch from other people, half from the person (when there are others)
    if n_other:
        idx = np.concatenate([np.random.randint(0, n_other, (batch + 1) // 2),
                              np.random.randint(n_other, len(content_crops), batch // 2)])
    else:
        idx = np.random.randint(0, len(content_crops), batch)
    flip = np.random.rand(len(idx)) < 0.5
    crops = np.stack([c[:, ::-1] if f else c for c, f in zip(content_crops[idx], flip, strict=True)])
    lms = np.stack([mirror_landmarks(m) if f else m for m, f in zip(content_lms[idx], flip, strict=True)])
    gain = np.random.uniform(0.8, 1.2, (len(idx), 1, 1, 3)).astype(np.float32)
    x = (_to_tensor(crops) * torch.from_numpy(gain).permute(0, 3, 1, 2)).clamp(0, 1)
    return x, lms


def _losses(net: TransformationNet, feats: DenseNetFeatures, light: torch.nn.Module, x: torch.Tensor,
            lms: np.ndarray, data: _TrainData, o: PersonTrainOptions, w: LossWeights) -> dict[str, torch.Tensor]:
    """The terms of one step and their total (seed 003 poster Eq. 5)."""
    nn_idx = torch.from_numpy(nearest_style_images(pose_expression_descriptor(lms), data.style_desc, o.n_best))
    xh = net(x)
    fo = feats(xh)
    with torch.no_grad():
        fi = feats.net.features(x, tuple(o.content_layers))
        g_in = light(x)
    lc = sum(content_loss(fo[n], fi[n]) for n in o.content_layers)
    ls = sum(style_loss(fo[n], data.style_phi[n][nn_idx].float()) for n in o.style_layers)
    ll = light_loss(light(xh), g_in)
    lt = tv_loss(xh)
    loss = lc + w.alpha * ls + w.beta * ll + w.gamma * lt  # seed 003 poster Eq. (5), total loss
    terms = {"content": lc, "style": ls, "light": ll, "tv": lt}
    if o.identity_weight > 0 and data.person_embedding is not None:  # our departure, docs/person.md
        from faceweave.nets.loading import load

        terms["identity"] = identity_loss(load("identity512")(_arcface(xh, lms)), data.person_embedding)
        loss = loss + o.identity_weight * terms["identity"]
    return {"total": loss, **terms}  # type: ignore[dict-item]


def _card(o: PersonTrainOptions, d: dict[str, np.ndarray], data: _TrainData, step: int, elapsed: float,
          t_faces: float, means: dict[str, float]) -> dict[str, object]:
    """The model card written into the person file."""
    return {
        "name": o.name,
        "paper": "Korshunova et al., Fast Face-swap Using Convolutional Neural Networks (seed 003)",
        "photos": o.photos,
        "frames": [int(f) for f in d["style_frames"]],
        "style_images": len(d["style_crops"]),
        "content_images_other_people": data.n_other,
        "content_sources": [str(c) for c in d.get("content_sources", o.content)],
        "steps": step,
        "batch": o.batch,
        "seed": o.seed,
        "train_seconds": round(elapsed, 1),
        "face_extraction_seconds": round(t_faces, 1),
        "losses_final_ema": {k: round(v, 5) for k, v in means.items()},
        "loss_weights": {"alpha": o.alpha, "beta": o.beta, "gamma": o.gamma,
                         "identity (ours, not in the poster)": o.identity_weight},
        "content_layers": list(o.content_layers),
        "style_layers": list(o.style_layers),
        "n_best": o.n_best,
        "phi": "DenseNet-121 (faceweave.nets 'expression') stands in for the poster's VGG-19",
        "threads": torch.get_num_threads(),
    }


def _resume(net: TransformationNet, opt: torch.optim.Optimizer, ckpt_dir: Path, lr: float) -> tuple[int, float]:
    """Weights, optimiser and RNG state of the latest checkpoint, if any; (step, training seconds so far)."""
    from faceweave.train.checkpoint import latest_checkpoint, load_checkpoint, restore_rng_state

    if latest_checkpoint(ckpt_dir) is None:
        return 0, 0.0
    ck = load_checkpoint(ckpt_dir)
    net.load_state_dict(ck.tensors)
    opt.load_state_dict(ck.trainer_state["optimizer"])
    for group in opt.param_groups:  # --lr of the resuming command wins over the checkpoint's
        group["lr"] = lr
    restore_rng_state(ck.trainer_state["rng"])
    log.info("resumed from step %d (%s)", ck.step, ck.weights_path.name)
    return ck.step, float(ck.trainer_state.get("elapsed", 0.0))


def train(o: PersonTrainOptions) -> Path:
    """Train (or resume) and write ``OUT/NAME.safetensors``; returns its path."""
    from faceweave.models.person.light import load_light_net
    from faceweave.train.checkpoint import capture_rng_state, save_checkpoint
    from faceweave.train.logging import TrainLogger
    from faceweave.train.signals import GracefulStop

    out = _check(o)
    random.seed(o.seed)
    np.random.seed(o.seed)
    torch.manual_seed(o.seed)
    t_start = time.time()
    d = _faces(o, out / "faces.npz")
    t_faces = time.time() - t_start
    feats = DenseNetFeatures(tuple(o.content_layers) + tuple(o.style_layers))
    light = load_light_net()
    data = _train_data(d, feats, tuple(o.style_layers), identity=o.identity_weight > 0)
    log.info("%d faces of %s (style images), %d faces of other people", len(d["style_crops"]), o.name, data.n_other)

    net = TransformationNet(TransformationConfig(size=FRAME_SIZE))
    opt = torch.optim.Adam(net.parameters(), o.lr)
    ckpt_dir = out / "checkpoints"
    step, elapsed = _resume(net, opt, ckpt_dir, o.lr)
    logger = TrainLogger(out, total_steps=o.steps, start_step=step, progress=o.progress, tensorboard=False)
    logger.truncate_after(step)
    w = LossWeights(o.alpha, o.beta, o.gamma, tuple(o.content_layers), tuple(o.style_layers))
    means: dict[str, float] = {}

    def checkpoint() -> None:
        save_checkpoint(ckpt_dir, step, net.state_dict(),
                        {"optimizer": opt.state_dict(), "rng": capture_rng_state(), "elapsed": elapsed},
                        metadata={"options": json.dumps(asdict(o))})

    net.train()
    t0 = time.time() - elapsed
    with GracefulStop() as stop:
        while step < o.steps:
            x, lms = _batch(data, o.batch)
            terms = _losses(net, feats, light, x, lms, data, o, w)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
            step += 1
            elapsed = time.time() - t0
            vals = {k: float(v.detach()) for k, v in terms.items()}
            for k, v in vals.items():
                means[k] = v if k not in means else 0.95 * means[k] + 0.05 * v
            logger.scalars(step, vals)
            logger.progress(step, {"style": means["style"]})
            if step % 20 == 0:
                log.info("step %d  %s  %.0f s", step, "  ".join(f"{k} {v:.4f}" for k, v in means.items()), elapsed)
            over_time = o.max_minutes is not None and elapsed > 60 * o.max_minutes
            if step % o.checkpoint_every == 0 or step == o.steps or stop.requested or over_time:
                checkpoint()
            if stop.requested:
                logger.close()
                raise FaceweaveError(f"stopped by {stop.signal_name} at step {step}; re-run the same command to resume")
            if over_time:
                log.warning("--max-minutes %.1f reached at step %d", o.max_minutes, step)
                break
    logger.close()
    path = save_person(out / f"{o.name}.safetensors", net, _card(o, d, data, step, elapsed, t_faces, means))
    log.info("wrote %s (%d steps, %.1f min)", path, step, elapsed / 60)
    return path


def add_train_person_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", required=True, metavar="DIR_OR_VIDEO",
                   help="the person: a clip, a folder of photos or a photo")
    p.add_argument("--name", required=True, help="the person's name (letters, digits, - and _)")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder (re-run the same command to resume)")
    p.add_argument("--content", action="append", default=[], metavar="DIR_OR_VIDEO",
                   help="faces of other people to learn the transformation on (repeatable; photos: every face)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-best", type=int, default=8, help="style images per input, nearest in landmarks (N_best)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=2, help="use every n-th frame of a clip (default 2)")
    p.add_argument("--frames", metavar="START:STOP", help="only these clip frames (e.g. 0:377 to hold out the rest)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this much training")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--alpha", type=float, default=LossWeights.alpha, help="style weight α")
    p.add_argument("--beta", type=float, default=LossWeights.beta, help="light weight β")
    p.add_argument("--gamma", type=float, default=LossWeights.gamma, help="total-variation weight γ")
    p.add_argument("--identity-weight", type=float, default=0.0,
                   help="λ_id of our identity term (1 − cosine to the person's mean identity512 embedding; "
                   "not in the poster, default 0)")
    p.add_argument("--style-layers", default=",".join(LossWeights.style_layers), help="DenseNet stages for L_style")
    p.add_argument("--content-layers", default=",".join(LossWeights.content_layers),
                   help="DenseNet stages for L_content")


def options_from_args(a: argparse.Namespace) -> PersonTrainOptions:
    frames = None
    if a.frames:
        try:
            s, e = (int(v) for v in a.frames.split(":"))
        except ValueError:
            raise FaceweaveError(f"--frames {a.frames!r}: expected START:STOP, e.g. 0:377") from None
        if not 0 <= s < e:
            raise FaceweaveError(f"--frames {a.frames!r}: need 0 ≤ START < STOP")
        frames = (s, e)
    from faceweave.nets.densenet import FEATURE_LAYERS

    layers = {}
    for key in ("style_layers", "content_layers"):
        names = tuple(n.strip() for n in getattr(a, key).split(",") if n.strip())
        bad = [n for n in names if n not in FEATURE_LAYERS]
        if bad or not names:
            flag = key.replace("_", "-")
            raise FaceweaveError(f"--{flag}: unknown layer(s) {bad}; choose from {', '.join(FEATURE_LAYERS)}")
        layers[key] = names
    return PersonTrainOptions(
        photos=a.photos, name=a.name, out=a.out, content=list(a.content), steps=a.steps, batch=a.batch, lr=a.lr,
        n_best=a.n_best, seed=a.seed, every=a.every, frames=frames, max_minutes=a.max_minutes,
        checkpoint_every=a.checkpoint_every, alpha=a.alpha, beta=a.beta, gamma=a.gamma,
        identity_weight=a.identity_weight,
        progress=sys.stderr.isatty(), **layers,
    )

