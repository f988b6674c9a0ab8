"""z_id: the frozen identity encoder of AEI-Net (thesis sec. 4.2.2: ArcFace).

AEI-Net never trains its identity encoder. Any ``nn.Module`` that maps a batch of 112×112 RGB faces
on ArcFace's template, in [-1, 1], to a B×D embedding can be plugged in (:class:`FrozenIdentity`
freezes it and keeps it in eval mode). faceweave's is the converted 512-D MobileFaceNet-like ArcFace
net of :mod:`faceweave.nets`; the second identity net (192-D MobileFaceNet) and dlib are kept for
scoring only (a net used inside a training loss must not be the only judge).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def identity_crop(x: torch.Tensor, id_crop: float, out_size: int = 112) -> torch.Tensor:
    """The central ``id_crop`` box of AEI-frame images, resized to ``out_size`` (differentiable)."""
    s = x.shape[-1]
    box = id_crop * s
    lo = (s - box) / 2
    i0, i1 = int(round(lo)), int(round(lo + box))
    crop = x[..., i0:i1, i0:i1]
    return F.interpolate(crop, size=(out_size, out_size), mode="bilinear", align_corners=False, antialias=False)


class FrozenIdentity(nn.Module):
    """A frozen identity net on AEI-frame images: z_id = normalise(net(identity_crop(x))).

    ``net`` takes B×3×112×112 RGB in [-1, 1] on ArcFace's template. Its parameters never require
    gradients and it stays in eval mode whatever ``.train()`` is called with; gradients still flow
    *through* it to its input (L_id trains the generator).
    """

    def __init__(self, net: nn.Module, id_crop: float = 218 / 256) -> None:
        super().__init__()
        self.net = net
        self.id_crop = id_crop
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> FrozenIdentity:  # noqa: ARG002 - frozen: always eval
        self.training = False
        for m in self.net.modules():
            m.training = False
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(identity_crop(x, self.id_crop)).float(), dim=1)

    def embed_aligned(self, x112: torch.Tensor) -> torch.Tensor:
        """z_id of faces already on ArcFace's 112×112 template (in [-1, 1])."""
        return F.normalize(self.net(x112).float(), dim=1)


class UnitRangeInput(nn.Module):
    """Adapter: a net that takes RGB in [0, 1] (faceweave.nets) fed with [-1, 1] images."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x + 1) / 2)


def default_identity_net() -> nn.Module:
    """faceweave's frozen 512-D ArcFace-style identity net (``faceweave.nets`` 'identity512'), on [-1, 1] input."""
    from faceweave.nets import load

    return UnitRangeInput(load("identity512"))
