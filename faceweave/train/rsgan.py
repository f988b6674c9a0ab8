"""Train RSGAN following Algorithm A1 of the paper's supplement.

Command line (mounted by ``faceweave train rsgan``; also ``python -m faceweave.train.rsgan`` and
``torchrun --nproc_per_node=N -m faceweave.train.rsgan``, the same arguments)::

    faceweave train rsgan --data DIR --out RUN [--config FILE] [--preset demo] [--resume]
                          [--max-steps N] [--batch-size 50] [--ckpt-every 1000] [--seed 0]
                          [--device auto|cpu|cuda] [--amp]

``--batch-size`` is the global batch (the paper's 50); under torchrun each rank takes
``batch_size / world_size``. ``--config`` is JSON or TOML with an optional ``[model]`` table
(:class:`~faceweave.models.rsgan.RSGANConfig` fields, or ``preset = "demo"``) and an optional
``[loss]`` table (:class:`~faceweave.models.rsgan.losses.RSGANLossWeights`).

Run directory: ``RUN/checkpoints/`` (``step_N.safetensors`` weights with the model config in the
metadata — loadable with ``RSGAN.from_pretrained`` —, ``step_N.pt`` optimiser/scaler/RNG state,
``latest``), ``RUN/tb/`` (TensorBoard: ``loss/*`` scalars, ``images/grid`` rows x, x′, a swap,
a random x̂′), ``RUN/metrics.jsonl``, ``RUN/run.json`` (options, config).

The step of Algorithm A1 (which loss updates which network) is :mod:`faceweave.train.rsgan_step`;
the options and flags are :mod:`faceweave.train.rsgan_options`.

Exact resume: batches are indexed by step (:class:`~faceweave.train.distributed.StepBatchSampler`),
and model, optimiser, grad scaler and every rank's RNG states are checkpointed, so a resumed CPU
run reproduces the losses of an uninterrupted one (with ``--workers 0``, or a dataset without
random augmentation).
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
from safetensors import safe_open
from torch.utils.data import DataLoader, Dataset

from faceweave.errors import FaceweaveError, ParameterError
from faceweave.models.rsgan import RSGAN, RSGANConfig
from faceweave.models.rsgan.losses import RSGANLossWeights
from faceweave.models.rsgan.model import CONFIG_METADATA_KEY
from faceweave.train import checkpoint as ckpt
from faceweave.train.distributed import (
    DistContext,
    StepBatchSampler,
    any_rank,
    barrier,
    broadcast_parameters,
    distributed_run,
    elastic_restart_count,
    inject_fault,
    make_sampler,
)
from faceweave.train.entry import run_trainer
from faceweave.train.logging import TrainLogger
from faceweave.train.rsgan_options import TrainOptions, add_train_rsgan_args, load_config_file, options_from_args
from faceweave.train.rsgan_step import (
    BATCH_KEYS,
    CRITIC_NETS,
    SEPARATOR_NETS,
    RSGANTrainer,
    StepOutputs,
    a1_objectives,
    backward_a1,
    compute_losses,
    prepare_batch,
)
from faceweave.train.signals import GracefulStop

__all__ = [
    "BATCH_KEYS", "CRITIC_NETS", "SEPARATOR_NETS", "RSGANTrainer", "StepOutputs", "TrainOptions", "TrainResult",
    "a1_objectives", "add_train_rsgan_args", "backward_a1", "compute_losses", "load_config_file",
    "options_from_args", "prepare_batch", "train", "train_main",
]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished (or stopped) run returns."""

    step: int
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_signal: bool = False
    resumed_from: int | None = None
    model: RSGAN | None = field(default=None, repr=False)  # the trained model (in memory)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _build_dataset(opts: TrainOptions, face_mask: bool = False) -> Dataset:
    if opts.dataset_factory:
        mod_name, _, fn_name = opts.dataset_factory.partition(":")
        try:
            factory = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as e:
            raise FaceweaveError(f"cannot import dataset factory {opts.dataset_factory!r}: {e}") from e
        return factory(opts.data)
    if not opts.data:
        raise ParameterError("data", "DIR", "is required (the dataset folder)")
    if not Path(opts.data).is_dir():
        raise ParameterError("data", opts.data, "is not a directory")
    try:
        from faceweave.data.dataset import RSGANDataset
    except ImportError as e:
        raise FaceweaveError(f"the RSGAN dataset module is unavailable ({e})") from e
    return RSGANDataset(opts.data, split="train", flip=opts.flip, face_mask=face_mask)


def _gather_rng(ctx: DistContext) -> list[dict[str, Any]]:
    state = ckpt.capture_rng_state()
    if not ctx.distributed:
        return [state]
    import torch.distributed as dist

    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, state)
    return gathered


def train(opts: TrainOptions, dataset: Dataset | None = None) -> TrainResult:
    """Train (or resume) an RSGAN run; ``dataset`` overrides ``--data`` (any Dataset of RSGAN item dicts)."""
    with distributed_run(opts.device) as ctx:
        return _train(opts, dataset, ctx)


