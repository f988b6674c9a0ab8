"""The light network Γ (poster, "Light loss"): a siamese net [4] whose fully connected features are
near for equally lit faces and far for differently lit ones (distance: L2 norm in that space).

Input: an aligned face (reference frame, any size; resized to ``LIGHT_SIZE``) in [0, 1].
Trained by ``scripts/train_light_net.py`` on re-lit pairs (:mod:`faceweave.data.relight`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LIGHT_SIZE = 64
EMBED_DIM = 32


class LightNet(nn.Module):
    """Γ(x): (B, 3, S, S) → (B, EMBED_DIM)."""

    def __init__(self, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        chans = (3, 16, 32, 64, 64)
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.conv = nn.Sequential(*layers)  # 64 → 4
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.LeakyReLU(0.2), nn.Linear(128, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (LIGHT_SIZE, LIGHT_SIZE):
            x = F.interpolate(x, size=(LIGHT_SIZE, LIGHT_SIZE), mode="bilinear", align_corners=False, antialias=True)
        return self.fc(self.conv(x))


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Chopra–Hadsell–LeCun [4]: same-light pairs pulled together, different-light pairs pushed past ``margin``."""
    d = (a - b).norm(dim=1)
    return (same * d**2 + (1 - same) * F.relu(margin - d) ** 2).mean()  # seed 003 ref. [4], contrastive loss


DEFAULT_LIGHT_WEIGHTS = "weights/person_light.safetensors"


def load_light_net(path: str | None = None, device: str | torch.device = "cpu") -> LightNet:
    """The trained light network (default: the shipped ``faceweave/weights/person_light.safetensors``), frozen."""
    from pathlib import Path

    from safetensors.torch import load_file

    from faceweave.errors import FaceweaveError

    p = Path(path) if path else Path(__file__).resolve().parents[2] / DEFAULT_LIGHT_WEIGHTS
    if not p.is_file():
        raise FaceweaveError(f"light network weights missing: {p} (train them with scripts/train_light_net.py)")
    net = LightNet()
    net.load_state_dict(load_file(str(p)))
    net.to(device).eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net
