"""Harmonizer losses (seed 004, "Our deep learning based approach" and "Training").

The seed states its losses in prose and numbers no equations; we write them out and number them
H1–H5 here (our numbering, cited by each function). x is the raw composite, M its face mask
(1 inside the face hull), ŷ = G(x, M) the harmonized image, y a real photo (for self-composites,
the ground truth the composite was made from), φ a frozen embedding network::

    H1  L_adv^D = E[softplus(−D(y, M))] + E[softplus(D(ŷ, M))],  L_adv^G = E[softplus(−D(ŷ, M))]
    H2  L_pix   = mean((1 − M)(ŷ − x)²) + λ_in · mean(M (ŷ − x)²)
    H3  L_mom   = Σ_c (μ_c(ŷ) − μ_c(x))² + (σ_c(ŷ) − σ_c(x))²
    H4  L_emb   = mean((φ(ŷ) − φ(x))²)
    H5  L_gt    = mean(M̃ ρ(ŷ − y)) / mean(M̃)        (ours; self-composites only; ρ squared or Charbonnier)

Readings: H1 "the standard adversarial loss" — we take the non-saturating logistic form. H2 "a basic
pixel L2 loss", kept outside the face hull with "a small L2 inside" (λ_in ≪ 1) as the issue asks.
H3 "first and second moment consistency of the three RGB channels" — mean and standard deviation of
each channel over the whole crop, output against input. H4 "the embedding of the output shouldn't
differ significantly from that of the input" through a frozen network (the seed's ImageNet
ResNet-18 ships nowhere here; see :mod:`faceweave.train.harmonizer` for what we use). H5 is not in
the seed: self-composites have a known ground truth (the photo before its face was disturbed), so
we supervise the face region (M̃: the mask dilated to where the generator may act) against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Embedder = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class HarmonizerLossWeights:
    """Weights of H1–H5 (the seed gives none; these are ours)."""

    adv: float = 0.05  # λ_adv (H1, generator side)
    pix: float = 10.0  # λ_pix (H2)
    pix_inside: float = 0.05  # λ_in inside H2: the seed's "small L2 inside"
    moment: float = 1.0  # λ_mom (H3)
    embed: float = 20.0  # λ_emb (H4); no effect without an embedding network (--embed none)
    gt: float = 20.0  # λ_gt (H5, ours)
    gt_eps: float = 0.0  # H5's error: 0 → squared; ε > 0 → Charbonnier √(e² + ε²) − ε (ours, ≈ L1 like ΔE)
    gt_relative: float = 0.0  # c > 0: H5 per composite weighted by 1 / (e₀ + c), e₀ its error before (ours)


def d_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    # H1 (D side): softplus(−D(y, M)) + softplus(D(ŷ, M)), the logistic GAN loss
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    # H1 (G side): non-saturating softplus(−D(ŷ, M))
    return F.softplus(-fake_logits).mean()


def pixel_loss(out: torch.Tensor, composite: torch.Tensor, mask: torch.Tensor, inside: float) -> torch.Tensor:
    # H2: mean((1 − M)(ŷ − x)²) + λ_in · mean(M (ŷ − x)²)
    sq = (out - composite) ** 2
    return ((1 - mask) * sq).mean() + inside * (mask * sq).mean()


def channel_moments(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation ([B, C] each)."""
    flat = img.flatten(2)
    return flat.mean(2), flat.std(2, unbiased=False)


def moment_loss(out: torch.Tensor, composite: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    # H3: Σ_c (μ_c(ŷ) − μ_c(x))² + (σ_c(ŷ) − σ_c(x))², averaged over the batch (optionally per-sample weighted)
    mo, so = channel_moments(out)
    mc, sc = channel_moments(composite)
    per = (((mo - mc) ** 2) + ((so - sc) ** 2)).sum(1)
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp_min(1.0)


def embedding_loss(out: torch.Tensor, composite: torch.Tensor, embed: Embedder | None) -> torch.Tensor:
    # H4: mean((φ(ŷ) − φ(x))²) through a frozen network φ (0 when there is none)
    if embed is None:
        return out.new_zeros(())
    with torch.no_grad():
        target = embed(composite)
    return ((embed(out) - target) ** 2).mean()


def relative_weight(composite: torch.Tensor, truth: torch.Tensor, region: torch.Tensor, c: float) -> torch.Tensor:
    # H5 weighting (ours): w = 1 / (e₀ + c), e₀ = mean(M̃ (x − y)²) / mean(M̃), the composite's own error, so
    # a composite that is nearly right already counts by its *relative* change, not its tiny absolute one
    with torch.no_grad():
        e0 = (region * (composite - truth) ** 2).flatten(1).sum(1) / (3 * region.flatten(1).sum(1)).clamp_min(1.0)
        return 1.0 / (e0 + c)


def ground_truth_loss(out: torch.Tensor, truth: torch.Tensor, region: torch.Tensor,
                      weight: torch.Tensor | None = None, eps: float = 0.0) -> torch.Tensor:
    # H5 (ours): mean(M̃ ρ(ŷ − y)) / mean(M̃) over the samples that have a ground truth (weight 1),
    # ρ(e) = e² (eps 0) or the Charbonnier √(e² + ε²) − ε, which weighs a small error (a composite that
    # is nearly right already) as much per unit as a large one
    e = out - truth
    err = e**2 if eps <= 0 else torch.sqrt(e**2 + eps**2) - eps
    per = (region * err).flatten(1).sum(1) / (3 * region.flatten(1).sum(1)).clamp_min(1.0)
    if weight is None:
        return per.mean()
    return (per * weight).sum() / weight.sum().clamp_min(1.0)