@dataclass
class _Setup:
    """What a run starts from: the checkpoint found (and loaded, on resume), loss weights, data, config."""

    found: Path | None
    loaded: ckpt.Checkpoint | None
    weights: RSGANLossWeights
    dataset: Dataset
    config: RSGANConfig


def _check_options(opts: TrainOptions, ctx: DistContext) -> None:
    if opts.batch_size < 1 or opts.batch_size % ctx.world_size:
        raise ParameterError("batch_size", opts.batch_size,
                             f"must be a positive multiple of the {ctx.world_size} ranks")
    for name in ("max_steps", "ckpt_every"):
        if getattr(opts, name) < 1:
            raise ParameterError(name, getattr(opts, name), "must be ≥ 1")


def _setup(opts: TrainOptions, dataset: Dataset | None, run: Path) -> _Setup:
    """Model config: checkpoint (resume) > config file / preset; attribute names come from the data."""
    found = ckpt.latest_checkpoint(run / "checkpoints")
    if found is not None and not opts.resume:
        raise FaceweaveError(f"{run} already holds checkpoints; pass --resume or choose another --out")
    loaded = ckpt.load_checkpoint(found, map_location="cpu") if (found is not None and opts.resume) else None
    model_section, loss_section = load_config_file(opts.config) if opts.config else ({}, {})
    if loaded is not None:
        weights = RSGANLossWeights.from_dict(loaded.trainer_state["loss_weights"])
    else:
        weights = RSGANLossWeights.from_dict(loss_section)
    if opts.swap_weight is not None:  # the command line wins, also over a resumed run's weights
        weights = dataclasses.replace(weights, swap=float(opts.swap_weight))
    if opts.edit_weight is not None:
        weights = dataclasses.replace(weights, edit=float(opts.edit_weight))
    ds = dataset if dataset is not None else _build_dataset(opts, face_mask=weights.swap > 0)
    ds_attrs = [str(a) for a in getattr(ds, "attribute_names", [])]
    if loaded is not None:
        cfg = RSGANConfig.from_dict(_read_metadata_config(loaded.weights_path))
        if ds_attrs != cfg.attribute_names:
            raise FaceweaveError(
                f"the dataset's attributes {ds_attrs} differ from the checkpoint's {cfg.attribute_names}"
            )
    else:
        if opts.preset and "preset" not in model_section:
            model_section["preset"] = opts.preset
        model_section["attribute_names"] = ds_attrs
        cfg = RSGANConfig.from_dict(model_section)
    return _Setup(found, loaded, weights, ds, cfg)


def _start(opts: TrainOptions, s: _Setup, model: RSGAN, trainer: RSGANTrainer, ctx: DistContext) -> int | None:
    """Restore a resumed run (weights, optimiser, RNG) or broadcast fresh weights; returns the resumed step."""
    if s.loaded is None:
        broadcast_parameters(model, ctx)
        if ctx.rank:
            _seed_everything(opts.seed + 7919 * ctx.rank)  # different noise per rank, same weights
        if opts.resume and ctx.is_main:
            log.info("--resume: no checkpoint in %s yet; starting from step 0", Path(opts.out) / "checkpoints")
        return None
    model.load_exported_state({k: v.to(ctx.device) for k, v in s.loaded.tensors.items()})
    trainer.load_state(s.loaded.trainer_state)
    states = s.loaded.trainer_state["rng"]
    if len(states) == ctx.world_size:
        ckpt.restore_rng_state(states[ctx.rank])
    else:
        log.warning("checkpoint has RNG states of %d ranks, this run has %d: reseeding", len(states), ctx.world_size)
        _seed_everything(opts.seed + 7919 * ctx.rank + trainer.step)
    if ctx.is_main:
        log.info("resumed from %s (step %d)", s.loaded.weights_path, trainer.step)
    return trainer.step


def _loader(opts: TrainOptions, ds: Dataset, ctx: DistContext, start: int) -> DataLoader:
    local_batch = opts.batch_size // ctx.world_size
    sampler = StepBatchSampler(make_sampler(ds, ctx, shuffle=True, seed=opts.seed), local_batch, start_step=start)
    return DataLoader(
        ds,
        batch_sampler=sampler,
        num_workers=opts.workers,
        generator=torch.Generator().manual_seed(opts.seed + start),
        pin_memory=ctx.device.type == "cuda",
        persistent_workers=opts.workers > 0,
    )


def _write_run_info(run: Path, opts: TrainOptions, s: _Setup, ctx: DistContext) -> None:
    run.mkdir(parents=True, exist_ok=True)
    info = {
        "options": dataclasses.asdict(opts),
        "model": s.config.to_dict(),
        "loss": s.weights.to_dict(),
        "world_size": ctx.world_size,
        "device": str(ctx.device),
    }
    ckpt.atomic_write(run / "run.json", lambda p: Path(p).write_text(json.dumps(info, indent=2), encoding="utf-8"))


