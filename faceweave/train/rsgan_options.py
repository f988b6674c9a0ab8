"""The options of an RSGAN training run: the dataclass, the config file, the ``faceweave train rsgan`` flags."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from faceweave.models.rsgan import RSGANConfig
from faceweave.train.entry import load_config_file  # noqa: F401 - re-exported, used below


@dataclass
class TrainOptions:
    """Everything the command line sets."""

    out: str
    data: str | None = None
    config: str | None = None
    preset: str | None = None
    resume: bool = False
    max_steps: int = 120_000  # the paper trained 120k global steps
    batch_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
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
    dataset_factory: str | None = None
    flip: bool = False
    swap_weight: float | None = None  # λ_swap (faceweave's region-swap loss); None: the config's / checkpoint's
    edit_weight: float | None = None  # λ_edit (faceweave's attribute-edit loss); None: the config's / checkpoint's


def add_train_rsgan_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``train rsgan`` options to ``parser`` (the CLI mounts this on its subparser)."""
    d = TrainOptions(out="")
    parser.add_argument("--data", help="dataset directory (built by the RSGAN dataset builder)")
    parser.add_argument("--out", required=True, help="run directory: checkpoints, TensorBoard logs, metrics")
    parser.add_argument("--config", help="JSON or TOML file with [model] (RSGANConfig) and [loss] (weights) tables")
    parser.add_argument("--preset", choices=RSGANConfig.PRESETS, help="model size preset (default: paper-scale 128 px)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/latest if present")
    parser.add_argument("--max-steps", type=int, default=d.max_steps, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch size (split over ranks)")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    parser.add_argument("--ckpt-every", type=int, default=d.ckpt_every, help="checkpoint every N steps")
    parser.add_argument("--keep", type=int, default=d.keep, help="checkpoints to keep (0 = all)")
    parser.add_argument("--log-every", type=int, default=d.log_every, help="scalar logging interval (steps)")
    parser.add_argument("--image-every", type=int, default=d.image_every, help="image grid interval (0 = never)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--amp", action="store_true", help="CUDA mixed precision (float16 + grad scaling)")
    parser.add_argument("--workers", type=int, default=d.workers, help="DataLoader worker processes")
    parser.add_argument("--flip", action="store_true", help="random left-right flips of the training items")
    parser.add_argument(
        "--swap-weight",
        type=float,
        metavar="W",
        help="λ_swap of faceweave's region-swap loss (not in the paper; for small datasets, see docs/training.md); "
        "default: the config's or the resumed run's, else 0",
    )
    parser.add_argument(
        "--edit-weight",
        type=float,
        metavar="W",
        help="λ_edit of faceweave's attribute-edit loss (not in the paper; see docs/training.md); "
        "default: the config's or the resumed run's, else 0",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", help="no TensorBoard logs")
    parser.add_argument(
        "--dataset-factory",
        metavar="MODULE:FUNC",
        help="build the dataset with FUNC(data_dir) instead of the RSGAN dataset",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    return TrainOptions(**{k: v for k, v in vars(args).items() if k in names})
