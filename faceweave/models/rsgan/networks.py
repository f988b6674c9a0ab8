"""The RSGAN networks (Natsume et al., ECCV-W 2018, section 3, Fig. 2).

The paper names the networks but gives no layer details, so standard blocks are used
(:mod:`faceweave.models.layers`). ``S`` is the image size and ``L = log2(S/4)`` the number of ×2
levels between S×S and 4×4.

* **Image encoders** F_E-xf (face) and F_E-xh (hair), :class:`ImageEncoder`, read ``x`` and ``c``:
  the attribute vector is tiled as ``n_attr`` constant channels beside the RGB image (a conditional
  VAE). 3×3 stem conv + LeakyReLU, then L :class:`~faceweave.models.layers.DownBlock` (conv 4×4
  stride 2, norm, LeakyReLU 0.2) down to 4×4, then one linear layer to ``(μ, log σ²)``.
* **Attribute encoders** F_E-cf, F_E-ch, :class:`AttributeEncoder`: MLP ``n_attr → hidden → hidden →
  (μ, log σ²)`` with LeakyReLU. With no attributes they have no parameters and a 0-D latent.
* **Part decoders** F_D-f, F_D-h and the **composer** G, :class:`LatentDecoder`: the concatenated
  latents go through a linear layer to a 4×4 map, then L :class:`~faceweave.models.layers.UpBlock`
  (nearest ×2, conv 3×3, norm, ReLU), then conv 3×3 and tanh, so images are in [-1, 1].
  F_D-f reads ``(z_xf, z_cf)``, F_D-h reads ``(z_xh, z_ch)``, G reads ``(z_xf, z_cf, z_xh, z_ch)``.
* **Global discriminator** D_g, :class:`GlobalDiscriminator`: DCGAN-style DownBlocks to 4×4 (no
  norm on the first), linear to one logit per image.
* **Patch discriminator** D_p, :class:`PatchDiscriminator`: the pix2pix PatchGAN (Isola et al.), ``k``
  stride-2 DownBlocks, one stride-1 4×4 conv block, and a stride-1 4×4 conv to one logit per patch.
* **Attribute classifier** C, :class:`AttributeClassifier`: the D_g trunk with ``n_attr`` logits;
  ``c* = sigmoid(logits)``. With no attributes it has no parameters and returns ``[B, 0]``.

All networks return logits / (μ, log σ²); probabilities and sampling are done by the caller.
"""

from __future__ import annotations

import torch
from torch import nn

from faceweave.models.layers import DownBlock, UpBlock, channel_plan, make_norm, num_levels


