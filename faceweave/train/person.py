"""``faceweave train person``: train one person's transformation network (seed 003, Korshunova et al.).

1. The person's faces (a clip — deduplicated — a folder of photos, or one photo) are aligned to the
   reference frame; they are the style images Y. Faces of other people (``--content``) and the
   person's own faces are the inputs x.
2. Each step: x̂ = f(x); L = L_content + α L_style + β L_light + γ L_TV (poster Eq. 5), the style
   term matching neural patches of x̂ against the N_best style images nearest x in landmark space.
3. Checkpoints (weights + optimiser; a batch is a function of seed and step) are written atomically
   every ``--checkpoint-every`` steps and at the end or on SIGINT/SIGTERM; a re-run with the same
   ``--out`` resumes from the latest (also after SIGKILL).
   The result is ``OUT/NAME.safetensors``: weights and model card.
4. Several processes: ``torchrun --nproc_per_node=N -m faceweave.train.person ...`` (gloo on CPU,
   NCCL on CUDA): DistributedDataParallel, ``--batch`` is the global batch, rank 0 logs and saves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
    pair_loss,
    style_loss,
    tv_loss,
)
from faceweave.models.person.network import TransformationConfig, TransformationNet
from faceweave.models.person.person_file import save_person
from faceweave.train.distributed import (
    DistContext,
    any_rank,
    barrier,
    distributed_run,
    inject_fault,
    mean_over_ranks,
    wrap_ddp,
)
from faceweave.train.person_data import (
    TrainData,
    arcface_of_frames,
    batch_at,
    load_or_extract_faces,
    pair_batch_at,
    train_data,
)
from faceweave.train.person_options import PersonTrainOptions, add_train_person_args, options_from_args

log = logging.getLogger(__name__)
__all__ = ["PersonTrainOptions", "add_train_person_args", "net_config", "options_from_args", "train", "train_main"]


def _check(o: PersonTrainOptions) -> Path:
    if not o.name or not o.name.replace("-", "").replace("_", "").isalnum():
        raise FaceweaveError(f"--name {o.name!r}: use letters, digits, '-' and '_'")
    if o.steps < 1 or o.batch < 1 or o.n_best < 1:
        raise FaceweaveError("--steps, --batch and --n-best must be at least 1")
    out = Path(o.out)
    if out.exists() and not out.is_dir():
        raise FaceweaveError(f"--out {out}: exists and is not a folder")
    return out


def _losses(net: TransformationNet, feats: DenseNetFeatures, light: torch.nn.Module, x: torch.Tensor,
            lms: np.ndarray, data: TrainData, o: PersonTrainOptions, w: LossWeights,
            pair: tuple[torch.Tensor, torch.Tensor] | None = None, poster: bool = True) -> dict[str, torch.Tensor]:
    """The terms of one step and their total (seed 003 poster Eq. 5, plus our optional terms).

    ``poster=False`` (the first ``--pair-warmup`` steps): our terms alone, no DenseNet."""
    terms: dict[str, torch.Tensor] = {}
    loss = torch.zeros((), device=x.device)
    xh = net(x) if poster or o.identity_weight > 0 else None
    if poster:
        assert xh is not None
        nn_idx = torch.from_numpy(nearest_style_images(pose_expression_descriptor(lms), data.style_desc, o.n_best))
        fo = feats(xh)
        with torch.no_grad():
            fi = feats.net.features(x, tuple(o.content_layers))
            g_in = light(x)
        lc = sum(content_loss(fo[n], fi[n]) for n in o.content_layers)
        ls = sum(style_loss(fo[n], data.style_phi[n][nn_idx].float()) for n in o.style_layers)
        ll = light_loss(light(xh), g_in)
        lt = tv_loss(xh)
        loss = lc + w.alpha * ls + w.beta * ll + w.gamma * lt  # seed 003 poster Eq. (5), total loss
        terms = {"content": lc, "style": ls, "light": ll, "tv": lt}  # type: ignore[dict-item]
    if xh is not None and o.identity_weight > 0 and data.person_embedding is not None:  # ours, docs/person.md
        from faceweave.nets.loading import load

        terms["identity"] = identity_loss(load("identity512")(arcface_of_frames(xh, lms)), data.person_embedding)
        loss = loss + o.identity_weight * terms["identity"]
    if pair is not None and o.pseudo_pairs > 0:  # our departure: pseudo pairs, docs/person.md
        terms["pair"] = pair_loss(net(pair[0]), pair[1])
        loss = loss + o.pseudo_pairs * terms["pair"]
    return {"total": loss, **terms}


def _card(o: PersonTrainOptions, d: dict[str, np.ndarray], data: TrainData, step: int, elapsed: float,
          t_faces: float, means: dict[str, float], stats: dict[str, float]) -> dict[str, object]:
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
        "train_cpu_seconds": round(stats.get("cpu_seconds", 0.0), 1),  # process time of the training steps
        "load_average_mean": round(stats.get("load_sum", 0.0) / max(stats.get("load_n", 0.0), 1.0), 1),
        "face_extraction_seconds": round(t_faces, 1),
        "losses_final_ema": {k: round(v, 5) for k, v in means.items()},
        "loss_weights": {"alpha": o.alpha, "beta": o.beta, "gamma": o.gamma,
                         "identity (ours, not in the poster)": o.identity_weight,
                         "pseudo_pairs (ours, not in the poster)": o.pseudo_pairs},
        "pseudo_pairs": {"pairs": 0 if data.pair_x is None else len(data.pair_x), "pair_batch": o.pair_batch,
                         "per_face": o.pseudo_per_face,
                         "onto_others": o.pseudo_onto_others, "jitter": o.pseudo_jitter, "engine": "warp"}
        if o.pseudo_pairs > 0 else None,
        "pair_warmup": o.pair_warmup,
        "content_layers": list(o.content_layers),
        "style_layers": list(o.style_layers),
        "n_best": o.n_best,
        "network": net_config(o).to_dict(),
        "phi": "DenseNet-121 (faceweave.nets 'expression') stands in for the poster's VGG-19",
        "threads": torch.get_num_threads(),
    }


def net_config(o: PersonTrainOptions) -> TransformationConfig:
    """The transformation network the options ask for."""
    return TransformationConfig(size=FRAME_SIZE, branch_channels=o.branch_channels,
                                join_channels=tuple(o.join_channels), output=o.output, canvas=o.canvas)


def init_canvas(net: TransformationNet, style_crops: np.ndarray) -> None:
    """Start the output canvas at the person's mean aligned face (its logit, minus the input term for "residual")."""
    if net.canvas is None:
        return
    with torch.no_grad():
        mean = torch.from_numpy(style_crops.astype(np.float32).mean(0) / 255.0).permute(2, 0, 1)[None]
        mean = mean.clamp(0.02, 0.98)
        net.canvas.copy_(torch.logit(mean) if net.config.output == "direct" else torch.zeros_like(mean))


