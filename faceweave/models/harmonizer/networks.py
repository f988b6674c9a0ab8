"""The harmonizer's networks (seed 004, "Our deep learning based approach").

* :class:`UNetGenerator` — a U-Net (Ronneberger et al. 2015) over 4 channels: the raw composite's RGB
  and the face mask (the seed's "additional 4th channel", after Tsai et al. 2017). It predicts a
  residual; :meth:`UNetGenerator.forward` adds it to the composite inside a dilated band around the
  mask only (``gate``), so pixels far from the face come back bit-exact. The gate is our departure
  from the seed, whose generator redraws the whole image: a swap must never touch the background.
* :class:`ResNetDiscriminator` — a ResNet-style critic (residual blocks with average-pool
  downsampling, He et al. 2016) over RGB + mask, one logit per image.

Both are small on purpose: the demo preset runs in ≤ 30 ms per 256-px face on a laptop-class CPU
(benchmarks/harmonizer_speed.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faceweave.models.harmonizer.config import HarmonizerConfig


def _widths(first: int, levels: int, cap: int) -> list[int]:
    return [min(first * 2**i, cap) for i in range(levels)]


class ConvAct(nn.Sequential):
    """3×3 convolution (optionally stride 2) → LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1), nn.LeakyReLU(0.2, inplace=True))


