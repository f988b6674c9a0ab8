"""One training step of RSGAN: Algorithm A1 of the paper's supplement (the per-model step module).

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
the gradient of its A1 objective. Under torchrun the gradients are averaged over ranks in flattened
buckets (:class:`~faceweave.train.distributed.GradientBuckets`, one asynchronous all-reduce per
bucket) instead of wrapping in DDP, whose reducer expects one backward pass per forward: the
encoders', decoders' and G's gradients are final after the second pass, so their buckets travel
while the critics' backward pass runs; the critics' buckets follow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from faceweave.errors import FaceweaveError
from faceweave.models.layers import reparameterize
from faceweave.models.rsgan import RSGAN
from faceweave.models.rsgan import losses as L
from faceweave.models.rsgan.losses import RSGANLossWeights
from faceweave.train.distributed import DistContext, GradientBuckets

log = logging.getLogger(__name__)

BATCH_KEYS = ("x", "x_f", "x_h", "m_bg", "c")
# Parameter groups of each backward pass (module attribute names of RSGAN).
SEPARATOR_NETS = ("enc_xf", "enc_xh", "enc_cf", "enc_ch", "dec_f", "dec_h", "composer")
CRITIC_NETS = ("d_global", "d_patch", "classifier")


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
    after: Callable[[str, list[torch.nn.Parameter]], None] | None = None,
) -> None:
    """Accumulate into ``.grad`` exactly the gradients Algorithm A1 assigns to each network.

    ``after(pass_name, params)`` is called after each pass (also a skipped one) with the parameters
    whose gradients are final from then on — the hook that starts their all-reduce.
    """
    groups = model.parameter_groups()
    objectives = a1_objectives(terms, w)
    targets = {
        "composer_rec": groups["composer"],
        "separators": [p for name in SEPARATOR_NETS for p in groups[name]],
        "critics": [p for name in CRITIC_NETS for p in groups[name]],
    }
    order = ("composer_rec", "separators", "critics")
    final = {"composer_rec": [], "separators": targets["separators"], "critics": targets["critics"]}
    for i, key in enumerate(order):
        loss, params = objectives[key], targets[key]
        if params and loss.requires_grad:
            (scale(loss) if scale else loss).backward(inputs=params, retain_graph=i < len(order) - 1)
        if after is not None:  # G (composer) is in the separators' pass too: final only after it
            after(key, final[key])


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
        bucket_mb: float = 25.0,
    ) -> None:
        self.ctx = ctx or DistContext()
        self.bucket_mb = bucket_mb  # gradient all-reduce bucket size under torchrun
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
        buckets = GradientBuckets(self.ctx, self.bucket_mb)
        backward_a1(self.model, out.terms, self.weights, scale=self.scaler.scale if self.amp else None,
                    after=lambda _name, params: buckets.launch(params))
        buckets.launch(self.model.parameters())  # anything left (none with the A1 groups)
        buckets.wait()
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
