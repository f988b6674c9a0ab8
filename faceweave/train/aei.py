"""Train AEI-Net (FaceShifter; seed 001, thesis sec. 4.2.5 and appendix B).

Command line (``faceweave train aei``; also ``python -m faceweave.train.aei`` and
``torchrun --nproc_per_node=N -m faceweave.train.aei``, the same arguments)::

    faceweave train aei --data FACES --out RUN [--preset paper|cpu|tiny] [--config FILE] [--resume]
                        [--max-steps 500000] [--batch-size 8] [--same-ratio 0.2] [--id-mix 0]
                        [--device auto|cpu|cuda] [--amp] [--workers N] [--seed 0]

FACES is a folder written by ``faceweave build-dataset SRC FACES --aei`` (or any folder of crops in
the AEI frame; sub-folders are identities). ``--batch-size`` is the global batch (the thesis: 8);
under torchrun each rank takes ``batch_size / world_size``.

One step (appendix B's ``optimize_parameters``; the identity net z_id is frozen and never updated):

1. z_id(X_s) without gradients; Ŷ = G(z_id(X_s), E(X_t)); E(Ŷ); D(Ŷ) with D's parameters frozen;
   L_E,G = L_adv + λ_id L_id + λ_att L_att + λ_rec L_rec (Eq. 4.12) → one backward into E and G;
2. L_D = hinge(D(X_t), D(Ŷ.detach())) (Eq. 4.8) → one backward into D.

The appendix computes L_id between z_id(X_s) and a variable it never sets (``Z_id_target``); we take
the text's Eq. 4.9 (z_id(Ŷ) against z_id(X_s)). "Real" images for D are the targets X_t (appendix B).
Optimiser: Adam, lr 4e-4, β = (0, 0.999) (FaceShifter's public re-implementations; the thesis gives
none). Under torchrun, E+G (one module: E(X_t), G, E(Ŷ) in one forward) and D are each wrapped in
``DistributedDataParallel`` — one forward and one backward per step each, gradients averaged by DDP.

faceweave addition (off by default; not in the thesis): ``--id-mix P`` — identity augmentation for
data sets with few identities: with probability P a pair's source embedding is replaced by a random
blend normalise(α z_id(X_s) + (1 − α) z_id(X_s')) of two sources (α ~ U(0, 1)), and L_id is measured
against the blend; L_rec is off for such pairs. See docs/aei.md for its measured effect.

Run directory: ``RUN/checkpoints/`` (safetensors weights with the config in the metadata, loadable
with ``AEINet.from_pretrained``; optimiser/scaler/RNG state; ``latest``), ``RUN/tb/`` (TensorBoard
``loss/*`` and ``images/grid``: X_s, X_t, Ŷ_s,t, Ŷ_t,t), ``RUN/metrics.jsonl``, ``RUN/run.json``.
Exact resume: pairs are drawn per step from a seeded generator and every RNG state is checkpointed,
so a resumed run reproduces the loss curve of an uninterrupted one (CPU, ``--workers 0``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import os
import random
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from faceweave.errors import FaceweaveError
from faceweave.models.aei import AEIConfig, AEILossWeights, AEINet
from faceweave.train import checkpoint as ckpt
from faceweave.train.aei_step import AEITrainer, GeneratorPass, mix_identities, prepare_batch
from faceweave.train.distributed import (
    DistContext,
    StepBatchSampler,
    any_rank,
    barrier,
    cleanup_distributed,
    init_distributed,
    make_sampler,
)
from faceweave.train.logging import TrainLogger
from faceweave.train.signals import GracefulStop

log = logging.getLogger(__name__)

__all__ = [  # the step's names (train/aei_step.py) stay importable from here
    "AEITrainer", "GeneratorPass", "TrainOptions", "TrainResult", "add_train_aei_args", "load_config_file",
    "load_identity_net", "mix_identities", "options_from_args", "prepare_batch", "train", "train_main",
]

DEFAULT_IDENTITY = "faceweave.models.aei.identity:default_identity_net"  # the frozen 512-D ArcFace-style net


# ---------------------------------------------------------------------- options
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
    ckpt_every: int = 1000
    keep: int = 3
    log_every: int = 10
    image_every: int = 500
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    workers: int = 0
    progress: bool = True
    tensorboard: bool = True
    identity: str | None = None  # MODULE:FUNC returning the frozen identity nn.Module


@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_signal: bool = False
    resumed_from: int | None = None
    model: AEINet | None = field(default=None, repr=False)


def load_config_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a JSON or TOML config: returns (model section, loss section)."""
    p = Path(path)
    if not p.is_file():
        raise FaceweaveError(f"config file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise FaceweaveError(f"cannot parse config {p}: {e}") from e
    unknown = sorted(set(data) - {"model", "loss"})
    if unknown:
        raise FaceweaveError(f"config {p}: unknown sections {', '.join(unknown)} (expected model, loss)")
    return dict(data.get("model", {})), dict(data.get("loss", {}))


def load_identity_net(spec: str | None = None) -> nn.Module:
    """The frozen identity net (B×3×112×112 in [-1, 1] → B×D) named by ``MODULE:FUNC``."""
    mod_name, _, fn_name = (spec or DEFAULT_IDENTITY).partition(":")
    try:
        factory = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise FaceweaveError(f"cannot load the identity net {spec or DEFAULT_IDENTITY!r}: {e}") from None
    return factory()


# ---------------------------------------------------------------------- one step: train/aei_step.py
def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _gather_rng(ctx: DistContext) -> list[dict[str, Any]]:
    state = ckpt.capture_rng_state()
    if not ctx.distributed:
        return [state]
    import torch.distributed as dist

    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, state)
    return gathered