def _save(opts: TrainOptions, cfg: RSGANConfig, trainer: RSGANTrainer, ctx: DistContext,
          sampler: dict[str, int] | None = None) -> Path | None:
    """Checkpoint the current step (every rank's RNG state gathered; rank 0 writes); the weights' path."""
    rng = _gather_rng(ctx)
    path = None
    if ctx.is_main:
        meta = {
            CONFIG_METADATA_KEY: json.dumps(cfg.to_dict()),
            "inference_only": "false",
            "format": "faceweave-rsgan-checkpoint",
        }
        state = dict(trainer.state(), rng=rng, world_size=ctx.world_size, seed=opts.seed, sampler=sampler or {})
        path = ckpt.save_checkpoint(
            Path(opts.out) / "checkpoints", trainer.step, trainer.model.export_state(), state, meta, keep=opts.keep
        )
        log.debug("checkpoint %s", path)
    barrier(ctx)
    return path


def _loop(opts: TrainOptions, cfg: RSGANConfig, trainer: RSGANTrainer, loader: DataLoader, logger: TrainLogger,
          ctx: DistContext, result: TrainResult) -> None:
    """Steps until --max-steps or a stop signal; logs, image grids and checkpoints on their intervals."""
    with GracefulStop() as stop:
        data_iter = iter(loader)
        while trainer.step < opts.max_steps:
            batch = prepare_batch(next(data_iter), ctx.device, cfg.image_size)
            values = trainer.train_step(batch)
            step = trainer.step
            result.history.append({"step": step, **values})
            if ctx.is_main:
                if step % opts.log_every == 0 or step == opts.max_steps:
                    logger.scalars(step, values)
                if opts.image_every and (step % opts.image_every == 0 or step == 1):
                    logger.image_grid(step, "images/grid", trainer.preview(batch))
                logger.progress(step, {"rec": values["rec"], "adv_g": values["adv_g"]})
            inject_fault(step, ctx)
            stopping = any_rank(stop.requested, ctx)
            if step % opts.ckpt_every == 0 or step == opts.max_steps or stopping:
                saved = _save(opts, cfg, trainer, ctx, loader.batch_sampler.state(step))  # type: ignore[union-attr]
                if saved is not None:
                    result.checkpoint = saved
            if stopping:
                result.stopped_by_signal = True
                if ctx.is_main:
                    log.warning("stopped by %s at step %d; resume with --resume", stop.signal_name or "a signal", step)
                break


def _train(opts: TrainOptions, dataset: Dataset | None, ctx: DistContext) -> TrainResult:
    run = Path(opts.out)
    if elastic_restart_count() and not opts.resume:  # torchrun restarted the group: continue the run
        opts = dataclasses.replace(opts, resume=True)
    _check_options(opts, ctx)
    s = _setup(opts, dataset, run)
    _seed_everything(opts.seed)
    model = RSGAN(s.config)
    trainer = RSGANTrainer(model, s.weights, ctx, lr=opts.lr, betas=(opts.beta1, opts.beta2), amp=opts.amp)
    resumed_from = _start(opts, s, model, trainer, ctx)
    start = trainer.step
    if start >= opts.max_steps:
        log.info("already at step %d ≥ --max-steps %d; nothing to do", start, opts.max_steps)
        return TrainResult(step=start, checkpoint=s.found, resumed_from=resumed_from)
    loader = _loader(opts, s.dataset, ctx, start)
    if ctx.is_main:
        _write_run_info(run, opts, s, ctx)
    logger = TrainLogger(run, enabled=ctx.is_main, total_steps=opts.max_steps, start_step=start,
                         progress=opts.progress, tensorboard=opts.tensorboard)
    if ctx.is_main and resumed_from is not None:
        logger.truncate_after(start)
    result = TrainResult(step=start, checkpoint=s.found, resumed_from=resumed_from)
    try:
        _loop(opts, s.config, trainer, loader, logger, ctx, result)
    finally:
        logger.close()
    result.step = trainer.step
    result.model = model
    return result


def _read_metadata_config(weights_path: Path) -> dict[str, Any]:
    with safe_open(str(weights_path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
    if CONFIG_METADATA_KEY not in meta:
        raise FaceweaveError(f"{weights_path} is not an RSGAN checkpoint (no config in its metadata)")
    return json.loads(meta[CONFIG_METADATA_KEY])


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``faceweave train rsgan`` and ``python -m faceweave.train.rsgan``; returns an exit code."""
    parser = add_train_rsgan_args(
        argparse.ArgumentParser(prog="faceweave train rsgan", description=__doc__.split("\n")[0])
    )
    return run_trainer(parser, argv, options_from_args, train)


if __name__ == "__main__":
    sys.exit(train_main())