def _pseudo_pairs(o: PersonTrainOptions, ctx: DistContext, d: dict[str, np.ndarray],
                  out: Path) -> dict[str, np.ndarray] | None:
    """The run's pseudo pairs (rank 0 builds and caches them first), or None when the term is off."""
    if o.pseudo_pairs <= 0:
        return None
    from faceweave.data.person_pseudo import load_or_build_pseudo_pairs

    if not ctx.is_main:
        barrier(ctx)
    pairs = load_or_build_pseudo_pairs(d, out / "pseudo_pairs.npz", o.pseudo_per_face, o.pseudo_onto_others,
                                       o.pseudo_jitter)
    if ctx.is_main:
        barrier(ctx)
    return pairs


def _resume(net: TransformationNet, opt: torch.optim.Optimizer, ckpt_dir: Path,
            lr: float) -> tuple[int, float, dict[str, float]]:
    """Weights and optimiser of the latest checkpoint, if any; (step, training seconds so far, CPU/load stats).

    Batches are a function of (seed, step) (:func:`~faceweave.train.person_data.batch_at`), so no RNG
    state is needed to resume exactly."""
    from faceweave.train.checkpoint import latest_checkpoint, load_checkpoint

    if latest_checkpoint(ckpt_dir) is None:
        return 0, 0.0, {}
    ck = load_checkpoint(ckpt_dir)
    net.load_state_dict(ck.tensors)
    opt.load_state_dict(ck.trainer_state["optimizer"])
    for group in opt.param_groups:  # --lr of the resuming command wins over the checkpoint's
        group["lr"] = lr
    log.info("resumed from step %d (%s)", ck.step, ck.weights_path.name)
    return ck.step, float(ck.trainer_state.get("elapsed", 0.0)), dict(ck.trainer_state.get("stats", {}))