class ResBlock(nn.Module):
    """Two 3×3 convolutions with an identity shortcut (constant width)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))


class UNetGenerator(nn.Module):
    """U-Net G(x, M[, t]): composite RGB in [0, 1] + mask in [0, 1] (+ the colour-transfer flag t)
    → harmonized RGB in [0, 1].

    A U-Net over the 4 channels (RGB + the seed's mask channel) that predicts a *colour transform*,
    not pixels (our departure from the seed, for fast learning on little data and a 30 ms CPU budget):

    * the crop is average-pooled to ``gen_input`` px (colour and light are low-frequency) and goes
      through ``gen_levels`` stride-2 3×3 convolutions, residual blocks at the bottom, and a decoder
      (bilinear ×2, concatenated skip, 3×3 convolution) back up to ``gen_input / 2``;
    * the **affine head** reads the decoder at ``gen_input / 4`` (a coarse map, 32×32 for the demo)
      and outputs a 3×4 affine colour transform per cell — a 3×3 matrix ``A`` (colour mixing: white
      balance, saturation) and a bias ``b`` — bounded (``0.5·tanh``, ``0.3·tanh``); a global-context
      MLP over the colour statistics inside the mask and in the ring around it (:func:`context_stats`)
      adds a per-image transform; the map is upsampled bilinearly to full resolution (HDRNet-style:
      the coefficients are coarse, their application per pixel);
    * the **residual head** reads the decoder at ``gen_input / 2`` and adds a small bounded correction
      ``r`` (``0.08·tanh``) for what an affine map cannot do (the seam band);

        ŷ = clamp(x + gate(M) · (A x + b + r), 0, 1),

    so the face's full-resolution detail passes through (a colour transform cannot draw features —
    the seed reports its pixel-redrawing generator adding an eye), ``gate`` keeps the background
    bit-exact, and both heads start at zero: at initialisation G is the identity, which is also what
    it must learn to be when a composite has nothing to fix.

    With ``config.colour_input`` (ours) G also reads t ∈ {0, 1}, whether the engine already
    colour-transferred the face (the compose step knows it; training sets it per self-composite), as a
    constant 5th input channel and a 40th context feature. Without it G cannot tell a face whose
    colour is off from one already matched, and its squared-error optimum is the mean of the two
    corrections (docs/harmonizer.md).
    """

    def __init__(self, config: HarmonizerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or HarmonizerConfig()
        w = _widths(cfg.gen_channels, cfg.gen_levels, cfg.gen_max_channels)
        self.down = nn.ModuleList()
        prev = 5 if cfg.colour_input else 4  # RGB, mask (and the colour-transfer flag as a constant channel)
        for ch in w:
            self.down.append(ConvAct(prev, ch, stride=2))
            prev = ch
        self.bottleneck = nn.Sequential(*[ResBlock(prev) for _ in range(cfg.gen_bottleneck_blocks)])
        self.up = nn.ModuleList()
        for i in range(len(w) - 1, 0, -1):  # up to the level of skip w[i-1]
            self.up.append(ConvAct(prev + w[i - 1], w[i - 1]))
            prev = w[i - 1]
        self.affine_head = nn.Conv2d(w[1] if len(w) > 1 else prev, 12, 3, padding=1)
        self.head = nn.Conv2d(prev, 3, 3, padding=1)  # the residual head
        # global context: RGB statistics inside the mask, in the ring and across the seam → a per-image transform
        hid = cfg.context_hidden
        n_ctx = CONTEXT_FEATURES + int(cfg.colour_input)  # + the flag
        self.context = nn.Sequential(nn.Linear(n_ctx, hid), nn.LeakyReLU(0.2), nn.Linear(hid, 12))
        for layer in (self.head, self.affine_head, self.context[2]):  # starts as the identity: ŷ = x
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def flag(self, x: torch.Tensor, transferred: torch.Tensor | float | bool | None) -> torch.Tensor | None:
        """The colour-transfer flag as a [B] float tensor (None when the config has no such input).

        Required when ``config.colour_input``: the right correction of a face depends on it.
        """
        if not self.config.colour_input:
            return None
        if transferred is None:
            raise ValueError("this harmonizer reads whether the face was colour-transferred: pass transferred=")
        t = torch.as_tensor(transferred, dtype=x.dtype, device=x.device).flatten()
        return t.expand(x.shape[0]) if t.numel() == 1 else t

    def fields(self, x: torch.Tensor, mask: torch.Tensor, gate: torch.Tensor,
               transferred: torch.Tensor | float | bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The affine map [B, 12, h, w] (3×3 matrix row-major, then bias; coarse) and the residual
        [B, 3, H/f, W/f], both bounded, before upsampling. ``transferred``: see :meth:`forward`."""
        f = max(x.shape[-1] // self.config.gen_input, 1)
        xs, ms = (F.avg_pool2d(x, f), F.avg_pool2d(mask, f)) if f > 1 else (x, mask)
        gs = F.avg_pool2d(gate, f) if f > 1 else gate
        stats = context_stats(xs, ms, gs)
        h = torch.cat([xs, ms], 1)
        t = self.flag(x, transferred)
        if t is not None:  # ours: the compose step says whether the engine colour-transferred the face
            stats = torch.cat([stats, t[:, None]], 1)
            h = torch.cat([h, t[:, None, None, None].expand_as(ms)], 1)
        ctx = self.context(stats)[:, :, None, None]
        skips = []
        for d in self.down:
            h = d(h)
            skips.append(h)
        h = self.bottleneck(h)
        coarse = h
        for u, s in zip(self.up, reversed(skips[:-1]), strict=True):
            h = F.interpolate(h, size=s.shape[-2:], mode="bilinear", align_corners=False)
            h = u(torch.cat([h, s], 1))
            if len(skips) > 1 and s is skips[1]:
                coarse = h
        a = self.affine_head(coarse) + ctx
        a = torch.cat([0.5 * torch.tanh(a[:, :9]), 0.3 * torch.tanh(a[:, 9:])], 1)
        return a, 0.08 * torch.tanh(self.head(h))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, gate: torch.Tensor | None = None,
                clamp: bool = True, transferred: torch.Tensor | float | bool | None = None) -> torch.Tensor:
        """``x`` [B, 3, H, W] in [0, 1]; ``mask`` [B, 1, H, W]; ``gate`` (default :func:`mask_gate`);
        ``transferred`` (scalar or [B]; required with ``config.colour_input``): 1 where the engine
        colour-transferred the face before blending, 0 where it did not.

        ``clamp=False`` (training) skips the final clamp to [0, 1], whose zero gradient would
        otherwise trap saturated pixels.
        """
        g = mask_gate(mask) if gate is None else gate
        a, r = self.fields(x, mask, g, transferred)
        size = x.shape[-2:]
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
        r = F.interpolate(r, size=size, mode="bilinear", align_corners=False)
        m = a[:, :9].unflatten(1, (3, 3))  # m[:, c, k]: output channel c from input channel k
        ax = m[:, :, 0] * x[:, 0:1] + m[:, :, 1] * x[:, 1:2] + m[:, :, 2] * x[:, 2:3]  # A x per pixel
        out = x + g * (ax + a[:, 9:] + r)
        return out.clamp(0, 1) if clamp else out


CONTEXT_FEATURES = 39  # len(context_stats(...)[0]); the first 27 are the 0.1 release's


