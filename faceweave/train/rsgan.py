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

Which loss updates which network (Algorithm A1, lines 19–29)::

    L_G    = L_adv-g + L_adv-p + λ_GC L_GC                          (line 19; generator side)
    F_E-xf : λ_rec L_rec-f + λ_KL L_KL-xf + L_G                     (line 20)
    F_E-xh : λ_rec L_rec-h + λ_KL L_KL-xh + L_G                     (line 21)
    F_E-cf : λ_rec L_rec-f + λ_KL L_KL-cf + L_G                     (line 22)
    F_E-ch : λ_rec L_rec-h + λ_KL L_KL-ch + L_G                     (line 23)
    F_D-f  : λ_rec L_rec-f                                          (line 24)
    F_D-h  : λ_rec L_rec-h                                          (line 25)
    G      : λ_rec L_rec + L_G                                      (line 26, see below)
    D_g    : λ_adv-g L_adv-g                                        (line 27; discriminator side)
    D_p    : λ_adv-p L_adv-p                                        (line 28)
    C      : λ_C L_C                                                (line 29)

Readings: line 26 prints "L_adv" for G; we use L_G (the adversarial terms *and* λ_GC L_GC) because
section 3.1 introduces L_GC precisely "to train the composer network", and with the literal reading
the x̂′ half of L_GC would train nothing. The encoders do *not* receive L_rec (Eq. 3): A1 gives
them only their part reconstruction, KL and L_G. The generator side of the adversarial losses is
the non-saturating form (see :mod:`faceweave.models.rsgan.losses`). All gradients of a step are
computed from the same forward pass before any network is updated ("Step 1 / Step 2" of A1).

Implementation: three backward passes restricted with ``inputs=`` — λ_rec L_rec into G only; the
separator objective ``λ_rec(L_rec-f + L_rec-h) + λ_KL ΣL_KL + L_G`` into encoders, decoders and G;
``λ_adv-g L_adv-g + λ_adv-p L_adv-p + λ_C L_C`` into D_g, D_p, C. Each network's gradient then equals
the gradient of its A1 objective. Under torchrun the gradients are averaged over ranks
(:func:`~faceweave.train.distributed.all_reduce_gradients`) instead of wrapping in DDP, whose
reducer expects one backward pass per forward.

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
import os
import random
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from faceweave.errors import FaceweaveError
from faceweave.models.layers import reparameterize
from faceweave.models.rsgan import RSGAN, RSGANConfig
from faceweave.models.rsgan import losses as L
from faceweave.models.rsgan.losses import RSGANLossWeights
from faceweave.models.rsgan.model import CONFIG_METADATA_KEY
from faceweave.train import checkpoint as ckpt
from faceweave.train.distributed import (
    DistContext,
    StepBatchSampler,
    all_reduce_gradients,
    any_rank,
    barrier,
    broadcast_parameters,
    cleanup_distributed,
    init_distributed,
    make_sampler,
)
from faceweave.train.logging import TrainLogger
from faceweave.train.signals import GracefulStop

log = logging.getLogger(__name__)

BATCH_KEYS = ("x", "x_f", "x_h", "m_bg", "c")
# Parameter groups of each backward pass (module attribute names of RSGAN).
SEPARATOR_NETS = ("enc_xf", "enc_xh", "enc_cf", "enc_ch", "dec_f", "dec_h", "composer")
CRITIC_NETS = ("d_global", "d_patch", "classifier")


# ---------------------------------------------------------------------- options
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
    keep: int = 3
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


@dataclass
class TrainResult:
    """What a finished (or stopped) run returns."""

    step: int
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_signal: bool = False
    resumed_from: int | None = None
    model: RSGAN | None = field(default=None, repr=False)  # the trained model (in memory)


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