def train(o: PersonTrainOptions) -> Path:
    """Train (or resume) and write ``OUT/NAME.safetensors``; returns its path.

    One process, or ``torchrun --nproc_per_node=N``: the network in ``DistributedDataParallel`` (one
    backward per step), each rank on its share of the global ``--batch``; rank 0 extracts the faces,
    logs, checkpoints and writes the person file; an elastic restart resumes from the last checkpoint.
    """
    with distributed_run(o.device) as ctx:
        return _train(o, ctx)


def _train(o: PersonTrainOptions, ctx: DistContext) -> Path:
    from faceweave.models.person.light import load_light_net

    out = _check(o)
    if o.batch % ctx.world_size:
        raise FaceweaveError(f"--batch {o.batch} must be a multiple of the number of processes ({ctx.world_size})")
    torch.manual_seed(o.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    t_start = time.time()
    if not ctx.is_main:
        barrier(ctx)  # rank 0 extracts the faces into the run's cache first
    d = load_or_extract_faces(o.photos, o.content, out / "faces.npz", o.every, o.dedupe, o.frames)
    if ctx.is_main:
        barrier(ctx)
    pairs = _pseudo_pairs(o, ctx, d, out)
    t_faces = time.time() - t_start
    feats = DenseNetFeatures(tuple(o.content_layers) + tuple(o.style_layers))
    data = train_data(d, feats, tuple(o.style_layers), identity=o.identity_weight > 0)
    if pairs is not None:
        data.pair_x, data.pair_y = pairs["x"], pairs["y"]
    if ctx.is_main:
        log.info("%d faces of %s (style images), %d faces of other people", len(d["style_crops"]), o.name,
                 data.n_other)
    net = TransformationNet(net_config(o))
    init_canvas(net, d["style_crops"])  # overwritten by the checkpoint when resuming
    net = net.to(ctx.device)
    opt = torch.optim.Adam(net.parameters(), o.lr)
    step, elapsed, stats = _resume(net, opt, out / "checkpoints", o.lr)
    run = _Run(o, ctx, net, wrap_ddp(net, ctx), opt, feats, load_light_net().to(ctx.device), data, step, elapsed,
               stats=stats)
    _loop(run)
    if not ctx.is_main:
        return out / f"{o.name}.safetensors"
    path = save_person(out / f"{o.name}.safetensors", net, _card(o, d, data, run.step, run.elapsed, t_faces,
                                                                   run.means, run.stats))
    log.info("wrote %s (%d steps, %.1f min)", path, run.step, run.elapsed / 60)
    return path


@dataclass
class _Run:
    """What the training loop works on."""

    o: PersonTrainOptions
    ctx: DistContext
    net: TransformationNet
    ddp: torch.nn.Module  # ``net`` itself on one process
    opt: torch.optim.Optimizer
    feats: DenseNetFeatures
    light: torch.nn.Module
    data: TrainData
    step: int
    elapsed: float
    means: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)  # cpu_seconds, load_sum, load_n (for the model card)


