"""One harmonizer training step (seed 004): the alternating generator / discriminator schedule, the
history buffer of past fakes, and the batch of a step. The data cache, the loop and resume are in
:mod:`faceweave.train.harmonizer`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from faceweave.data.harmonizer import HarmonizerDataset
from faceweave.errors import FaceweaveError
from faceweave.models.harmonizer import (
    HarmonizerConfig,
    HarmonizerLossWeights,
    ResNetDiscriminator,
    UNetGenerator,
    mask_gate,
)
from faceweave.models.harmonizer import losses as L
from faceweave.train import checkpoint as ckpt
from faceweave.train.distributed import DistContext, mean_over_ranks, wrap_ddp

log = logging.getLogger(__name__)


@dataclass
class Schedule:
    """The seed's alternating generator / discriminator thresholds (values are ours)."""

    tau_g: float = 0.05  # generator phase ends when EMA(L_G total) < tau_g ...
    tau_d: float = 1.0  # discriminator phase ends when EMA(L_adv^D) < tau_d (2 ln 2 ≈ 1.39 is chance)
    max_phase_g: int = 40  # ... or after this many steps (ours)
    max_phase_d: int = 8
    ema: float = 0.8  # smoothing of the losses the thresholds read
    history: int = 64  # size of the history buffer of past fakes
    history_share: float = 0.5  # share of D's fake batch drawn from the buffer once it is full


class StepOptions(Protocol):
    """What the step reads of a run's options (:class:`faceweave.train.harmonizer.TrainOptions`)."""

    lr: float
    seed: int
    weights: HarmonizerLossWeights
    schedule: Schedule


