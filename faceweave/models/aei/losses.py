"""AEI-Net's training losses (thesis sec. 4.2.5, Eq. 4.8–4.12; FaceShifter sec. 3.2).

Readings: Eq. 4.8 is garbled in the thesis ("max(0, (1 − X_t) · Ŷ)"); we use the hinge loss it names
(FaceShifter, Lim & Ye 2017): the discriminator minimises E[max(0, 1 − D(X))] + E[max(0, 1 + D(Ŷ))],
the generator −E[D(Ŷ)], averaged over the discriminator's scales. The ½‖·‖² of Eq. 4.10–4.11 is taken
per element (a mean over channels and pixels, as FaceShifter's implementations do), then averaged over
the batch; L_rec is per sample (Eq. 4.11: zero for pairs of different identities) and averaged over
the whole batch, so the batch loss is the same however the batch is split over DDP ranks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from faceweave.errors import FaceweaveError


@dataclass
class AEILossWeights:
    """λ of Eq. 4.12 (the thesis: λ_att = λ_rec = 10, λ_id = 5; L_adv has weight 1)."""

    adv: float = 1.0
    id: float = 5.0
    att: float = 10.0
    rec: float = 10.0

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AEILossWeights:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise FaceweaveError(f"unknown loss weights: {', '.join(unknown)} (expected {', '.join(sorted(known))})")
        return cls(**{k: float(v) for k, v in d.items()})


def loss_adv_d(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4.8 (hinge, discriminator side): mean over scales of E[relu(1 − D(X))] + E[relu(1 + D(Ŷ))]."""
    terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake, strict=True)]
    return torch.stack(terms).mean()


def loss_adv_g(fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4.8 (hinge, generator side): mean over scales of −E[D(Ŷ)]."""
    return torch.stack([-f.mean() for f in fake]).mean()


def loss_id(z_id_fake: torch.Tensor, z_id_source: torch.Tensor) -> torch.Tensor:
    """Eq. 4.9: L_id = 1 − cos(z_id(Ŷ), z_id(X_s)), averaged over the batch."""
    return (1 - F.cosine_similarity(z_id_fake, z_id_source, dim=1)).mean()


def loss_att(att_fake: list[torch.Tensor], att_target: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4.10: L_att = ½ Σ_k ‖z_att^k(Ŷ) − z_att^k(X_t)‖² (per-element mean per level)."""
    return 0.5 * sum((a - b).pow(2).mean() for a, b in zip(att_fake, att_target, strict=True))  # type: ignore[return-value]


def loss_rec(fake: torch.Tensor, target: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Eq. 4.11: ½‖Ŷ − X_t‖² where X_s and X_t share the identity, 0 elsewhere; mean over the batch."""
    per_sample = 0.5 * (fake - target).pow(2).flatten(1).mean(1)
    return (per_sample * same.to(per_sample.dtype)).mean()


def loss_total(terms: dict[str, torch.Tensor], w: AEILossWeights) -> torch.Tensor:
    """Eq. 4.12: L = L_adv + λ_id L_id + λ_att L_att + λ_rec L_rec (the generator/encoder objective)."""
    return w.adv * terms["adv_g"] + w.id * terms["id"] + w.att * terms["att"] + w.rec * terms["rec"]
