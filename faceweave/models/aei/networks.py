"""AEI-Net's networks (thesis sec. 4.2, Fig. 4.1; FaceShifter, Li et al. 2020, Fig. 2 / Fig. A.1).

* :class:`MultilevelAttributesEncoder` — the U-Net that maps X_t to z_att^1..n (Eq. 4.2);
* :class:`AADLayer` — adaptive attentional denormalisation (Eq. 4.3, 4.6, 4.7);
* :class:`AADResBlk` — two AAD + ReLU + 3×3 conv stages with a shortcut (Fig. 4.1b);
* :class:`AADGenerator` — z_id at 2×2, then one AAD ResBlk per attribute level, ×2 upsampling between;
* :class:`MultiscaleDiscriminator` — PatchGANs on the image at 1, 1/2, 1/4 … of its size.

Readings where the thesis text is garbled or silent (FaceShifter's reading is taken):

* Eq. 4.4–4.5 write batch statistics (a sum over the N samples); FaceShifter normalises AAD inputs
  with *instance* normalisation (per sample, per channel, no affine) — that is what we do.
* The attribute encoder's blocks are drawn with BatchNorm in FaceShifter's Fig. A.1; we use
  InstanceNorm (affine) instead, so every network is per-sample: the loss of a batch does not depend
  on how the batch is split over DDP ranks, and there is no train/eval gap at inference.
* The attentional mask M^k is a 1×1 convolution of h̄^k and a sigmoid; γ_att, β_att are 1×1
  convolutions of z_att^k; γ_id, β_id are fully connected layers of z_id (as in FaceShifter).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from faceweave.models.aei.config import AEIConfig


class _Down(nn.Sequential):
    """Conv 4×4 / stride 2 → InstanceNorm (affine) → LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False),
            nn.InstanceNorm2d(cout, affine=True),
            nn.LeakyReLU(0.1, inplace=True),
        )


class _Up(nn.Sequential):
    """Transposed conv 4×4 / stride 2 → InstanceNorm (affine) → LeakyReLU(0.1)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
            nn.InstanceNorm2d(cout, affine=True),
            nn.LeakyReLU(0.1, inplace=True),
        )


class MultilevelAttributesEncoder(nn.Module):
    """U-Net: X_t (B×3×S×S in [-1, 1]) → [z_att^1 (2×2), z_att^2 (4×4), …, z_att^n (S×S)] (Eq. 4.2)."""

    def __init__(self, config: AEIConfig) -> None:
        super().__init__()
        self.config = c = config
        downs = []
        cin = 3
        r = c.image_size // 2
        while r >= c.min_level:
            downs.append(_Down(cin, c.enc_channels(r)))
            cin = c.enc_channels(r)
            r //= 2
        self.downs = nn.ModuleList(downs)
        ups = []
        r = c.min_level
        cin = c.enc_channels(r)
        while r < c.image_size // 2:
            ups.append(_Up(cin, c.enc_channels(2 * r)))
            cin = 2 * c.enc_channels(2 * r)  # up-path ⊕ skip
            r *= 2
        self.ups = nn.ModuleList(ups)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)  # resolutions S/2, S/4, …, min_level
        feats = [skips[-1]]  # z_att^1: the bottleneck (2×2 in FaceShifter)
        for i, up in enumerate(self.ups):
            h = torch.cat([up(h), skips[-2 - i]], dim=1)
            feats.append(h)
        feats.append(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))  # z_att^n at S×S
        return feats


class AADLayer(nn.Module):
    """h_out = (1 − M) ⊗ A + M ⊗ I  (Eq. 4.7), with A, I from Eq. 4.6 and h̄ from Eq. 4.3."""

    def __init__(self, channels: int, att_channels: int, id_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)  # Eq. 4.3 (instance statistics, see module doc)
        self.gamma_att = nn.Conv2d(att_channels, channels, 1)
        self.beta_att = nn.Conv2d(att_channels, channels, 1)
        self.gamma_id = nn.Linear(id_dim, channels)
        self.beta_id = nn.Linear(id_dim, channels)
        self.mask = nn.Conv2d(channels, 1, 1)

    def forward(self, h: torch.Tensor, z_att: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        h_bar = self.norm(h)
        a = self.gamma_att(z_att) * h_bar + self.beta_att(z_att)  # A^k (Eq. 4.6)
        i = self.gamma_id(z_id)[..., None, None] * h_bar + self.beta_id(z_id)[..., None, None]  # I^k (Eq. 4.6)
        m = torch.sigmoid(self.mask(h_bar))  # M^k
        return (1 - m) * a + m * i  # Eq. 4.7

    def last_mask(self, h: torch.Tensor) -> torch.Tensor:
        """M^k for an input h (for visualising where identity wins)."""
        return torch.sigmoid(self.mask(self.norm(h)))


def _conv3(cin: int, cout: int, separable: bool) -> nn.Module:
    """3×3 convolution, or (``separable``) depthwise 3×3 then pointwise 1×1 (faceweave's small preset)."""
    if not separable:
        return nn.Conv2d(cin, cout, 3, padding=1)
    return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1))


