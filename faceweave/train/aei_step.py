"""One AEI-Net training step (FaceShifter; seed 001, appendix B's ``optimize_parameters``): the E+G
forward and Eq. 4.12, the discriminator's hinge loss, and the batch preparation. The loop, resume and
DDP set-up are in :mod:`faceweave.train.aei`."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from faceweave.errors import FaceweaveError
from faceweave.models.aei import AEILossWeights, AEINet, FrozenIdentity
from faceweave.models.aei import losses as L
from faceweave.train.distributed import DistContext, wrap_ddp

log = logging.getLogger(__name__)


class GeneratorPass(nn.Module):
    """E and G in one forward — E(X_t), Ŷ = G(z_id, E(X_t)), E(Ŷ) — so DDP sees one forward per backward."""

    def __init__(self, model: AEINet) -> None:
        super().__init__()
        self.E = model.E
        self.G = model.G

    def forward(
        self, x_t: torch.Tensor, z_id: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        att_t = self.E(x_t)
        y = self.G(z_id, att_t)
        return y, att_t, self.E(y)


def prepare_batch(batch: dict[str, torch.Tensor], device: torch.device, size: int) -> dict[str, torch.Tensor]:
    """Dataset dict ([0, 1] images) → model inputs on ``device`` ([-1, 1] images at ``size``)."""
    out = {}
    for k in ("x_t", "x_s"):
        if k not in batch:
            raise FaceweaveError(f"dataset items lack {k} (an AEI item needs x_t, x_s, same)")
        t = batch[k].to(device, torch.float32)
        if t.shape[-1] != size:
            t = torch.nn.functional.interpolate(t, size=(size, size), mode="area" if t.shape[-1] > size else "bilinear")
        out[k] = AEINet.to_model_range(t)
    out["same"] = batch["same"].to(device, torch.float32).reshape(-1)
    if "y_ref" in batch:  # faceweave's pseudo pairs (faceweave.data.aei_pseudo)
        t = batch["y_ref"].to(device, torch.float32)
        if t.shape[-1] != size:
            t = torch.nn.functional.interpolate(t, size=(size, size), mode="area" if t.shape[-1] > size else "bilinear")
        out["y_ref"] = AEINet.to_model_range(t)
        out["has_ref"] = batch["has_ref"].to(device, torch.float32).reshape(-1)
    return out


def mix_identities(
    z: torch.Tensor, same: torch.Tensor, p: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """faceweave's identity augmentation: blend a share ``p`` of the embeddings with another source's."""
    n = z.shape[0]
    if p <= 0 or n < 2:
        return z, same
    pick = torch.rand(n, generator=gen) < p
    other = (torch.arange(n) + torch.randint(1, n, (n,), generator=gen)) % n
    alpha = torch.rand(n, 1, generator=gen)
    mixed = torch.nn.functional.normalize(alpha * z + (1 - alpha) * z[other], dim=1)
    pick_d = pick.to(z.device)
    z = torch.where(pick_d[:, None], mixed.to(z.device), z)
    return z, same * (~pick_d).to(same.dtype)


class AEITrainer:
    """Model, frozen identity net, Adam for E+G and for D, optional CUDA grad scalers, optional DDP."""

    def __init__(
        self,
        model: AEINet,
        identity: nn.Module,
        weights: AEILossWeights | None = None,
        ctx: DistContext | None = None,
        lr: float = 4e-4,
        betas: tuple[float, float] = (0.0, 0.999),
        amp: bool = False,
        id_mix: float = 0.0,
        seed: int = 0,
        pseudo_weight: float = 10.0,
    ) -> None:
        if model.D is None:
            raise FaceweaveError("training needs the discriminator (AEINet(with_discriminator=True))")
        self.ctx = ctx or DistContext()
        self.model = model.to(self.ctx.device).train()
        self.identity = (
            identity if isinstance(identity, FrozenIdentity) else FrozenIdentity(identity, model.config.id_crop)
        ).to(self.ctx.device)
        self.weights = weights or AEILossWeights()
        self.gen = wrap_ddp(GeneratorPass(model), self.ctx)
        self.disc = wrap_ddp(model.D, self.ctx)
        self.opt_g = torch.optim.Adam(list(model.E.parameters()) + list(model.G.parameters()), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(model.D.parameters(), lr=lr, betas=betas)
        self.amp = bool(amp and self.ctx.device.type == "cuda")
        if amp and not self.amp:
            log.warning("--amp needs CUDA; training in float32")
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.id_mix = id_mix
        self.pseudo_weight = pseudo_weight  # λ of faceweave's pseudo-pair term (λ_rec's 10 by default)
        self.mix_gen = torch.Generator().manual_seed(seed * 1009 + self.ctx.rank)
        self.step = 0

    def _set_d_grad(self, flag: bool) -> None:
        for p in self.model.D.parameters():  # type: ignore[union-attr]
            p.requires_grad_(flag)

    def compute_g_terms(self, b: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Forward of the E+G step: the four terms of Eq. 4.12 (unweighted) and Ŷ."""
        x_t, x_s, same = b["x_t"], b["x_s"], b["same"]
        with torch.no_grad():
            z_src = self.identity(x_s)
        z_mixed, same = mix_identities(z_src, same, self.id_mix, self.mix_gen)
        kept = (z_mixed == z_src).all(dim=1).to(same.dtype)  # pairs whose z_id was not blended
        z_src = z_mixed
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            y, att_t, att_y = self.gen(x_t, z_src)
            d_fake = self.model.D(y)  # the plain module: D's gradients are not wanted here
        z_y = self.identity(y.float())
        terms = {
            "adv_g": L.loss_adv_g([o.float() for o in d_fake]),  # Eq. 4.8, generator side
            "id": L.loss_id(z_y, z_src),  # Eq. 4.9
            "att": L.loss_att([a.float() for a in att_y], [a.float() for a in att_t]),  # Eq. 4.10
            "rec": L.loss_rec(y.float(), x_t, same),  # Eq. 4.11
        }
        if "y_ref" in b:  # faceweave's pseudo-pair term: Eq. 4.11's form with the warp swap Y in place of X_t
            terms["pseudo"] = L.loss_rec(y.float(), b["y_ref"], b["has_ref"] * kept)
        return terms, y

    def compute_d_loss(self, x_t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Eq. 4.8, discriminator side, on real X_t and the detached Ŷ (one forward of D)."""
        n = x_t.shape[0]
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            outs = self.disc(torch.cat([x_t, y.detach()]))
        return L.loss_adv_d([o[:n].float() for o in outs], [o[n:].float() for o in outs])

    def train_step(self, b: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step: E+G on Eq. 4.12, then D on the hinge loss. Returns the loss values."""
        self._set_d_grad(False)
        terms, y = self.compute_g_terms(b)
        loss_g = L.loss_total(terms, self.weights)  # Eq. 4.12
        if "pseudo" in terms:  # + faceweave's pseudo-pair term (not in the thesis; docs/aei.md)
            loss_g = loss_g + self.pseudo_weight * terms["pseudo"]
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss_g).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self._set_d_grad(True)
        loss_d = self.compute_d_loss(b["x_t"], y)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss_d).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        self.step += 1
        values = {k: float(v.detach()) for k, v in terms.items()}
        values["total_g"] = float(loss_g.detach())
        values["adv_d"] = float(loss_d.detach())
        values["same"] = float(b["same"].mean())
        return values

    @torch.no_grad()
    def preview(self, b: dict[str, torch.Tensor], n: int = 8) -> list[torch.Tensor]:
        """Rows X_s, X_t, Ŷ_s,t (swap), Ŷ_t,t (self-reconstruction), in [0, 1]."""
        m = self.model
        was = m.training
        m.eval()
        x_s, x_t = b["x_s"][:n], b["x_t"][:n]
        swap = m(x_t, self.identity(x_s))
        rec = m(x_t, self.identity(x_t))
        m.train(was)
        return [AEINet.from_model_range(t).float() for t in (x_s, x_t, swap, rec)]

    def state(self) -> dict[str, Any]:
        return {
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict() if self.amp else {},
            "scaler_d": self.scaler_d.state_dict() if self.amp else {},
            "mix_gen": self.mix_gen.get_state(),
            "loss_weights": self.weights.to_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.amp and state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        if "mix_gen" in state:
            self.mix_gen.set_state(state["mix_gen"])
        self.step = int(state["step"])