def train(opts: TrainOptions, dataset: Dataset | None = None, identity: nn.Module | None = None) -> TrainResult:
    """Train (or resume) an AEI-Net run; ``dataset`` / ``identity`` override ``--data`` / ``--identity``."""
    ctx = init_distributed(opts.device)
    try:
        return _train(opts, dataset, identity, ctx)
    finally:
        cleanup_distributed(ctx)


def _train(opts: TrainOptions, dataset: Dataset | None, identity: nn.Module | None, ctx: DistContext) -> TrainResult:
    from faceweave.data.aei_faces import PairBatchSampler

    run = Path(opts.out)
    ckpt_dir = run / "checkpoints"
    if opts.batch_size < 1 or opts.batch_size % ctx.world_size:
        raise FaceweaveError(
            f"--batch-size {opts.batch_size} must be a positive multiple of the {ctx.world_size} ranks"
        )
    if opts.max_steps < 1 or opts.ckpt_every < 1:
        raise FaceweaveError("--max-steps and --ckpt-every must be ≥ 1")
    if not 0 <= opts.same_ratio <= 1 or not 0 <= opts.id_mix <= 1:
        raise FaceweaveError("--same-ratio and --id-mix must be in [0, 1]")
    local_batch = opts.batch_size // ctx.world_size

    found = ckpt.latest_checkpoint(ckpt_dir)
    if found is not None and not opts.resume:
        raise FaceweaveError(f"{run} already holds checkpoints; pass --resume or choose another --out")
    loaded = ckpt.load_checkpoint(found, map_location="cpu") if (found is not None and opts.resume) else None
    model_section, loss_section = load_config_file(opts.config) if opts.config else ({}, {})
    if loaded is not None:
        cfg = AEIConfig.from_dict(json.loads(loaded.trainer_state["config"]))
        weights = AEILossWeights.from_dict(loaded.trainer_state["loss_weights"])
    else:
        if "preset" not in model_section:
            model_section["preset"] = opts.preset
        cfg = AEIConfig.from_dict(model_section)
        weights = AEILossWeights.from_dict(loss_section)
    if dataset is None:
        if not opts.data:
            raise FaceweaveError("--data DIR is required")
        from faceweave.data.aei_faces import AEIFaceDataset

        dataset = AEIFaceDataset(opts.data, size=cfg.image_size)
    identities = np.asarray(getattr(dataset, "identities", np.arange(len(dataset))))  # type: ignore[arg-type]
    id_net = identity if identity is not None else load_identity_net(opts.identity)

    _seed_everything(opts.seed)
    model = AEINet(cfg)
    if loaded is not None:
        model.load_exported_state(loaded.tensors)
    trainer = AEITrainer(
        model,
        id_net,
        weights,
        ctx,
        lr=opts.lr,
        betas=(opts.beta1, opts.beta2),
        amp=opts.amp,
        id_mix=opts.id_mix,
        seed=opts.seed,
    )
    resumed_from = None
    if loaded is not None:
        trainer.load_state(loaded.trainer_state)
        states = loaded.trainer_state["rng"]
        if len(states) == ctx.world_size:
            ckpt.restore_rng_state(states[ctx.rank])
        else:
            log.warning(
                "checkpoint has RNG states of %d ranks, this run has %d: reseeding", len(states), ctx.world_size
            )
            _seed_everything(opts.seed + 7919 * ctx.rank + trainer.step)
        resumed_from = trainer.step
        if ctx.is_main:
            log.info("resumed from %s (step %d)", loaded.weights_path, trainer.step)
    elif ctx.rank:
        _seed_everything(opts.seed + 7919 * ctx.rank)
    start = trainer.step
    if start >= opts.max_steps:
        log.info("already at step %d ≥ --max-steps %d; nothing to do", start, opts.max_steps)
        return TrainResult(step=start, checkpoint=found, resumed_from=resumed_from, model=model)

    targets = StepBatchSampler(make_sampler(dataset, ctx, shuffle=True, seed=opts.seed), local_batch, start_step=start)
    pairs = PairBatchSampler(targets, identities, opts.same_ratio, opts.seed, ctx.rank, start_step=start)
    loader = DataLoader(
        dataset,
        batch_sampler=pairs,
        num_workers=opts.workers,
        pin_memory=ctx.device.type == "cuda",
        persistent_workers=opts.workers > 0,
    )
    if ctx.is_main:
        run.mkdir(parents=True, exist_ok=True)
        info = {
            "options": dataclasses.asdict(opts),
            "model": cfg.to_dict(),
            "loss": weights.to_dict(),
            "world_size": ctx.world_size,
            "device": str(ctx.device),
            "images": len(dataset),  # type: ignore[arg-type]
            "identities": int(len(np.unique(identities))),
        }
        ckpt.atomic_write(run / "run.json", lambda p: Path(p).write_text(json.dumps(info, indent=2), encoding="utf-8"))
    logger = TrainLogger(
        run,
        enabled=ctx.is_main,
        total_steps=opts.max_steps,
        start_step=start,
        progress=opts.progress,
        tensorboard=opts.tensorboard,
    )
    if ctx.is_main and resumed_from is not None:
        logger.truncate_after(start)
    result = TrainResult(step=start, checkpoint=found, resumed_from=resumed_from)

    def save() -> None:
        rng = _gather_rng(ctx)
        if ctx.is_main:
            state = dict(
                trainer.state(), rng=rng, world_size=ctx.world_size, seed=opts.seed, config=json.dumps(cfg.to_dict())
            )
            result.checkpoint = ckpt.save_checkpoint(
                ckpt_dir, trainer.step, model.export_state(), state, model.metadata(), keep=opts.keep
            )
        barrier(ctx)

    try:
        with GracefulStop() as stop:
            it = iter(loader)
            while trainer.step < opts.max_steps:
                batch = prepare_batch(next(it), ctx.device, cfg.image_size)
                values = trainer.train_step(batch)
                step = trainer.step
                result.history.append({"step": step, **values})
                if ctx.is_main:
                    if step % opts.log_every == 0 or step == opts.max_steps:
                        logger.scalars(step, values)
                    if opts.image_every and (step % opts.image_every == 0 or step == 1):
                        logger.image_grid(step, "images/grid", trainer.preview(batch))
                    logger.progress(step, {"id": values["id"], "att": values["att"], "rec": values["rec"]})
                stopping = any_rank(stop.requested, ctx)
                if step % opts.ckpt_every == 0 or step == opts.max_steps or stopping:
                    save()
                if stopping:
                    result.stopped_by_signal = True
                    if ctx.is_main:
                        log.warning(
                            "stopped by %s at step %d; resume with --resume", stop.signal_name or "a signal", step
                        )
                    break
    finally:
        logger.close()
    result.step = trainer.step
    result.model = model
    return result


# ---------------------------------------------------------------------- command line
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
        help="network size: paper (256 px, default), cpu (64 px, narrow), tiny (tests)",
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


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m faceweave.train.aei`` (and torchrun); returns an exit code."""
    parser = add_train_aei_args(argparse.ArgumentParser(prog="faceweave train aei", description=__doc__.split("\n")[0]))
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = train(options_from_args(args))
    except FaceweaveError as e:
        log.error("%s", e)
        return e.exit_code
    log.info("finished at step %d; checkpoint %s", result.step, result.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
