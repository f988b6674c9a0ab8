"""The options of an AEI-Net training run: the dataclass, the config file, the ``faceweave train aei``
flags (the run itself: :mod:`faceweave.train.aei`)."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from faceweave.models.aei import AEIConfig
from faceweave.train.entry import load_config_file  # noqa: F401 - re-exported, used below

DEFAULT_IDENTITY = "faceweave.models.aei.identity:default_identity_net"  # the frozen 512-D ArcFace-style net


@dataclass
class TrainOptions:
    """Everything the command line sets."""

    out: str
    data: str | None = None
    config: str | None = None
    preset: str = "paper"
    resume: bool = False
    max_steps: int = 500_000  # the thesis: 500k steps
    batch_size: int = 8  # the thesis: batch 8 on one V100
    lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.999
    same_ratio: float = 0.2  # the thesis: 1:5 same-identity pairs
    id_mix: float = 0.0  # faceweave's identity augmentation (off by default)
    pseudo_pairs: str | None = None  # faceweave's pseudo pairs (warp swaps; off by default)
    pseudo_ratio: float = 0.0
    pseudo_weight: float = 10.0
    ckpt_every: int = 1000
    keep: int = 2
    log_every: int = 10
    image_every: int = 500
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    workers: int = 0
    progress: bool = True
    tensorboard: bool = True
    identity: str | None = None  # MODULE:FUNC returning the frozen identity nn.Module


def add_train_aei_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``train aei`` options to ``parser``."""
    d = TrainOptions(out="")
    parser.add_argument("--data", help="folder of AEI-frame face crops (faceweave build-dataset SRC OUT --aei)")
    parser.add_argument("--out", required=True, help="run directory: checkpoints, TensorBoard logs, metrics")
    parser.add_argument("--config", help="JSON or TOML file with [model] (AEIConfig) and [loss] (λ) tables")
    parser.add_argument(
        "--preset",
        choices=AEIConfig.PRESETS,
        default=d.preset,
        help="network size: paper (256 px, default), small (128 px, real-time CPU), cpu (64 px, narrow), tiny (tests)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/latest if present")
    parser.add_argument("--max-steps", type=int, default=d.max_steps, help="total steps (thesis: 500000)")
    parser.add_argument(
        "--batch-size", type=int, default=d.batch_size, help="global batch (thesis: 8), split over ranks"
    )
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (E+G and D)")
    parser.add_argument(
        "--same-ratio", type=float, default=d.same_ratio, help="share of same-identity pairs (thesis: 1:5 → 0.2)"
    )
    parser.add_argument(
        "--id-mix",
        type=float,
        default=d.id_mix,
        metavar="P",
        help="faceweave's identity augmentation (not in the thesis): blend source embeddings "
        "for a share P of pairs (default 0 = off; docs/aei.md)",
    )
    parser.add_argument(
        "--pseudo-pairs",
        metavar="DIR",
        help="faceweave's pseudo pairs (not in the thesis, off by default): warp-engine swaps between "
        "training crops as pixel targets (scripts/aei_pseudo_pairs.py; docs/aei.md)",
    )
    parser.add_argument("--pseudo-ratio", type=float, default=d.pseudo_ratio, metavar="P",
                        help="share of pairs replaced by pseudo pairs (with --pseudo-pairs)")
    parser.add_argument("--pseudo-weight", type=float, default=d.pseudo_weight,
                        help="λ of the pseudo-pair term (default 10 = λ_rec)")
    parser.add_argument(
        "--identity", metavar="MODULE:FUNC", help=f"frozen identity net factory (default {DEFAULT_IDENTITY})"
    )
    parser.add_argument("--ckpt-every", type=int, default=d.ckpt_every, help="checkpoint every N steps")
    parser.add_argument("--keep", type=int, default=d.keep, help="checkpoints to keep (0 = all)")
    parser.add_argument("--log-every", type=int, default=d.log_every, help="scalar logging interval (steps)")
    parser.add_argument("--image-every", type=int, default=d.image_every, help="image grid interval (0 = never)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--amp", action="store_true", help="CUDA mixed precision (float16 + grad scaling)")
    parser.add_argument("--workers", type=int, default=d.workers, help="DataLoader worker processes")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", help="no TensorBoard logs")
    return parser


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in vars(args).items() if k in names})
