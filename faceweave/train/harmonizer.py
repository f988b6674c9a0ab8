"""Train the seed-004 harmonizer GAN (U-Net generator, ResNet-style discriminator).

Command line (mounted by ``faceweave train harmonizer``; also ``python -m faceweave.train.harmonizer``)::

    faceweave train harmonizer --photos DIR [--frames VIDEO ...] --out RUN [--exclude PATTERN ...]
                               [--preset demo] [--resume] [--max-steps N] [--max-minutes M]
                               [--batch-size 8] [--ckpt-every 200] [--seed 0] [--real-pairs 200]

    torchrun --standalone --nproc_per_node=N -m faceweave.train.harmonizer ...  (same flags; DDP)

Data (:mod:`faceweave.data.harmonizer`): every face of the photos (and of every ``--frame-every``-th
frame of the clips) becomes a cached patch; self-composites are made from them on the fly; real
composites (warp and delaunay engines, different photos) are made once. Both caches live in
``RUN/data_cache.npz`` so ``--resume`` does not analyse the photos again.

Schedule (seed 004, "Training"): "train only the generator until its loss (adversarial +
regularization) fell below a certain threshold. Then train only the discriminator until the
adversarial loss falls below a certain threshold, then go back to the generator". We compare an
exponential moving average of the loss with ``tau_g`` / ``tau_d``; a phase also ends after
``max_phase_g`` / ``max_phase_d`` steps (ours: a threshold that is never reached would otherwise
freeze one network for good). The seed's Adam, learning rate 3e-4; batch 20 in the seed, 8 by
default here (one CPU core). Against the forgetting the seed observed ("the discriminator doesn't
seem to remember the earlier mistakes ... save some of the older generator images"), the
discriminator's fake half-batch mixes current fakes with a history buffer of past fakes
(Shrivastava et al. 2017's image pool).

Each step runs exactly one backward pass (the generator's *or* the discriminator's objective), so
the step is plain-DDP compatible. Embedding loss H4: ``--embed none`` (default until a frozen face
network is available in ``faceweave.nets``) or the name of one (see :func:`build_embedder`).

Run directory: ``RUN/checkpoints/`` (``step_N.safetensors`` with ``G.*`` and ``D.*`` tensors and the
config in the metadata, ``step_N.pt`` optimisers / RNG / schedule / history buffer, ``latest``),
``RUN/tb/`` (TensorBoard: ``loss/*``, ``images/grid`` rows composite | harmonized | real),
``RUN/metrics.jsonl``, ``RUN/run.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from faceweave.data.harmonizer import (
    FacePatch,
    HarmonizerDataset,
    RealComposite,
    face_patch,
    list_photos,
    real_composites,
    video_frames,
)
from faceweave.errors import FaceweaveError
from faceweave.models.harmonizer import (
    CONFIG_METADATA_KEY,
    HarmonizerConfig,
)
from faceweave.models.harmonizer import losses as L
from faceweave.train import checkpoint as ckpt
from faceweave.train.checkpoint import atomic_write
from faceweave.train.distributed import (
    DistContext,
    any_rank,
    barrier,
    distributed_run,
    elastic_restart_count,
    inject_fault,
)
from faceweave.train.harmonizer_options import EMBEDDERS, TrainOptions, add_train_harmonizer_args, options_from_args
from faceweave.train.harmonizer_step import HarmonizerTrainer, HistoryBuffer, ItemCache, Schedule, batch_at, init_from
from faceweave.train.logging import TrainLogger
from faceweave.train.signals import GracefulStop

log = logging.getLogger(__name__)

__all__ = [  # the step's names (train/harmonizer_step.py) stay importable from here
    "EMBEDDERS", "HarmonizerTrainer", "HistoryBuffer", "Schedule", "TrainOptions", "TrainResult",
    "add_train_harmonizer_args", "batch_at", "build_cache", "build_embedder", "load_cache", "main",
    "options_from_args", "save_cache", "train",
]

@dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    resumed_from: int | None = None
    stopped_by_signal: bool = False


def _face_centre(x: torch.Tensor, size: int) -> torch.Tensor:
    """The middle two thirds of a training crop (where the face mask's box lies), resized to ``size``."""
    s = x.shape[-1]
    c = x[..., s // 6: s - s // 6, s // 6: s - s // 6]
    return torch.nn.functional.interpolate(c, size=(size, size), mode="bilinear", align_corners=False)


def build_embedder(name: str) -> L.Embedder | None:
    """The frozen network φ of loss H4 by name.

    The seed used an ImageNet ResNet-18, which ships nowhere. ``identity512`` (the default for the
    demo weights' last phase): the 512-D ArcFace-style identity net of :mod:`faceweave.nets` on the
    face's centre at 112 px — chosen because what a harmonizer must not move is who the face is,
    and because it costs ~0.5 GFLOP against DenseNet-121's ~3 at 224 px, which this CPU cannot
    afford per step. ``densenet``: DenseNet-121 (expression net) features of blocks 1–2 at 224 px,
    the nearest thing to the seed's perceptual ResNet features (for a GPU). ``none``: no H4.
    The judge stays independent: the figures score identity with dlib, not with this net.
    """
    if name == "none":
        return None
    if name not in EMBEDDERS:
        raise FaceweaveError(f"unknown --embed '{name}' (choose from {', '.join(EMBEDDERS)})")
    from faceweave.nets import load

    if name == "identity512":
        net = load("identity512")
        return lambda t: net(_face_centre(t, 112))
    dense = load("expression")

    def features(t: torch.Tensor) -> torch.Tensor:
        f = dense.features(_face_centre(t, 224), layers=("block1", "block2"))
        return torch.cat([v.flatten(1) for v in f.values()], 1)

    return features


# ----------------------------------------------------------------------------- data cache
def _analyze_all(opts: TrainOptions) -> list[tuple[str, np.ndarray, list[Any]]]:
    from faceweave.analysis import analyze
    from faceweave.media.image import read_image

    images = []
    for p in list_photos(opts.photos, tuple(opts.exclude)):
        rgb = read_image(p).rgb
        images.append((p.name, rgb, analyze(rgb, identity=False)))
    for v in opts.frames:
        if not Path(v).is_file():
            raise FaceweaveError(f"--frames {v}: no such file")
        for i, rgb in enumerate(video_frames(v, opts.frame_every)):
            images.append((f"{Path(v).name}:{i * opts.frame_every}", rgb, analyze(rgb, identity=False)))
    return [im for im in images if im[2]]


def build_cache(opts: TrainOptions, size: int) -> tuple[list[FacePatch], list[RealComposite], list[str]]:
    images = _analyze_all(opts)
    patches = [face_patch(rgb, f, name) for name, rgb, fs in images for f in fs]
    reals = real_composites(images, size, max_pairs=opts.real_pairs, seed=opts.seed) if opts.real_pairs else []
    log.info("%d images, %d faces, %d real composites", len(images), len(patches), len(reals))
    return patches, reals, [name for name, _, _ in images]


def save_cache(path: Path, patches: list[FacePatch], reals: list[RealComposite], sources: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {
        "patch_image": np.stack([p.image for p in patches]),
        "patch_landmarks": np.stack([p.landmarks for p in patches]),
        "patch_source": np.array([p.source for p in patches]),
        "sources": np.array(sources),
    }
    if reals:
        arrays.update(real_x=np.stack([r.x for r in reals]), real_m=np.stack([r.m for r in reals]),
                      real_y=np.stack([r.y for r in reals]), real_engine=np.array([r.engine for r in reals]),
                      real_ct=np.array([r.colour_transfer for r in reals]))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def load_cache(path: Path) -> tuple[list[FacePatch], list[RealComposite], list[str]]:
    z = np.load(path)
    patches = [FacePatch(image=i, landmarks=lm, source=str(s))
               for i, lm, s in zip(z["patch_image"], z["patch_landmarks"], z["patch_source"], strict=True)]
    reals = []
    if "real_x" in z:
        cts = z["real_ct"] if "real_ct" in z else np.ones(len(z["real_x"]), bool)  # older caches: engine defaults
        reals = [RealComposite(x=x, m=m, y=y, engine=str(e), colour_transfer=bool(c))
                 for x, m, y, e, c in zip(z["real_x"], z["real_m"], z["real_y"], z["real_engine"], cts, strict=True)]
    return patches, reals, [str(s) for s in z["sources"]]


def _run_config(opts: TrainOptions, loaded: ckpt.Checkpoint | None) -> HarmonizerConfig:
    """The network config: the checkpoint's when resuming, else the preset's."""
    if loaded is None:
        return HarmonizerConfig.preset(opts.preset)
    with open(loaded.weights_path, "rb"):
        from safetensors import safe_open

        with safe_open(str(loaded.weights_path), framework="pt") as f:
            return HarmonizerConfig.from_dict(json.loads((f.metadata() or {})[CONFIG_METADATA_KEY]))


def _cached_data(opts: TrainOptions, run: Path, size: int) -> tuple[list[FacePatch], list[RealComposite], list[str]]:
    """The run's data cache, built (inputs checked first) and saved on the first run."""
    cache = run / "data_cache.npz"
    if not cache.is_file():  # check the inputs before creating anything
        list_photos(opts.photos, tuple(opts.exclude))
        for v in opts.frames:
            if not Path(v).is_file():
                raise FaceweaveError(f"--frames {v}: no such file")
    if cache.is_file():
        return load_cache(cache)
    patches, reals, sources = build_cache(opts, size)
    if not patches:
        raise FaceweaveError(f"--photos {opts.photos}: no face found in any photo or frame")
    run.mkdir(parents=True, exist_ok=True)
    save_cache(cache, patches, reals, sources)
    return patches, reals, sources


def _loop(opts: TrainOptions, trainer: HarmonizerTrainer, ds: HarmonizerDataset, logger: TrainLogger,
          result: TrainResult, save: Callable[[], None]) -> int:
    """Steps until --max-steps, --max-minutes or a signal; returns the step last saved."""
    ctx = trainer.ctx
    start = trainer.step
    t0 = time.monotonic()
    last_saved = start
    cache = ItemCache()
    with GracefulStop() as stop:
        while trainer.step < opts.max_steps:
            b = batch_at(ds, trainer.step, opts.batch_size, opts.reuse, opts.pool, cache, ctx.rank, ctx.world_size)
            rec = trainer.train_step(b)
            step = trainer.step
            if step % opts.log_every == 0 or step == 1:
                logger.scalars(step, dict(rec, cpu_min=time.process_time() / 60))  # this process's CPU time
            logger.progress(step, {k: v for k, v in rec.items() if k in ("gt", "adv_g", "adv_d")})
            if ctx.is_main and step % opts.image_every == 0:
                with torch.no_grad():
                    out = trainer.G(b["x"][:6], b["m"][:6], transferred=b["ct"][:6])
                logger.image_grid(step, "images/grid", [b["x"][:6], out, b["y"][:6]])
            inject_fault(step, ctx)
            out_of_time = any_rank(opts.max_minutes is not None and (time.monotonic() - t0) / 60 >= opts.max_minutes,
                                   ctx)  # fmt: skip
            stopping = any_rank(stop.requested, ctx)
            if step % opts.ckpt_every == 0 or step == opts.max_steps or stopping or out_of_time:
                save()
                last_saved = step
            if stopping:
                result.stopped_by_signal = True
                log.warning("stopped by %s at step %d; resume with --resume", stop.signal_name or "a signal", step)
                break
            if out_of_time:
                log.info("--max-minutes reached at step %d", step)
                break
            if not math.isfinite(rec.get("g_total", rec.get("adv_d", 0.0))):
                raise FaceweaveError(f"loss is not finite at step {step}")
    return last_saved


def train(opts: TrainOptions) -> TrainResult:
    """Train (or resume) a harmonizer run: one process, or ``torchrun --nproc_per_node=N`` (G and D in
    DistributedDataParallel, ``--batch-size`` the global batch; rank 0 builds the data cache, logs and
    saves; an elastic restart resumes from the last checkpoint)."""
    with distributed_run(opts.device) as ctx:
        return _train(opts, ctx)


def _train(opts: TrainOptions, ctx: DistContext) -> TrainResult:
    if elastic_restart_count() and not opts.resume:  # torchrun restarted the group: continue the run
        opts = dataclasses.replace(opts, resume=True)
    if opts.batch_size % ctx.world_size:
        raise FaceweaveError(f"--batch-size {opts.batch_size} must be a multiple of the number of processes "
                             f"({ctx.world_size})")
    run = Path(opts.out)
    ckpt_dir = run / "checkpoints"
    if opts.batch_size < 1 or opts.max_steps < 1 or opts.ckpt_every < 1:
        raise FaceweaveError("--batch-size, --max-steps and --ckpt-every must be ≥ 1")
    found = ckpt.latest_checkpoint(ckpt_dir)
    if found is not None and not opts.resume:
        raise FaceweaveError(f"{run} already holds checkpoints; pass --resume or choose another --out")
    loaded = ckpt.load_checkpoint(found) if (found is not None and opts.resume) else None
    config = _run_config(opts, loaded)
    random.seed(opts.seed)
    np.random.seed(opts.seed)
    torch.manual_seed(opts.seed)
    if not ctx.is_main:
        barrier(ctx)  # rank 0 builds the data cache first
    patches, reals, sources = _cached_data(opts, run, config.image_size)
    if ctx.is_main:
        barrier(ctx)
    ds = HarmonizerDataset(patches, reals, config.image_size, real_fraction=opts.real_fraction, seed=opts.seed,
                           scene_jitter=opts.scene_jitter)
    trainer = HarmonizerTrainer(config, opts, build_embedder(opts.embed), ctx)
    if opts.init is not None and loaded is None:
        init_from(trainer.G, opts.init)
    resumed_from = None
    if loaded is not None:
        trainer.load(loaded)
        resumed_from = trainer.step
        log.info("resumed from %s (step %d)", loaded.weights_path, trainer.step)
    info = {"options": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(opts).items()},
            "config": config.to_dict(), "faces": len(patches), "real_composites": len(reals), "sources": sources}
    text = json.dumps(info, indent=2, default=str)
    if ctx.is_main:
        atomic_write(run / "run.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    start = trainer.step
    result = TrainResult(step=start, checkpoint=found, resumed_from=resumed_from)
    if start >= opts.max_steps:
        return result
    logger = TrainLogger(run, enabled=ctx.is_main, total_steps=opts.max_steps, start_step=start,
                         progress=opts.progress)  # fmt: skip
    if ctx.is_main and resumed_from is not None:
        logger.truncate_after(start)
    meta = {CONFIG_METADATA_KEY: json.dumps(config.to_dict()), "format": "faceweave-harmonizer-checkpoint"}

    def save() -> None:
        if ctx.is_main:
            state = dict(trainer.state(), weights=dataclasses.asdict(opts.weights), world_size=ctx.world_size)
            result.checkpoint = ckpt.save_checkpoint(ckpt_dir, trainer.step, trainer.tensors(), state, meta)
        barrier(ctx)

    try:
        last_saved = _loop(opts, trainer, ds, logger, result, save)
    finally:
        logger.close()
    if last_saved != trainer.step:
        save()
    result.step = trainer.step
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m faceweave.train.harmonizer`` (and torchrun); returns an exit code."""
    from faceweave.train.entry import run_trainer

    p = argparse.ArgumentParser(prog="python -m faceweave.train.harmonizer", description=__doc__.splitlines()[0])
    add_train_harmonizer_args(p)
    return run_trainer(p, argv, options_from_args, train)


if __name__ == "__main__":
    raise SystemExit(main())