def _bands(mask: torch.Tensor, frac: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The thin bands inside / outside the hard mask's edge, ``frac`` of the crop side wide."""
    hard = (mask > 0.5).to(mask.dtype)
    r = max(int(round(frac * mask.shape[-1])), 1)
    k = 2 * r + 1

    def dilate(t: torch.Tensor) -> torch.Tensor:  # k×k square max filter, separable (same result, cheaper)
        return F.max_pool2d(F.max_pool2d(t, (k, 1), 1, (r, 0)), (1, k), 1, (0, r))

    return hard - dilate(-hard).neg(), dilate(hard) - hard  # hard − erode(hard), dilate(hard) − hard


def _moments(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel weighted mean and standard deviation of ``x`` ([B, 3] each)."""
    n = w.flatten(1).sum(1).clamp_min(1.0)[:, None]
    mean = (x * w).flatten(2).sum(2) / n
    var = ((x - mean[:, :, None, None]) ** 2 * w).flatten(2).sum(2) / n
    return mean, var.clamp_min(1e-8).sqrt()


def context_stats(x: torch.Tensor, mask: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """[B, 39] (:data:`CONTEXT_FEATURES`): what the face's colour is and what its surroundings say it
    should be — the statistics a colour transfer would match, and the colour step across the seam
    (alone, matching the two thin bands removes ≈ 40 % of a multiband self-composite's colour error).

    0–26 (the 0.1 release's): per-channel mean and std inside the mask and in the ring (gate − mask),
    the means of the thin bands along the mask's edge (inside / outside, ≈ 2 % of the crop wide), and
    the log ratios mask / ring of the means and of the stds and inner / outer thin band. 27–38 (ours,
    to tell an already-matched composite from a mismatched one): the means of wide bands (≈ 6 %) and
    their log ratio, and the log ratio of the thin bands' stds (texture contrast across the seam,
    which a gain or gamma change of the face alters and a multiband blend does not hide).
    """
    mu_m, sd_m = _moments(x, mask)
    mu_r, sd_r = _moments(x, (gate - mask).clamp(0, 1))
    inner, outer = _bands(mask, 0.02)
    mu_i, sd_i = _moments(x, inner)
    mu_o, sd_o = _moments(x, outer)
    inner6, outer6 = _bands(mask, 0.06)
    mu_i6, _ = _moments(x, inner6)
    mu_o6, _ = _moments(x, outer6)

    def lr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.log(a.clamp_min(1e-3)) - torch.log(b.clamp_min(1e-3))

    return torch.cat([mu_m, sd_m, mu_r, sd_r, mu_i, mu_o, lr(mu_m, mu_r), lr(sd_m, sd_r), lr(mu_i, mu_o),
                      mu_i6, mu_o6, lr(mu_i6, mu_o6), lr(sd_i, sd_o)], 1)


def mask_gate(mask: torch.Tensor, grow: float = 0.06) -> torch.Tensor:
    """Where the generator may change pixels: the mask dilated by ``grow`` of the crop side, feathered.

    Computed on a 4× smaller grid (max-pool), dilated there with a separable max filter, softened by a
    separable box blur of the same radius and upsampled bilinearly: 1 on the mask and its near band
    (where seams live), exactly 0 beyond ≈ 2·grow of the side.
    """
    s = 4 if min(mask.shape[-2:]) >= 32 else 1
    m = F.max_pool2d((mask > 0.01).to(mask.dtype), s) if s > 1 else (mask > 0.01).to(mask.dtype)
    r = max(int(round(grow * mask.shape[-1] / s)), 1)
    k = 2 * r + 1
    m = F.max_pool2d(F.max_pool2d(m, (k, 1), 1, (r, 0)), (1, k), 1, (0, r))
    m = F.avg_pool2d(F.avg_pool2d(m, (k, 1), 1, (r, 0), count_include_pad=False), (1, k), 1, (0, r),
                     count_include_pad=False)
    if s > 1:
        m = F.interpolate(m, size=mask.shape[-2:], mode="bilinear", align_corners=False)
    return m.clamp(0, 1)


class DiscBlock(nn.Module):
    """Residual block that halves H, W: (LReLU, conv, LReLU, conv, avgpool) + (avgpool, 1×1 conv)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        return F.avg_pool2d(h, 2) + self.skip(F.avg_pool2d(x, 2))


class ResNetDiscriminator(nn.Module):
    """D(y, M): one realism logit per image for RGB [0, 1] + mask (the seed's 4th channel).

    The image is average-pooled to ``disc_input`` px first (ours: what it judges — colour, light,
    seams — is low-frequency, and at 256 px D cost more per training step than G).
    """

    def __init__(self, config: HarmonizerConfig | None = None) -> None:
        super().__init__()
        cfg = config or HarmonizerConfig()
        self.disc_input = cfg.disc_input
        w = _widths(cfg.disc_channels, cfg.disc_levels, cfg.disc_max_channels)
        self.stem = nn.Conv2d(4, w[0], 4, stride=2, padding=1)
        blocks = []
        prev = w[0]
        for ch in w:
            blocks.append(DiscBlock(prev, ch))
            prev = ch
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(prev, 1)

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        f = max(y.shape[-1] // self.disc_input, 1)  # judged at ``disc_input`` px (ours: CPU budget)
        if f > 1:
            y, mask = F.avg_pool2d(y, f), F.avg_pool2d(mask, f)
        h = self.blocks(self.stem(torch.cat([y * 2 - 1, mask], 1)))
        return self.head(F.leaky_relu(h, 0.2).mean((2, 3))).squeeze(1)
