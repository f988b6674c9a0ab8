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
import random
import sys
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
from faceweave.train.aei_options import (
    DEFAULT_IDENTITY,
    TrainOptions,
    add_train_aei_args,
    load_config_file,
    options_from_args,
)
from faceweave.train.aei_step import AEITrainer, GeneratorPass, mix_identities, prepare_batch
from faceweave.train.distributed import (
    DistContext,
    StepBatchSampler,
    any_rank,
    barrier,
    distributed_run,
    elastic_restart_count,
    inject_fault,
    make_sampler,
)
from faceweave.train.entry import run_trainer
from faceweave.train.logging import TrainLogger
from faceweave.train.signals import GracefulStop

log = logging.getLogger(__name__)

__all__ = [  # the step's names (train/aei_step.py) stay importable from here
    "AEITrainer", "GeneratorPass", "TrainOptions", "TrainResult", "add_train_aei_args", "load_config_file",
    "load_identity_net", "mix_identities", "options_from_args", "prepare_batch", "train", "train_main",
]




# ---------------------------------------------------------------------- options: train/aei_options.py
@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_signal: bool = False
    resumed_from: int | None = None
    model: AEINet | None = field(default=None, repr=False)


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
    with distributed_run(opts.device) as ctx:
        return _train(opts, dataset, identity, ctx)


def _check_options(opts: TrainOptions, ctx: DistContext) -> None:
    if opts.batch_size < 1 or opts.batch_size % ctx.world_size:
        raise FaceweaveError(
            f"--batch-size {opts.batch_size} must be a positive multiple of the {ctx.world_size} ranks"
        )
    if opts.max_steps < 1 or opts.ckpt_every < 1:
        raise FaceweaveError("--max-steps and --ckpt-every must be ≥ 1")
    if not 0 <= opts.same_ratio <= 1 or not 0 <= opts.id_mix <= 1:
        raise FaceweaveError("--same-ratio and --id-mix must be in [0, 1]")
    if not 0 <= opts.pseudo_ratio <= 1:
        raise FaceweaveError("--pseudo-ratio must be in [0, 1]")


def _configs(opts: TrainOptions, loaded: Any) -> tuple[AEIConfig, AEILossWeights]:
    """The model config and loss weights: the checkpoint's when resuming, else --config / --preset."""
    model_section, loss_section = load_config_file(opts.config) if opts.config else ({}, {})
    if loaded is not None:
        return (AEIConfig.from_dict(json.loads(loaded.trainer_state["config"])),
                AEILossWeights.from_dict(loaded.trainer_state["loss_weights"]))
    if "preset" not in model_section:
        model_section["preset"] = opts.preset
    return AEIConfig.from_dict(model_section), AEILossWeights.from_dict(loss_section)


def _restore(trainer: AEITrainer, loaded: Any, opts: TrainOptions, ctx: DistContext) -> int | None:
    """Optimiser and RNG state from a checkpoint (or this rank's seed); the step resumed from."""
    if loaded is None:
        if ctx.rank:
            _seed_everything(opts.seed + 7919 * ctx.rank)
        return None
    trainer.load_state(loaded.trainer_state)
    states = loaded.trainer_state["rng"]
    if len(states) == ctx.world_size:
        ckpt.restore_rng_state(states[ctx.rank])
    else:
        log.warning(
            "checkpoint has RNG states of %d ranks, this run has %d: reseeding", len(states), ctx.world_size
        )
        _seed_everything(opts.seed + 7919 * ctx.rank + trainer.step)
    if ctx.is_main:
        log.info("resumed from %s (step %d)", loaded.weights_path, trainer.step)
    return trainer.step


def _write_run_info(run: Path, opts: TrainOptions, cfg: AEIConfig, weights: AEILossWeights, ctx: DistContext,
                    dataset: Dataset, identities: np.ndarray) -> None:
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