class HistoryBuffer:
    """Past fakes (image, mask) kept as uint8 for the discriminator (seed 004's proposed remedy)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.images: list[torch.Tensor] = []
        self.masks: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def mix(self, fake: torch.Tensor, mask: torch.Tensor, share: float,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Swap a ``share`` of ``fake`` for stored ones (once full) and store the current ones."""
        out_f, out_m = fake.clone(), mask.clone()
        for i in range(fake.shape[0]):
            q8 = (fake[i].detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
            m8 = (mask[i].detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
            if len(self.images) < self.capacity:
                self.images.append(q8)
                self.masks.append(m8)
            elif float(torch.rand((), generator=gen)) < share:
                j = int(torch.randint(self.capacity, (), generator=gen))
                out_f[i] = self.images[j].to(fake).div(255)
                out_m[i] = self.masks[j].to(mask).div(255)
                self.images[j], self.masks[j] = q8, m8
        return out_f, out_m

    def state(self) -> dict[str, Any]:
        if not self.images:
            return {"images": torch.zeros(0, dtype=torch.uint8), "masks": torch.zeros(0, dtype=torch.uint8)}
        return {"images": torch.stack(self.images), "masks": torch.stack(self.masks)}

    def load(self, state: dict[str, Any]) -> None:
        self.images = list(state["images"]) if state["images"].numel() else []
        self.masks = list(state["masks"]) if state["masks"].numel() else []


class HarmonizerTrainer:
    """One optimisation step at a time, with the alternating G / D schedule.

    Under torchrun G and D are each wrapped in ``DistributedDataParallel`` and only the network the
    phase trains runs through its wrapper (the other is called bare: frozen in that phase, it has no
    gradients to average). The losses the phase thresholds read are averaged over ranks first, so every
    rank switches phase at the same step.
    """

    def __init__(self, config: HarmonizerConfig, opts: StepOptions, embed: L.Embedder | None,
                 ctx: DistContext | None = None) -> None:
        self.config, self.opts, self.embed = config, opts, embed
        self.ctx = ctx or DistContext()
        self.w, self.sched = opts.weights, opts.schedule
        torch.manual_seed(opts.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        self.G = UNetGenerator(config).to(self.ctx.device)
        self.D = ResNetDiscriminator(config).to(self.ctx.device)
        self.G_ddp, self.D_ddp = wrap_ddp(self.G, self.ctx), wrap_ddp(self.D, self.ctx)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=opts.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=opts.lr, betas=(0.5, 0.999))
        self.history = HistoryBuffer(self.sched.history)
        self.clip = 1.0  # gradient-norm clip of G (ours: a single outlier batch once wrecked a demo run)
        self.gen = torch.Generator().manual_seed(opts.seed + 1)
        self.step = 0
        self.phase = "G"
        self.phase_steps = 0
        self.ema_g: float | None = None
        self.ema_d: float | None = None

    def generator_losses(self, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, m, y = b["x"], b["m"], b["y"]
        gate = mask_gate(m)
        out = self.G_ddp(x, m, gate, clamp=False, transferred=b["ct"])
        parts = {
            "adv_g": L.g_adversarial_loss(self.D(out, m)),
            "pix": L.pixel_loss(out, x, m, self.w.pix_inside),
            # H3 only where there is no ground truth (ours): on a self-composite the right correction
            # changes the crop's moments, and H5 already says by how much
            "moment": L.moment_loss(out, x, 1 - b["has_gt"]),
            "embed": L.embedding_loss(out, x, self.embed),
            "gt": L.ground_truth_loss(out, y, gate, self._gt_weight(b, gate), self.w.gt_eps),
        }
        total = (self.w.adv * parts["adv_g"] + self.w.pix * parts["pix"] + self.w.moment * parts["moment"]
                 + self.w.embed * parts["embed"] + self.w.gt * parts["gt"])
        return total, parts

    def _gt_weight(self, b: dict[str, torch.Tensor], gate: torch.Tensor) -> torch.Tensor:
        """Per-sample weight of H5: 1 for self-composites (0 for real ones), relative if ``gt_relative``."""
        if self.w.gt_relative <= 0:
            return b["has_gt"]
        w = b["has_gt"] * L.relative_weight(b["x"], b["y"], gate, self.w.gt_relative)
        return w * (b["has_gt"].sum() / w.sum().clamp_min(1e-12))  # mean weight 1 over the batch's ground truths

    def train_step(self, b: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step of the current phase: exactly one backward pass. Returns the losses (means over ranks)."""
        b = {k: v.to(self.ctx.device) for k, v in b.items()}
        rec: dict[str, float] = {}
        if self.phase == "G":
            self.D.requires_grad_(False)
            total, parts = self.generator_losses(b)
            self.opt_g.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.clip)
            self.opt_g.step()
            self.D.requires_grad_(True)
            rec.update(mean_over_ranks({**{k: float(t.detach()) for k, t in parts.items()},
                                        "g_total": float(total.detach())}, self.ctx))
            v = rec["g_total"]
            self.ema_g = v if self.ema_g is None else self.sched.ema * self.ema_g + (1 - self.sched.ema) * v
            done = self.ema_g < self.sched.tau_g or self.phase_steps + 1 >= self.sched.max_phase_g
        else:
            with torch.no_grad():
                fake = self.G(b["x"], b["m"], transferred=b["ct"])
            fake, fm = self.history.mix(fake, b["m"], self.sched.history_share, self.gen)
            logits = self.D_ddp(torch.cat([b["y"], fake]), torch.cat([b["m"], fm]))  # one forward for DDP
            real_logits, fake_logits = logits.split(b["y"].shape[0])
            loss = L.d_adversarial_loss(real_logits, fake_logits)
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_d.step()
            v = mean_over_ranks({"adv_d": float(loss.detach())}, self.ctx)["adv_d"]
            self.ema_d = v if self.ema_d is None else self.sched.ema * self.ema_d + (1 - self.sched.ema) * v
            rec["adv_d"] = v
            done = self.ema_d < self.sched.tau_d or self.phase_steps + 1 >= self.sched.max_phase_d
        rec["phase_d"] = float(self.phase == "D")
        self.phase_steps += 1
        if done:
            self.phase, self.phase_steps = ("D" if self.phase == "G" else "G"), 0
            if self.phase == "D":
                self.ema_d = None
            else:
                self.ema_g = None
        self.step += 1
        return rec

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        out.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        return out

    def state(self) -> dict[str, Any]:
        return {
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "phase": self.phase, "phase_steps": self.phase_steps,
            "ema_g": -1.0 if self.ema_g is None else self.ema_g, "ema_d": -1.0 if self.ema_d is None else self.ema_d,
            "history": self.history.state(), "gen": self.gen.get_state(), "rng": ckpt.capture_rng_state(),
        }

    def load(self, c: ckpt.Checkpoint) -> None:
        self.G.load_state_dict({k[2:]: v for k, v in c.tensors.items() if k.startswith("G.")})
        self.D.load_state_dict({k[2:]: v for k, v in c.tensors.items() if k.startswith("D.")})
        s = c.trainer_state
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        for opt in (self.opt_g, self.opt_d):  # --lr of this run wins over the checkpoint's
            for group in opt.param_groups:
                group["lr"] = self.opts.lr
        self.phase, self.phase_steps = str(s["phase"]), int(s["phase_steps"])
        self.ema_g = None if s["ema_g"] < 0 else float(s["ema_g"])
        self.ema_d = None if s["ema_d"] < 0 else float(s["ema_d"])
        self.history.load(s["history"])
        self.gen.set_state(s["gen"])
        ckpt.restore_rng_state(s["rng"])
        self.step = c.step


def warm_start(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> int:
    """Initialise ``model`` from an earlier generator's ``tensors`` (ours): same-shaped tensors are
    copied; a tensor that grew (a wider context MLP, more context features, a new input channel such
    as the colour-transfer flag) gets the old values in its leading block and zeros in the new *input*
    columns (or convolution input channels) of old rows, so the network computes what the
    old one did (a function-preserving widening, Chen et al. 2016, "Net2Net") while the new rows keep
    their fresh initialisation. Returns the number of tensors taken over, in whole or in part."""
    own = model.state_dict()
    n = 0
    for k, old in tensors.items():
        if k not in own or old.dim() != own[k].dim():
            continue
        new = own[k]
        if any(o > c for o, c in zip(old.shape, new.shape, strict=True)):
            continue
        lead = tuple(slice(0, o) for o in old.shape)
        if old.dim() >= 2 and new.shape[1] > old.shape[1]:  # new inputs (columns, conv channels) of old rows: zero
            new[: old.shape[0], old.shape[1]:] = 0
        new[lead] = old.to(new.dtype)
        n += 1
    model.load_state_dict(own)
    return n


def init_from(model: torch.nn.Module, path: Path) -> int:
    """``--init``: :func:`warm_start` ``model`` from a weights file (exported, or a checkpoint's ``G.*``)."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise FaceweaveError(f"--init {path}: no such file")
    try:
        t = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - a bad file is a user error, one line
        raise FaceweaveError(f"--init {path}: not a weights file ({e})") from None
    t = {k[2:]: v for k, v in t.items() if k.startswith("G.")} or t
    n = warm_start(model, t)
    if n == 0:
        raise FaceweaveError(f"--init {path}: no generator tensor fits this network")
    log.info("--init %s: %d generator tensors taken over", path, n)
    return n


def batch_at(ds: HarmonizerDataset, step: int, batch_size: int, reuse: int = 1, pool: int = 256,
             cache: ItemCache | None = None, rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
    """This rank's share (items rank, rank + world, …) of batch number ``step`` — a function of the step
    only, so a resumed run sees the same batches and N ranks see the batches of one process.

    ``reuse`` 1: items step·B … step·B + B − 1. ``reuse`` k > 1 (ours, for a CPU where making a
    composite costs more than a generator step): only B / k new items per step; the batch draws B
    items from the newest ``pool`` ones (seeded by the step), each made once and kept in ``cache``.
    """
    if reuse <= 1:
        items = [_quantized(ds[(step * batch_size + i) % len(ds)]) for i in range(batch_size)[rank::world]]
    else:
        new = max(batch_size // reuse, 1)
        hi = (step + 1) * new
        lo = max(hi - pool, 0)
        g = torch.Generator().manual_seed(1_000_003 * step + 7)
        idx = [hi - 1 - j for j in range(min(new, hi))]  # the new ones are always in
        idx += [lo + int(i) for i in torch.randint(hi - lo, (batch_size - len(idx),), generator=g)]
        c = cache if cache is not None else ItemCache()
        items = [c.get(ds, i % len(ds), lo) for i in idx[rank::world]]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _quantized(item: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The mask rounded to 1/255 as the item cache stores it (same batches with or without reuse)."""
    return dict(item, m=(item["m"] * 255).round() / 255)


class ItemCache:
    """Training items kept as uint8 (index → item), dropping those below the pool's window."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, torch.Tensor]] = {}

    def get(self, ds: HarmonizerDataset, i: int, lo: int) -> dict[str, torch.Tensor]:
        if i not in self.items:
            it = ds[i]
            self.items[i] = {k: (v * 255).round().to(torch.uint8) if k in ("x", "m", "y") else v
                             for k, v in it.items()}
            for k in [k for k in self.items if k < lo]:
                del self.items[k]
        return {k: v.float() / 255 if k in ("x", "m", "y") else v for k, v in self.items[i].items()}
