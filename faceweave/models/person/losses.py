"""The losses of seed 003 (Korshunova et al., poster "Total loss"), on DenseNet-121 features.

VGG-19 (the poster's Φ) ships in no package we may install, so Φ_l is a stage of the frozen
DenseNet-121 of :mod:`faceweave.nets` (``stem``, ``block1``, ``transition1``, ...; RGB in [0, 1]).
``scripts/person_layer_ablation.py`` compares the layers (docs/person.md).

The poster's equations are unnumbered; we number them in reading order:
(1) content, (2) style, (3) NN(i), (4) light, (5) total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from faceweave.nets.loading import load

PATCH = 3  # neural patches are 3×3 neighbourhoods of Φ_l, as in Li & Wand [2] (the poster gives no size)


def content_loss(phi_out: torch.Tensor, phi_in: torch.Tensor) -> torch.Tensor:
    """(1/|Φ_l(x)|)‖Φ_l(x̂) − Φ_l(x)‖²₂."""
    return ((phi_out - phi_in) ** 2).mean()  # seed 003 poster Eq. (1), content loss


def neural_patches(phi: torch.Tensor, size: int = PATCH) -> torch.Tensor:
    """Ψ(Φ_l(x)): (..., C, H, W) → (..., H·W, C·size²), one patch per spatial location (zero-padded)."""
    lead = phi.shape[:-3]
    c, h, w = phi.shape[-3:]
    p = F.unfold(phi.reshape(-1, c, h, w), size, padding=size // 2)  # (n, C·s², H·W)
    return p.transpose(1, 2).reshape(*lead, h * w, c * size * size)


def patch_cosine_distances(out_patches: torch.Tensor, style_patches: torch.Tensor) -> torch.Tensor:
    """d_c(Ψ_i(Φ(x̂)), Ψ_i(Φ(y_j))) for every location i and style image j: (B, M, D), (B, N, M, D) → (B, N, M)."""
    a = F.normalize(out_patches, dim=-1, eps=1e-8)
    b = F.normalize(style_patches, dim=-1, eps=1e-8)
    return 1.0 - (a[:, None] * b).sum(-1)


def nearest_style(distances: torch.Tensor) -> torch.Tensor:
    """NN(i) = argmin_j d_c(...) over the N_best style images, per location: (B, N, M) → (B, M)."""
    return distances.argmin(1)  # seed 003 poster Eq. (3), NN(i)


def style_loss(phi_out: torch.Tensor, phi_styles: torch.Tensor) -> torch.Tensor:
    """(1/M) Σ_i d_c(Ψ_i(Φ_l(x̂)), Ψ_i(Φ_l(y_NN(i)))); ``phi_styles`` (B, N_best, C, H, W).

    Patches are compared at the same location i only (the poster's Ψ_i on both sides): the faces
    are aligned, so location i is roughly the same part of every face.
    """
    d = patch_cosine_distances(neural_patches(phi_out), neural_patches(phi_styles))
    return d.min(1).values.mean()  # seed 003 poster Eq. (2), style loss with NN(i) of Eq. (3)


def light_loss(gamma_out: torch.Tensor, gamma_in: torch.Tensor) -> torch.Tensor:
    """(1/|Γ(x)|)‖Γ(x̂) − Γ(x)‖²₂ with Γ the light network's fully connected features."""
    return ((gamma_out - gamma_in) ** 2).mean()  # seed 003 poster Eq. (4), light loss


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels (the poster names L_TV, no formula)."""
    dh = (x[..., 1:, :] - x[..., :-1, :]) ** 2
    dw = (x[..., :, 1:] - x[..., :, :-1]) ** 2
    return dh.mean() + dw.mean()  # seed 003 poster Eq. (5), γ·L_TV term (standard Mahendran–Vedaldi form)


def identity_loss(emb_out: torch.Tensor, emb_person: torch.Tensor) -> torch.Tensor:
    """1 − cos(E(x̂), ē): a frozen identity net's embedding of x̂ against the person's mean embedding ē.

    Not in seed 003 — our departure (docs/person.md): the poster's losses alone do not move the
    identity within our CPU budget. E is ``identity512``; dlib, which judges retrieval, is not used.
    """
    cos = F.cosine_similarity(emb_out, emb_person.expand_as(emb_out), dim=-1)
    return (1.0 - cos).mean()  # not a seed 003 equation: our identity term λ_id·L_id added to Eq. (5)


def pair_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖f(x) − y‖₁ per pixel on a pseudo pair (x, y) (faceweave.data.person_pseudo; not in seed 003)."""
    return (out - target).abs().mean()  # not a seed 003 equation: our pseudo-pair term λ_pair·L_pair added to Eq. (5)


@dataclass(frozen=True)
class LossWeights:
    """L = L_content + α L_style + β L_light + γ L_TV (poster Eq. 5); our values for DenseNet features."""

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 0.5
    content_layers: tuple[str, ...] = ("block1",)
    style_layers: tuple[str, ...] = ("stem", "transition1")


class DenseNetFeatures(nn.Module):
    """Φ_l: frozen DenseNet-121 stages (our stand-in for the poster's VGG), kept out of state_dict."""

    def __init__(self, layers: Sequence[str], device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        object.__setattr__(self, "net", load("expression", device))

    def forward(self, x: torch.Tensor) -> Mapping[str, torch.Tensor]:
        return self.net.features(x, self.layers)
