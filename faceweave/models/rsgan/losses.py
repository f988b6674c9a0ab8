"""The RSGAN losses, Eq. 1–7 of Natsume et al. (2018), and their weights (section 3.1, Algorithm A1).

Reductions (the paper writes norms and expectations; these are our readings, chosen so that the
paper's weights balance — λ_rec = 4000 only makes sense for a *per-pixel mean* L1):

* L1 reconstructions (Eq. 1–3): mean over pixels, channels and the batch, on images in [-1, 1].
* KL (Eq. 4): summed over latent dimensions, mean over the batch.
* Adversarial (Eq. 5): binary cross-entropy on logits, mean over the batch (and over patches for D_p).
* BCE (Eq. 6–7): summed over attributes (the paper's Σ_i), mean over the batch; 0 with no attributes.

Two places where the text needs the standard reading:

* Eq. 4 in the PDF reads ½(μᵀμ + Σ(σ − log σ − 1)); here "σ" is the variance σ² (the standard VAE KL
  ½ Σ(μ² + σ² − log σ² − 1)); :func:`loss_kl` takes log σ².
* Eq. 5 is the discriminator's loss, which Algorithm A1 line 19 also puts in L_G for the encoders and
  composer. Minimising the discriminator's own loss would help the discriminator, so the generator
  side uses the standard non-saturating form of Goodfellow et al. [34]: −E[log D(x′)] − E[log D(x̂′)]
  (:func:`loss_adv_gen`). The term −E[log D(x)] does not depend on the generator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from faceweave.errors import FaceweaveError


@dataclass
class RSGANLossWeights:
    """λ's of section 3.1 / Algorithm A1 and β of Eq. 2–3 (defaults are the paper's)."""

    rec: float = 4000.0  # λ_rec
    kl: float = 1.0  # λ_KL
    adv_g: float = 20.0  # λ_adv-g
    adv_p: float = 30.0  # λ_adv-p
    cls: float = 1.0  # λ_C
    gc: float = 50.0  # λ_GC
    beta: float = 0.5  # β: background pixels weigh (1 − β) in Eq. 2–3
    swap: float = 0.0  # λ_swap of faceweave's region-swap loss (not in the paper; 0 = the paper's training)
    edit: float = 0.0  # λ_edit of faceweave's attribute-edit loss (not in the paper; 0 = the paper's training)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RSGANLossWeights:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise FaceweaveError(f"unknown RSGAN loss weights: {', '.join(unknown)}")
        return cls(**{k: float(v) for k, v in data.items()})


def foreground_weight(m_bg: torch.Tensor, beta: float) -> torch.Tensor:
    """(1 − β·M_BG), M_BG = 1 on background pixels."""
    return 1.0 - beta * m_bg


def loss_rec_face(x_f: torch.Tensor, x_f_rec: torch.Tensor) -> torch.Tensor:
    """L_rec-f = E[‖x_f − x′_f‖₁] (Eq. 1)."""
    return (x_f - x_f_rec).abs().mean()


def loss_rec_hair(x_h: torch.Tensor, x_h_rec: torch.Tensor, m_bg: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """L_rec-h = E[‖(1 − β M_BG) ⊙ (x_h − x′_h)‖₁] (Eq. 2)."""
    return (foreground_weight(m_bg, beta) * (x_h - x_h_rec)).abs().mean()


def loss_rec(x: torch.Tensor, x_rec: torch.Tensor, m_bg: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    """L_rec = E[‖(1 − β M_BG) ⊙ (x − x′)‖₁] (Eq. 3)."""
    return (foreground_weight(m_bg, beta) * (x - x_rec)).abs().mean()


def loss_region_swap(
    x_swap: torch.Tensor,
    x_face_src: torch.Tensor,
    x_hair_src: torch.Tensor,
    m_face_src: torch.Tensor,
    m_face_hair: torch.Tensor,
    m_bg_hair: torch.Tensor,
    beta: float = 0.5,
) -> torch.Tensor:
    """faceweave's region-swap loss (not in the paper, no equation number): L1 of a latent swap
    x_swap = G(z_xf,a, z_cf,a, z_xh,b, z_ch,b) against the cut-and-paste of the two aligned crops — a's
    pixels where both face masks are 1, b's pixels (β-weighted as in Eq. 3) where both are 0; the band
    where the masks disagree has no target. Mean over all pixels, like Eq. 3, so λ_swap = λ_rec
    weighs it as a reconstruction.

    Why: on a small dataset the hair latent identifies each training image, and G learns to redraw the
    whole image, face included, from z_xh alone (the paper's 200k CelebA faces make that impossible).
    This term makes G take the face region from z_xf.
    """
    face = m_face_src * m_face_hair
    rest = (1.0 - m_face_src) * (1.0 - m_face_hair) * foreground_weight(m_bg_hair, beta)
    return (face * (x_swap - x_face_src).abs() + rest * (x_swap - x_hair_src).abs()).mean()


def loss_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """L_KL-ℓ = ½(μᵀμ + Σ(σ² − log σ² − 1)) (Eq. 4), mean over the batch; 0 for a 0-D latent."""
    if mu.shape[1] == 0:
        return mu.new_zeros((), dtype=torch.float32)
    mu, logvar = mu.float(), logvar.float()  # exp(log σ²) overflows float16 under AMP
    per_sample = 0.5 * (mu.pow(2).sum(1) + (logvar.exp() - logvar - 1.0).sum(1))
    return per_sample.mean()


def _bce_logits(logits: torch.Tensor, target_value: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target_value))


def loss_adv_disc(d_real: torch.Tensor, d_rec: torch.Tensor, d_rand: torch.Tensor) -> torch.Tensor:
    """−E[log D(x)] − E[log(1 − D(x′))] − E[log(1 − D(x̂′))] on logits (Eq. 5, the discriminator's side)."""
    return _bce_logits(d_real, 1.0) + _bce_logits(d_rec, 0.0) + _bce_logits(d_rand, 0.0)


def loss_adv_g(d_real: torch.Tensor, d_rec: torch.Tensor, d_rand: torch.Tensor) -> torch.Tensor:
    """L_adv-g (Eq. 5, ℓ = g) from D_g's logits [B] on x, x′, x̂′; trains D_g."""
    return loss_adv_disc(d_real, d_rec, d_rand)


def loss_adv_p(d_real: torch.Tensor, d_rec: torch.Tensor, d_rand: torch.Tensor) -> torch.Tensor:
    """L_adv-p (Eq. 5, ℓ = p) from D_p's patch logits [B, 1, h, w], mean over patches; trains D_p."""
    return loss_adv_disc(d_real, d_rec, d_rand)


def loss_adv_gen(d_rec: torch.Tensor, d_rand: torch.Tensor) -> torch.Tensor:
    """Generator side of Eq. 5 (non-saturating, see module docstring): −E[log D(x′)] − E[log D(x̂′)]."""
    return _bce_logits(d_rec, 1.0) + _bce_logits(d_rand, 1.0)


def bce(c: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """L_BCE(c, c*) = −Σ_i (c_i log c*_i + (1 − c_i) log(1 − c*_i)), c* = sigmoid(logits) (Eq. 6 definition)."""
    if c.shape[1] == 0:
        return logits.new_zeros(())
    return F.binary_cross_entropy_with_logits(logits, c.to(logits.dtype), reduction="none").sum(1).mean()


def loss_cls(c: torch.Tensor, logits_real: torch.Tensor) -> torch.Tensor:
    """L_C = L_BCE(c, c*), c* = C(x) (Eq. 6)."""
    return bce(c, logits_real)


def loss_gc(c: torch.Tensor, logits_rec: torch.Tensor, logits_rand: torch.Tensor) -> torch.Tensor:
    """L_GC = L_BCE(c, c′) + L_BCE(c, ĉ′), c′ = C(x′), ĉ′ = C(x̂′) (Eq. 7; x̂′ is compared with c as printed)."""
    return bce(c, logits_rec) + bce(c, logits_rand)


def loss_attribute_edit(c_tilde: torch.Tensor, logits_edit: torch.Tensor) -> torch.Tensor:
    """faceweave's attribute-edit loss (not in the paper, no equation number): L_BCE(c̃, C(x̃′)) in the
    form of Eq. 7, for x̃′ = G(z_xf, z̃_cf, z_xh, z_ch) with z̃_cf encoded from random attributes c̃.

    Why: Eq. 7 only scores images whose attribute latents agree with their appearance latents (x′) or
    are unrelated to any c (x̂′, compared with the batch's c as printed), so nothing asks G to *follow*
    z_cf when z_xf says otherwise — and editing by changing c is exactly that. On a small dataset G
    learns to read the attributes from z_xf and edits do almost nothing.
    """
    return bce(c_tilde, logits_edit)


def loss_total(terms: dict[str, torch.Tensor], w: RSGANLossWeights) -> torch.Tensor:
    """The weighted sum of section 3.1 (Eq. 8), for logging; training follows Algorithm A1 instead."""
    return (
        w.rec * (terms["rec_face"] + terms["rec_hair"] + terms["rec"])
        + w.kl * (terms["kl_xf"] + terms["kl_xh"] + terms["kl_cf"] + terms["kl_ch"])
        + w.adv_g * terms["adv_g"]
        + w.adv_p * terms["adv_p"]
        + w.cls * terms["cls"]
        + w.gc * terms["gc"]
        + w.swap * terms.get("swap", 0.0)  # faceweave's region-swap loss (0 in the paper's training)
        + w.edit * terms.get("edit", 0.0)  # faceweave's attribute-edit loss (0 in the paper's training)
    )