# ---------------------------------------------------------------------- one step
def prepare_batch(batch: dict[str, torch.Tensor], device: torch.device, size: int) -> dict[str, torch.Tensor]:
    """Dataset dict ([0, 1] images) → model inputs on ``device`` ([-1, 1] images at ``size``)."""
    missing = [k for k in BATCH_KEYS if k not in batch]
    if missing:
        raise FaceweaveError(f"dataset items lack {', '.join(missing)} (an RSGAN item needs {', '.join(BATCH_KEYS)})")
    out: dict[str, torch.Tensor] = {}
    for k in ("x", "x_f", "x_h", "m_bg"):
        t = batch[k].to(device, torch.float32, non_blocking=True)
        if t.shape[-1] != size or t.shape[-2] != size:
            mode = "area" if t.shape[-1] > size else "bilinear"
            t = F.interpolate(t, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
        out[k] = t if k == "m_bg" else RSGAN.to_model_range(t)
    c = batch["c"].to(device, torch.float32)
    out["c"] = c.reshape(c.shape[0], -1)
    if "m_face" in batch:  # datasets give it when asked (the region-swap loss needs it)
        m = batch["m_face"].to(device, torch.float32)
        if m.shape[-1] != size:
            m = F.interpolate(m, size=(size, size), mode="area" if m.shape[-1] > size else "bilinear")
        out["m_face"] = m
    return out


@dataclass
class StepOutputs:
    """Loss terms (unweighted) and images of one forward pass."""

    terms: dict[str, torch.Tensor]
    images: dict[str, torch.Tensor]


def compute_losses(model: RSGAN, b: dict[str, torch.Tensor], w: RSGANLossWeights) -> StepOutputs:
    """Algorithm A1 Step 1 (lines 3–17) on a prepared batch."""
    x, x_f, x_h, m_bg, c = b["x"], b["x_f"], b["x_h"], b["m_bg"], b["c"]
    n = x.shape[0]
    lat = model.encode(x, c)  # lines 4, 6: the labels c feed the encoders during training
    z = lat.z
    x_f_rec, x_h_rec = model.decode_parts(z)  # line 8
    z_hat = model.sample_prior(n, device=x.device)  # line 12
    region_swap = w.swap > 0 and n > 1
    if region_swap and "m_face" not in b:
        raise FaceweaveError("the region-swap loss (λ_swap > 0) needs m_face in the batch")
    parts = [z, z_hat]
    if region_swap:  # face latents of item i, hair latents of item i + 1 (faceweave's region-swap loss)
        parts.append({k: (v if k in ("xf", "cf") else v.roll(-1, 0)) for k, v in z.items()})
    attr_edit = w.edit > 0 and c.shape[1] > 0
    if attr_edit:  # random target attributes c̃ in the face attribute latent only (faceweave's edit loss)
        c_tilde = torch.bernoulli(torch.full_like(c, 0.5))
        mu_cf, logvar_cf = model.enc_cf(c_tilde)
        lim = model.config.logvar_clamp
        parts.append(dict(z, cf=reparameterize(mu_cf, logvar_cf.clamp(-lim, lim))))
    both = {k: torch.cat([p[k] for p in parts]) for k in z}
    x_out = model.compose(both["xf"], both["cf"], both["xh"], both["ch"])  # lines 10, 13 in one pass
    x_rec, x_rand = x_out[:n], x_out[n : 2 * n]
    critic_in = torch.cat([x, x_rec, x_rand])
    dg_real, dg_rec, dg_rand = model.d_global(critic_in).split(n)
    dp_real, dp_rec, dp_rand = model.d_patch(critic_in).split(n)
    c_real, c_rec, c_rand = model.classifier(critic_in).split(n)  # line 15: c*, c′, ĉ′ (logits)
    terms = {
        "rec_face": L.loss_rec_face(x_f, x_f_rec),  # Eq. 1
        "rec_hair": L.loss_rec_hair(x_h, x_h_rec, m_bg, w.beta),  # Eq. 2
        "rec": L.loss_rec(x, x_rec, m_bg, w.beta),  # Eq. 3
        **{f"kl_{k}": L.loss_kl(lat.mu[k], lat.logvar[k]) for k in ("xf", "xh", "cf", "ch")},  # Eq. 4
        "adv_g": L.loss_adv_g(dg_real, dg_rec, dg_rand),  # Eq. 5, discriminator side
        "adv_p": L.loss_adv_p(dp_real, dp_rec, dp_rand),  # Eq. 5, discriminator side
        "adv_g_gen": L.loss_adv_gen(dg_rec, dg_rand),  # Eq. 5, generator side
        "adv_p_gen": L.loss_adv_gen(dp_rec, dp_rand),  # Eq. 5, generator side
        "cls": L.loss_cls(c, c_real),  # Eq. 6
        "gc": L.loss_gc(c, c_rec, c_rand),  # Eq. 7
    }
    if region_swap:
        mf = b["m_face"]
        terms["swap"] = L.loss_region_swap(  # faceweave addition, not in the paper
            x_out[2 * n : 3 * n], x, x.roll(-1, 0), mf, mf.roll(-1, 0), m_bg.roll(-1, 0), w.beta
        )
    if attr_edit:
        terms["edit"] = L.loss_attribute_edit(c_tilde, model.classifier(x_out[-n:]))  # faceweave addition
    images = {"x": x, "x_rec": x_rec, "x_rand": x_rand, "x_f": x_f, "x_f_rec": x_f_rec, "x_h": x_h, "x_h_rec": x_h_rec}
    return StepOutputs(terms=terms, images=images)


def a1_objectives(t: dict[str, torch.Tensor], w: RSGANLossWeights) -> dict[str, torch.Tensor]:
    """The three backward objectives whose restricted gradients equal A1 lines 19–29 (see module doc)."""
    loss_g = t["adv_g_gen"] + t["adv_p_gen"] + w.gc * t["gc"]  # line 19
    kl = t["kl_xf"] + t["kl_xh"] + t["kl_cf"] + t["kl_ch"]
    return {
        # line 26, first term → G only (+ faceweave's region-swap and edit losses, also G only, when on)
        "composer_rec": w.rec * t["rec"]
        + (w.swap * t["swap"] if "swap" in t else 0.0)
        + (w.edit * t["edit"] if "edit" in t else 0.0),
        "separators": w.rec * (t["rec_face"] + t["rec_hair"]) + w.kl * kl + loss_g,  # lines 20–26
        "critics": w.adv_g * t["adv_g"] + w.adv_p * t["adv_p"] + w.cls * t["cls"],  # lines 27–29
    }


def backward_a1(
    model: RSGAN,
    terms: dict[str, torch.Tensor],
    w: RSGANLossWeights,
    scale: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Accumulate into ``.grad`` exactly the gradients Algorithm A1 assigns to each network."""
    groups = model.parameter_groups()
    objectives = a1_objectives(terms, w)
    targets = {
        "composer_rec": groups["composer"],
        "separators": [p for name in SEPARATOR_NETS for p in groups[name]],
        "critics": [p for name in CRITIC_NETS for p in groups[name]],
    }
    order = ("composer_rec", "separators", "critics")
    for i, key in enumerate(order):
        loss, params = objectives[key], targets[key]
        if not params or not loss.requires_grad:
            continue
        (scale(loss) if scale else loss).backward(inputs=params, retain_graph=i < len(order) - 1)


# ---------------------------------------------------------------------- trainer
class RSGANTrainer:
    """Model + one Adam over per-network parameter groups + (optional) CUDA grad scaler."""

    def __init__(
        self,
        model: RSGAN,
        weights: RSGANLossWeights,
        ctx: DistContext | None = None,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        amp: bool = False,
    ) -> None:
        self.ctx = ctx or DistContext()
        self.model = model.to(self.ctx.device).train()
        self.weights = weights
        groups = model.parameter_groups()
        self.optimizer = torch.optim.Adam(
            [{"params": ps, "name": name} for name, ps in groups.items() if ps], lr=lr, betas=betas
        )
        self.amp = bool(amp and self.ctx.device.type == "cuda")
        if amp and not self.amp:
            log.warning("--amp needs CUDA; training in float32")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step = 0

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One iteration of Algorithm A1 on a prepared batch; returns the loss values."""
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            out = compute_losses(self.model, batch, self.weights)
        backward_a1(self.model, out.terms, self.weights, scale=self.scaler.scale if self.amp else None)
        all_reduce_gradients(self.model.parameters(), self.ctx)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        values = {k: float(v.detach()) for k, v in out.terms.items()}
        values["total"] = float(L.loss_total(out.terms, self.weights).detach())
        return values

    @torch.no_grad()
    def preview(self, batch: dict[str, torch.Tensor], n: int = 8) -> list[torch.Tensor]:
        """Rows x, x′ (reconstruction), a swap (face of x, hair of the next image), random x̂′ — in [0, 1]."""
        m = self.model
        was_training = m.training
        m.eval()
        x = batch["x"][:n]
        rec = m.reconstruct(x)
        swap = m.swap(x, x.roll(1, dims=0))
        zh = m.sample_prior(x.shape[0], device=x.device)
        rand = m.compose(zh["xf"], zh["cf"], zh["xh"], zh["ch"])
        m.train(was_training)
        return [RSGAN.from_model_range(t).float() for t in (x, rec, swap, rand)]

    def state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.amp else {},
            "loss_weights": self.weights.to_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.amp and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])


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
        raise FaceweaveError("--data DIR is required")
    if not Path(opts.data).is_dir():
        raise FaceweaveError(f"--data {opts.data} is not a directory")
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
    ctx = init_distributed(opts.device)
    try:
        return _train(opts, dataset, ctx)
    finally:
        cleanup_distributed(ctx)