class AADResBlk(nn.Module):
    """(AAD → ReLU → Conv 3×3) × 2, plus a shortcut (AAD → ReLU → Conv 3×3 when the width changes)."""

    def __init__(self, cin: int, cout: int, att_channels: int, id_dim: int, separable: bool = False) -> None:
        super().__init__()
        self.aad1 = AADLayer(cin, att_channels, id_dim)
        self.conv1 = _conv3(cin, cin, separable)
        self.aad2 = AADLayer(cin, att_channels, id_dim)
        self.conv2 = _conv3(cin, cout, separable)
        self.learned_shortcut = cin != cout
        if self.learned_shortcut:
            self.aad_s = AADLayer(cin, att_channels, id_dim)
            self.conv_s = _conv3(cin, cout, separable)

    def forward(self, h: torch.Tensor, z_att: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        x = self.conv1(F.relu(self.aad1(h, z_att, z_id)))
        x = self.conv2(F.relu(self.aad2(x, z_att, z_id)))
        s = self.conv_s(F.relu(self.aad_s(h, z_att, z_id))) if self.learned_shortcut else h
        return x + s


class AADGenerator(nn.Module):
    """Ŷ_s,t = G(z_id, z_att^1..n): z_id → 2×2 by a transposed conv, AAD ResBlks up to S×S, tanh.

    With ``min_level`` > 2 the 2×2 stem is bilinearly enlarged to the first attribute level."""

    def __init__(self, config: AEIConfig) -> None:
        super().__init__()
        self.config = c = config
        self.stem = nn.ConvTranspose2d(c.id_dim, c.gen_channels(c.min_level), 2)
        blocks = []
        for r in c.levels:
            cout = c.gen_channels(2 * r) if r < c.image_size else 3
            blocks.append(AADResBlk(c.gen_channels(r), cout, c.att_channels(r), c.id_dim, c.separable))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, z_id: torch.Tensor, z_att: list[torch.Tensor]) -> torch.Tensor:
        if len(z_att) != len(self.blocks):
            raise ValueError(f"the generator needs {len(self.blocks)} attribute levels, got {len(z_att)}")
        h = self.stem(z_id[..., None, None])
        if self.config.min_level > 2:
            h = F.interpolate(h, size=(self.config.min_level,) * 2, mode="bilinear", align_corners=False)
        for k, block in enumerate(self.blocks):
            h = block(h, z_att[k], z_id)
            if k < len(self.blocks) - 1:
                h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        return torch.tanh(h)


class PatchDiscriminator(nn.Module):
    """pix2pix/pix2pixHD PatchGAN: ``layers`` stride-2 convs, one stride-1 conv, a 1-channel patch map."""

    def __init__(self, channels: int, max_channels: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(3, channels, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        c = channels
        for _ in range(layers - 1):
            c2 = min(2 * c, max_channels)
            mods += [nn.Conv2d(c, c2, 4, 2, 1), nn.InstanceNorm2d(c2, affine=True), nn.LeakyReLU(0.2, inplace=True)]
            c = c2
        c2 = min(2 * c, max_channels)
        mods += [nn.Conv2d(c, c2, 4, 1, 1), nn.InstanceNorm2d(c2, affine=True), nn.LeakyReLU(0.2, inplace=True)]
        mods += [nn.Conv2d(c2, 1, 4, 1, 1)]
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiscaleDiscriminator(nn.Module):
    """``scales`` PatchGANs, the k-th on the image average-pooled k times (pix2pixHD)."""

    def __init__(self, config: AEIConfig) -> None:
        super().__init__()
        c = config
        # at scale k the image is S / 2^k: at most log2(S / 2^k) − 2 stride-2 layers, so the coarsest
        # PatchGAN still sees a 4×4 map before its two stride-1 convolutions (instance norm needs > 1 pixel)
        self.nets = nn.ModuleList(
            PatchDiscriminator(
                c.disc_channels, c.disc_max_channels, max(1, min(c.disc_layers, int(math.log2(c.image_size)) - k - 2))
            )
            for k in range(c.disc_scales)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for k, net in enumerate(self.nets):
            if k:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(net(x))
        return outs
