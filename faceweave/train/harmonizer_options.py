"""The options of a harmonizer training run: the dataclass and the ``faceweave train harmonizer`` flags
(the run itself: :mod:`faceweave.train.harmonizer`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from faceweave.errors import FaceweaveError
from faceweave.models.harmonizer import HarmonizerLossWeights
from faceweave.train.harmonizer_step import Schedule

EMBEDDERS = ("none", "identity512", "densenet")


@dataclass
class TrainOptions:
    photos: Path
    out: Path
    frames: list[Path] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    frame_every: int = 15
    preset: str = "demo"
    resume: bool = False
    max_steps: int = 2000
    max_minutes: float | None = None
    batch_size: int = 8
    lr: float = 3e-4
    ckpt_every: int = 200
    log_every: int = 10
    image_every: int = 200
    seed: int = 0
    real_pairs: int = 200
    real_fraction: float = 0.25
    scene_jitter: float = 0.0  # share of self-composites made from a re-lit photo (data.harmonizer.jitter_scene)
    init: Path | None = None  # a generator to start from (warm start; function-preserving if it grew)
    reuse: int = 4  # each composite is used ≈ this many times (ours: composites cost more than a step)
    pool: int = 256  # ... drawn from the newest this many
    embed: str = "none"
    progress: bool = True
    device: str = "auto"  # cpu, cuda, cuda:N; auto = CUDA when available (under torchrun: the local rank's GPU)
    weights: HarmonizerLossWeights = field(default_factory=HarmonizerLossWeights)
    schedule: Schedule = field(default_factory=Schedule)


# ----------------------------------------------------------------------------- command line
def add_train_harmonizer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", type=Path, required=True, help="folder of photos with faces (no labels needed)")
    p.add_argument("--frames", type=Path, nargs="*", default=[], metavar="VIDEO", help="clips whose frames add faces")
    p.add_argument("--frame-every", type=int, default=15, help="use every N-th frame of each clip (default 15)")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="skip photos whose name matches (repeatable; e.g. a held-out set)")
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, logs, data cache)")
    p.add_argument("--preset", default="demo", choices=("demo", "default", "tiny"))
    p.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")
    p.add_argument("--max-steps", type=int, default=2000)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this wall time")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real-pairs", type=int, default=200, help="cross-identity composites from the engines (0: none)")
    p.add_argument("--real-fraction", type=float, default=0.25, help="share of real composites in a batch")
    p.add_argument("--scene-jitter", type=float, default=0.0, metavar="P",
                   help="share of self-composites made from a globally re-lit photo (0: none)")
    p.add_argument("--init", type=Path, default=None, metavar="WEIGHTS",
                   help="start the generator from these weights (a new run only; not with --resume)")
    p.add_argument("--reuse", type=int, default=4, help="use each composite ≈ this many times (1: every item new)")
    p.add_argument("--embed", default="none", choices=EMBEDDERS, help="frozen network of the embedding loss H4")
    p.add_argument("--gt-weight", type=float, default=None, help="λ of H5 (default 20)")
    p.add_argument("--gt-charbonnier", type=float, default=0.0, metavar="EPS",
                   help="H5 with the Charbonnier error √(e² + ε²) − ε instead of the squared error (0: squared)")
    p.add_argument("--gt-relative", type=float, default=0.0, metavar="C",
                   help="weigh H5 per composite by 1 / (its error before + C): relative improvement (0: off)")
    p.add_argument("--tau-g", type=float, default=None, metavar="T",
                   help="generator phase ends when EMA(L_G) < T (default 0.05; 0: only by --max-phase-g)")
    p.add_argument("--max-phase-g", type=int, default=None, help="generator phase ends after this many steps (40)")
    p.add_argument("--max-phase-d", type=int, default=None, help="discriminator phase ends after this many steps (8)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (auto: CUDA when available)")
    p.add_argument("--no-progress", action="store_true")


def options_from_args(a: argparse.Namespace) -> TrainOptions:
    if a.frame_every < 1:
        raise FaceweaveError("--frame-every must be ≥ 1")
    return TrainOptions(photos=a.photos, frames=list(a.frames), exclude=list(a.exclude), frame_every=a.frame_every,
                        out=a.out, preset=a.preset, resume=a.resume, max_steps=a.max_steps,
                        max_minutes=a.max_minutes, batch_size=a.batch_size, lr=a.lr, ckpt_every=a.ckpt_every,
                        seed=a.seed, real_pairs=a.real_pairs, embed=a.embed,
                        real_fraction=a.real_fraction, reuse=a.reuse, progress=not a.no_progress, device=a.device,
                        scene_jitter=a.scene_jitter, init=a.init,
                        weights=_loss_weights(a), schedule=_schedule(a))


def _schedule(a: argparse.Namespace) -> Schedule:
    s = Schedule()
    for name in ("tau_g", "max_phase_g", "max_phase_d"):
        v = getattr(a, name, None)
        if v is not None:
            if v < 0 or (name != "tau_g" and v < 1):
                raise FaceweaveError(f"--{name.replace('_', '-')} must be {'≥ 0' if name == 'tau_g' else '≥ 1'}")
            setattr(s, name, v)
    return s


def _loss_weights(a: argparse.Namespace) -> HarmonizerLossWeights:
    w = HarmonizerLossWeights(gt_eps=a.gt_charbonnier, gt_relative=a.gt_relative)
    if a.gt_weight is not None:
        w.gt = a.gt_weight
    return w