def _train(opts: TrainOptions, dataset: Dataset | None, ctx: DistContext) -> TrainResult:
    run = Path(opts.out)
    ckpt_dir = run / "checkpoints"
    if opts.batch_size < 1 or opts.batch_size % ctx.world_size:
        raise FaceweaveError(
            f"--batch-size {opts.batch_size} must be a positive multiple of the {ctx.world_size} ranks"
        )
    if opts.max_steps < 1 or opts.ckpt_every < 1:
        raise FaceweaveError("--max-steps and --ckpt-every must be ≥ 1")
    local_batch = opts.batch_size // ctx.world_size

    # -- model config: checkpoint (resume) > config file / preset; attribute names come from the data
    found = ckpt.latest_checkpoint(ckpt_dir)
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
        meta_cfg = _read_metadata_config(loaded.weights_path)
        cfg = RSGANConfig.from_dict(meta_cfg)
        if ds_attrs != cfg.attribute_names:
            raise FaceweaveError(
                f"the dataset's attributes {ds_attrs} differ from the checkpoint's {cfg.attribute_names}"
            )
    else:
        if opts.preset and "preset" not in model_section:
            model_section["preset"] = opts.preset
        model_section["attribute_names"] = ds_attrs
        cfg = RSGANConfig.from_dict(model_section)

    _seed_everything(opts.seed)
    model = RSGAN(cfg)
    trainer = RSGANTrainer(model, weights, ctx, lr=opts.lr, betas=(opts.beta1, opts.beta2), amp=opts.amp)
    resumed_from = None
    if loaded is not None:
        model.load_exported_state({k: v.to(ctx.device) for k, v in loaded.tensors.items()})
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
    else:
        broadcast_parameters(model, ctx)
        if ctx.rank:
            _seed_everything(opts.seed + 7919 * ctx.rank)  # different noise per rank, same weights
        if opts.resume and ctx.is_main:
            log.info("--resume: no checkpoint in %s yet; starting from step 0", ckpt_dir)
    start = trainer.step
    if start >= opts.max_steps:
        log.info("already at step %d ≥ --max-steps %d; nothing to do", start, opts.max_steps)
        return TrainResult(step=start, checkpoint=found, resumed_from=resumed_from)

    sampler = StepBatchSampler(make_sampler(ds, ctx, shuffle=True, seed=opts.seed), local_batch, start_step=start)
    loader = DataLoader(
        ds,
        batch_sampler=sampler,
        num_workers=opts.workers,
        generator=torch.Generator().manual_seed(opts.seed + start),
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
    last_saved = start if loaded is not None else -1

    def save() -> None:
        nonlocal last_saved
        rng = _gather_rng(ctx)
        if ctx.is_main:
            meta = {
                CONFIG_METADATA_KEY: json.dumps(cfg.to_dict()),
                "inference_only": "false",
                "format": "faceweave-rsgan-checkpoint",
            }
            state = dict(trainer.state(), rng=rng, world_size=ctx.world_size, seed=opts.seed)
            result.checkpoint = ckpt.save_checkpoint(
                ckpt_dir, trainer.step, model.export_state(), state, meta, keep=opts.keep
            )
            log.debug("checkpoint %s", result.checkpoint)
        last_saved = trainer.step
        barrier(ctx)

    try:
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
    if last_saved != trainer.step:  # e.g. an exception escaped; nothing to do, but keep the invariant visible
        log.debug("run ended at step %d, last checkpoint at %d", trainer.step, last_saved)
    result.step = trainer.step
    result.model = model
    return result


def _read_metadata_config(weights_path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(weights_path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
    if CONFIG_METADATA_KEY not in meta:
        raise FaceweaveError(f"{weights_path} is not an RSGAN checkpoint (no config in its metadata)")
    return json.loads(meta[CONFIG_METADATA_KEY])


# ---------------------------------------------------------------------- command line
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


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``faceweave train rsgan`` and ``python -m faceweave.train.rsgan``; returns an exit code."""
    parser = add_train_rsgan_args(
        argparse.ArgumentParser(prog="faceweave train rsgan", description=__doc__.split("\n")[0])
    )
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:  # rank 0 logs; other ranks only warnings
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
