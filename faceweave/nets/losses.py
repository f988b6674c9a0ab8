"""Losses built on the frozen networks, for the learned engines (AEI-Net, per-identity swap, harmonizer).

The networks' parameters are frozen; gradients flow to the images. Inputs are RGB in [0, 1].
Keep the judge independent of the trainee (DESIGN.md §3): a model trained with :class:`IdentityLoss`
(512-D net) should be scored with dlib and the 192-D MobileFaceNet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from faceweave.nets.loading import load


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine of two (B, D) embedding batches."""
    return F.cosine_similarity(a, b, dim=-1, eps=1e-8)


def identity_loss(embedding: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 − cos(z_id(Ŷ), z_id(X_s))."""
    return (1 - cosine_similarity(embedding, target)).mean()  # L_id, seed 001 (FaceShifter) Eq. (4.9)


class IdentityLoss(nn.Module):
    """1 − cosine between identity embeddings of ArcFace-aligned 112×112 crops (seed 001 Eq. 4.9).

    ``forward(generated, source)``: ``generated`` (B, 3, 112, 112); ``source`` either crops of the
    same shape or precomputed (B, D) embeddings (e.g. from :meth:`embed` under ``no_grad``).
    Crops come from :func:`faceweave.nets.align.arcface_crop` (differentiable).
    """

    def __init__(self, net: str = "identity512", device: str | torch.device = "cpu") -> None:
        super().__init__()
        _attach(self, load(net, device))

    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        return self.net(crops)

    def forward(self, generated: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        target = source if source.ndim == 2 else self.net(source)
        return identity_loss(self.net(generated), target)


def _attach(loss: nn.Module, net: nn.Module) -> None:
    # Not a registered submodule: the frozen net is shared (cached by faceweave.nets.load), stays in
    # eval mode when the trainee calls .train(), and stays out of the trainee's checkpoints. Choose
    # its device with the ``device`` argument; ``.to()`` on the loss does not move it.
    object.__setattr__(loss, "net", net)


DEFAULT_LAYERS: Mapping[str, float] = {"block1": 1.0, "block2": 1.0, "block3": 1.0}


class PerceptualLoss(nn.Module):
    """Content loss in the DenseNet-121 feature space, standing in for VGG (none ships installable).

    L = Σ_l w_l · (1/|Φ_l|) ‖Φ_l(x̂) − Φ_l(x)‖²₂ — the content loss of seed 003 (Korshunova et al.,
    poster, equation unnumbered) with Φ_l the DenseNet stage ``l`` (block1 56×56 … block3 14×14 at
    224 px input). Inputs of another size are resized to ``size`` (bilinear) first; ``size=None``
    keeps them as they are.
    """

    def __init__(
        self,
        layers: Mapping[str, float] | Sequence[str] = DEFAULT_LAYERS,
        size: int | None = 224,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        self.weights = dict(layers) if isinstance(layers, Mapping) else dict.fromkeys(layers, 1.0)
        self.size = size
        _attach(self, load("expression", device))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.size is not None and x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net.features(x, tuple(self.weights))

    def forward(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fg = self.features(generated)
        with torch.no_grad():
            ft = self.features(target)
        loss = generated.new_zeros(())
        for name, w in self.weights.items():
            loss = loss + w * F.mse_loss(fg[name], ft[name])  # (1/|Φ_l|)‖Φ_l(x̂) − Φ_l(x)‖², seed 003 content loss
        return loss