def _with_pseudo_pairs(opts: TrainOptions, dataset: Dataset, pairs: Any, cfg: AEIConfig, ctx: DistContext,
                       start: int) -> tuple[Dataset, Any]:
    """faceweave's pseudo-pair augmentation (docs/aei.md): wrap the dataset and the pair sampler."""
    from faceweave.data.aei_pseudo import PseudoPairSampler, PseudoTargets, load_pseudo_pairs

    files = getattr(dataset, "files", None)
    if files is None:
        raise FaceweaveError("--pseudo-pairs needs a face folder dataset (--data)")
    idx, refs = load_pseudo_pairs(opts.pseudo_pairs, files)  # type: ignore[arg-type]
    log.info("pseudo pairs: %d, share %.2f, λ %.1f", len(idx), opts.pseudo_ratio, opts.pseudo_weight)
    wrapped = PseudoTargets(dataset, refs, cfg.image_size)
    return wrapped, PseudoPairSampler(pairs, idx, opts.pseudo_ratio, opts.seed, ctx.rank, start_step=start)


def _train(opts: TrainOptions, dataset: Dataset | None, identity: nn.Module | None, ctx: DistContext) -> TrainResult:
    from faceweave.data.aei_faces import PairBatchSampler

    run = Path(opts.out)
    ckpt_dir = run / "checkpoints"
    if elastic_restart_count() and not opts.resume:  # torchrun restarted the group: continue the run
        opts = dataclasses.replace(opts, resume=True)
    _check_options(opts, ctx)
    local_batch = opts.batch_size // ctx.world_size

    found = ckpt.latest_checkpoint(ckpt_dir)
    if found is not None and not opts.resume:
        raise FaceweaveError(f"{run} already holds checkpoints; pass --resume or choose another --out")
    loaded = ckpt.load_checkpoint(found, map_location="cpu") if (found is not None and opts.resume) else None
    cfg, weights = _configs(opts, loaded)
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
    trainer = AEITrainer(model, id_net, weights, ctx, lr=opts.lr, betas=(opts.beta1, opts.beta2), amp=opts.amp,
                         id_mix=opts.id_mix, seed=opts.seed, pseudo_weight=opts.pseudo_weight)
    resumed_from = _restore(trainer, loaded, opts, ctx)
    start = trainer.step
    if start >= opts.max_steps:
        log.info("already at step %d ≥ --max-steps %d; nothing to do", start, opts.max_steps)
        return TrainResult(step=start, checkpoint=found, resumed_from=resumed_from, model=model)

    targets = StepBatchSampler(make_sampler(dataset, ctx, shuffle=True, seed=opts.seed), local_batch, start_step=start)
    pairs = PairBatchSampler(targets, identities, opts.same_ratio, opts.seed, ctx.rank, start_step=start)
    if opts.pseudo_pairs and opts.pseudo_ratio > 0:
        dataset, pairs = _with_pseudo_pairs(opts, dataset, pairs, cfg, ctx, start)
    loader = DataLoader(
        dataset,
        batch_sampler=pairs,
        num_workers=opts.workers,
        pin_memory=ctx.device.type == "cuda",
        persistent_workers=opts.workers > 0,
    )
    if ctx.is_main:
        _write_run_info(run, opts, cfg, weights, ctx, dataset, identities)
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
    try:
        _loop(opts, ctx, cfg, model, trainer, loader, logger, result, ckpt_dir)
    finally:
        logger.close()
    result.step = trainer.step
    result.model = model
    return result


def _loop(opts: TrainOptions, ctx: DistContext, cfg: AEIConfig, model: AEINet, trainer: AEITrainer,
          loader: DataLoader, logger: TrainLogger, result: TrainResult, ckpt_dir: Path) -> None:
    """Steps until --max-steps or a signal: log, preview, checkpoint every --ckpt-every and at the end."""

    def save() -> None:
        rng = _gather_rng(ctx)
        if ctx.is_main:
            state = dict(
                trainer.state(), rng=rng, world_size=ctx.world_size, seed=opts.seed, config=json.dumps(cfg.to_dict()),
                sampler=loader.batch_sampler.targets.state(trainer.step),  # type: ignore[union-attr]
            )
            result.checkpoint = ckpt.save_checkpoint(
                ckpt_dir, trainer.step, model.export_state(), state, model.metadata(), keep=opts.keep
            )
        barrier(ctx)

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
            inject_fault(step, ctx)
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


# ---------------------------------------------------------------------- command line: flags in train/aei_options.py
def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m faceweave.train.aei`` (and torchrun); returns an exit code."""
    parser = add_train_aei_args(argparse.ArgumentParser(prog="faceweave train aei", description=__doc__.split("\n")[0]))
    return run_trainer(parser, argv, options_from_args, train)


if __name__ == "__main__":
    sys.exit(train_main())