def _loop(r: _Run) -> None:
    """Steps until --steps, --max-minutes or a signal; checkpoints every --checkpoint-every and at the end."""
    from faceweave.train.checkpoint import save_checkpoint
    from faceweave.train.logging import TrainLogger
    from faceweave.train.signals import GracefulStop

    o, ctx = r.o, r.ctx
    ckpt_dir = Path(o.out) / "checkpoints"
    logger = TrainLogger(Path(o.out), enabled=ctx.is_main, total_steps=o.steps, start_step=r.step,
                         progress=o.progress, tensorboard=False)
    if ctx.is_main:
        logger.truncate_after(r.step)
    w = LossWeights(o.alpha, o.beta, o.gamma, tuple(o.content_layers), tuple(o.style_layers))

    def checkpoint() -> None:
        if ctx.is_main:
            save_checkpoint(ckpt_dir, r.step, r.net.state_dict(),
                            {"optimizer": r.opt.state_dict(), "elapsed": r.elapsed, "world_size": ctx.world_size,
                             "stats": r.stats},
                            metadata={"options": json.dumps(asdict(o))})
        barrier(ctx)

    r.ddp.train()
    t0 = time.time() - r.elapsed
    c0 = time.process_time() - r.stats.get("cpu_seconds", 0.0)
    try:
        with GracefulStop() as stop:
            while r.step < o.steps:
                x, lms = batch_at(r.data, o.batch, o.seed, r.step, ctx.rank, ctx.world_size)
                pair = None
                if r.data.pair_x is not None:
                    px, py = pair_batch_at(r.data, o.pair_batch, o.seed, r.step, ctx.rank, ctx.world_size)
                    pair = (px.to(ctx.device), py.to(ctx.device))
                terms = _losses(r.ddp, r.feats, r.light, x.to(ctx.device), lms, r.data, o, w, pair,
                                poster=r.step >= o.pair_warmup)
                r.opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                r.opt.step()
                r.step += 1
                r.elapsed = time.time() - t0
                r.stats["cpu_seconds"] = time.process_time() - c0
                vals = mean_over_ranks({k: float(v.detach()) for k, v in terms.items()}, ctx)
                for k, v in vals.items():
                    r.means[k] = v if k not in r.means else 0.95 * r.means[k] + 0.05 * v
                logger.scalars(r.step, vals)
                logger.progress(r.step, {k: r.means[k] for k in ("style", "pair") if k in r.means})
                if ctx.is_main and r.step % 20 == 0:
                    r.stats["load_sum"] = r.stats.get("load_sum", 0.0) + os.getloadavg()[0]
                    r.stats["load_n"] = r.stats.get("load_n", 0.0) + 1
                    log.info("step %d  %s  %.0f s", r.step, "  ".join(f"{k} {v:.4f}" for k, v in r.means.items()),
                             r.elapsed)
                inject_fault(r.step, ctx)
                over_time = any_rank(o.max_minutes is not None and r.elapsed > 60 * o.max_minutes, ctx)
                stopping = any_rank(stop.requested, ctx)
                if r.step % o.checkpoint_every == 0 or r.step == o.steps or stopping or over_time:
                    checkpoint()
                if stopping:
                    raise FaceweaveError(f"stopped by {stop.signal_name or 'a signal'} at step {r.step}; "
                                         "re-run the same command to resume")
                if over_time:
                    if ctx.is_main:
                        log.warning("--max-minutes %.1f reached at step %d", o.max_minutes, r.step)
                    break
    finally:
        logger.close()


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m faceweave.train.person`` (and torchrun); returns an exit code."""
    from faceweave.train.entry import run_trainer

    parser = argparse.ArgumentParser(prog="faceweave train person", description=__doc__.split("\n")[0])
    add_train_person_args(parser)
    return run_trainer(parser, argv, options_from_args, train)


if __name__ == "__main__":
    sys.exit(train_main())