def tile_attributes(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Concatenate ``c`` [B, A] as A constant channels to ``x`` [B, 3, H, W] (no-op when A = 0)."""
    if c is None or c.shape[1] == 0:
        return x
    if c.shape[0] != x.shape[0]:
        raise ValueError(f"attribute batch {c.shape[0]} does not match image batch {x.shape[0]}")
    tiles = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, tiles], dim=1)


class ImageEncoder(nn.Module):
    """F_E-xf / F_E-xh: (x, c) → (μ, log σ²), each [B, z_dim]."""

    def __init__(self, image_size: int, n_attr: int, z_dim: int, base: int, cap: int, norm: str) -> None:
        super().__init__()
        levels = num_levels(image_size)
        widths = channel_plan(base, cap, levels)
        self.n_attr = n_attr
        self.stem = nn.Sequential(nn.Conv2d(3 + n_attr, widths[0], 3, padding=1), nn.LeakyReLU(0.2, True))
        self.down = nn.Sequential(*[DownBlock(widths[i], widths[i + 1], norm) for i in range(levels)])
        self.head = nn.Linear(widths[-1] * 16, 2 * z_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_attr and (c is None or c.shape[1] != self.n_attr):
            raise ValueError(f"this encoder needs an attribute vector of length {self.n_attr}")
        h = self.down(self.stem(tile_attributes(x, c)))
        mu, logvar = self.head(h.flatten(1)).chunk(2, dim=1)
        return mu, logvar


class AttributeEncoder(nn.Module):
    """F_E-cf / F_E-ch: c → (μ, log σ²). Parameter-free with a 0-D latent when ``n_attr == 0``."""

    def __init__(self, n_attr: int, z_dim: int, hidden: int) -> None:
        super().__init__()
        self.z_dim = z_dim if n_attr > 0 else 0
        self.net: nn.Module | None = None
        if n_attr > 0:
            self.net = nn.Sequential(
                nn.Linear(n_attr, hidden),
                nn.LeakyReLU(0.2, True),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(0.2, True),
                nn.Linear(hidden, 2 * z_dim),
            )

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.net is None:
            empty = c.new_zeros(c.shape[0], 0)
            return empty, empty
        mu, logvar = self.net(c).chunk(2, dim=1)
        return mu, logvar


class LatentDecoder(nn.Module):
    """F_D-f, F_D-h and the composer G: concatenated latents → image in [-1, 1]."""

    def __init__(self, image_size: int, z_in: int, base: int, cap: int, norm: str) -> None:
        super().__init__()
        levels = num_levels(image_size)
        widths = channel_plan(base, cap, levels)[::-1]  # widest at 4×4
        self.fc = nn.Linear(z_in, widths[0] * 16)
        self.fc_norm = nn.Sequential(make_norm(norm, widths[0]), nn.ReLU(True))
        self.up = nn.Sequential(*[UpBlock(widths[i], widths[i + 1], norm) for i in range(levels)])
        self.out = nn.Sequential(nn.Conv2d(widths[-1], 3, 3, padding=1), nn.Tanh())
        self._w0 = widths[0]

    def forward(self, *latents: torch.Tensor) -> torch.Tensor:
        z = torch.cat(latents, dim=1)
        h = self.fc_norm(self.fc(z).view(z.shape[0], self._w0, 4, 4))
        return self.out(self.up(h))


def _disc_trunk(image_size: int, base: int, cap: int, norm: str) -> tuple[nn.Sequential, int]:
    levels = num_levels(image_size)
    widths = channel_plan(base, cap, levels)
    blocks = [DownBlock(3, widths[0], "none")] + [DownBlock(widths[i], widths[i + 1], norm) for i in range(levels - 1)]
    return nn.Sequential(*blocks), widths[levels - 1]  # output map is 4×4


class GlobalDiscriminator(nn.Module):
    """D_g: image → one real/fake logit [B]."""

    def __init__(self, image_size: int, base: int, cap: int, norm: str) -> None:
        super().__init__()
        self.trunk, width = _disc_trunk(image_size, base, cap, norm)
        self.head = nn.Linear(width * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x).flatten(1)).squeeze(1)


class PatchDiscriminator(nn.Module):
    """D_p (PatchGAN): image → real/fake logits per patch [B, 1, h, w]."""

    def __init__(self, levels: int, base: int, cap: int, norm: str) -> None:
        super().__init__()
        widths = channel_plan(base, cap, levels + 1)
        layers: list[nn.Module] = [DownBlock(3, widths[0], "none")]
        layers += [DownBlock(widths[i], widths[i + 1], norm) for i in range(levels - 1)]
        layers += [
            nn.Conv2d(widths[levels - 1], widths[levels], 4, padding=1, bias=norm == "none"),
            make_norm(norm, widths[levels]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(widths[levels], 1, 4, padding=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AttributeClassifier(nn.Module):
    """C: image → attribute logits [B, n_attr]; parameter-free returning [B, 0] when ``n_attr == 0``."""

    def __init__(self, image_size: int, n_attr: int, base: int, cap: int, norm: str) -> None:
        super().__init__()
        self.n_attr = n_attr
        self.trunk: nn.Module | None = None
        self.head: nn.Module | None = None
        if n_attr > 0:
            self.trunk, width = _disc_trunk(image_size, base, cap, norm)
            self.head = nn.Linear(width * 16, n_attr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.trunk is None or self.head is None:
            return x.new_zeros(x.shape[0], 0)
        return self.head(self.trunk(x).flatten(1))
