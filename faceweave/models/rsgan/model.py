"""RSGAN as one ``nn.Module``: separators, composer, discriminators, classifier, and inference helpers.

Image convention: every method of :class:`RSGAN` takes and returns float tensors ``[B, 3, S, S]`` in
**[-1, 1]** (the composer ends in tanh). Convert with :meth:`RSGAN.to_model_range` (from [0, 1]) and
:meth:`RSGAN.from_model_range` (to [0, 1]). Inputs must be aligned crops of the training template
(the dataset's ``x``), at ``config.image_size``.

Latent keys: ``xf`` (face appearance), ``cf`` (face attributes), ``xh`` (hair appearance),
``ch`` (hair attributes), as in the paper's z_xf, z_cf, z_xh, z_ch.

Saved form (:meth:`RSGAN.save_pretrained`): a directory with ``model.safetensors`` (the config JSON is
also stored in the safetensors metadata under ``"rsgan_config"``) and ``config.json``.
:meth:`RSGAN.from_pretrained` reads that directory, or a lone ``.safetensors`` file (such as a
training checkpoint), whose metadata carries the config.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from faceweave.atomic import atomic_write
from faceweave.errors import FaceweaveError
from faceweave.models.checkpoints import resolve_weights
from faceweave.models.layers import reparameterize
from faceweave.models.rsgan.config import RSGANConfig
from faceweave.models.rsgan.networks import (
    AttributeClassifier,
    AttributeEncoder,
    GlobalDiscriminator,
    ImageEncoder,
    LatentDecoder,
    PatchDiscriminator,
)

LATENT_KEYS = ("xf", "cf", "xh", "ch")
# Module attribute → the paper's network name (these are also the parameter groups of Algorithm A1).
NETWORKS: dict[str, str] = {
    "enc_xf": "F_E-xf",
    "enc_xh": "F_E-xh",
    "enc_cf": "F_E-cf",
    "enc_ch": "F_E-ch",
    "dec_f": "F_D-f",
    "dec_h": "F_D-h",
    "composer": "G",
    "d_global": "D_g",
    "d_patch": "D_p",
    "classifier": "C",
}
# Networks not needed to swap, reconstruct or edit: left out of inference-only exports.
TRAINING_ONLY = ("dec_f", "dec_h", "d_global", "d_patch")
CONFIG_METADATA_KEY = "rsgan_config"


@dataclass
class RSGANLatents:
    """Posterior of the four encoders: means, log-variances and one reparameterised sample each."""

    mu: dict[str, torch.Tensor]
    logvar: dict[str, torch.Tensor]
    z: dict[str, torch.Tensor]


class RSGAN(nn.Module):
    """Region-Separative GAN (Natsume et al. 2018): face/hair VAEs + composer GAN."""

    def __init__(self, config: RSGANConfig | None = None) -> None:
        super().__init__()
        cfg = (config or RSGANConfig()).validate()
        self.config = cfg
        s, a, zd = cfg.image_size, cfg.n_attr, cfg.z_dims
        self.enc_xf = ImageEncoder(s, a, zd["xf"], cfg.enc_channels, cfg.enc_max_channels, cfg.norm)
        self.enc_xh = ImageEncoder(s, a, zd["xh"], cfg.enc_channels, cfg.enc_max_channels, cfg.norm)
        self.enc_cf = AttributeEncoder(a, cfg.z_attr_face, cfg.attr_hidden)
        self.enc_ch = AttributeEncoder(a, cfg.z_attr_hair, cfg.attr_hidden)
        self.dec_f = LatentDecoder(s, zd["xf"] + zd["cf"], cfg.dec_channels, cfg.dec_max_channels, cfg.norm)
        self.dec_h = LatentDecoder(s, zd["xh"] + zd["ch"], cfg.dec_channels, cfg.dec_max_channels, cfg.norm)
        self.composer = LatentDecoder(s, sum(zd.values()), cfg.gen_channels, cfg.gen_max_channels, cfg.norm)
        self.d_global = GlobalDiscriminator(s, cfg.disc_channels, cfg.disc_max_channels, cfg.disc_norm)
        self.d_patch = PatchDiscriminator(cfg.patch_levels, cfg.disc_channels, cfg.disc_max_channels, cfg.disc_norm)
        self.classifier = AttributeClassifier(s, a, cfg.disc_channels, cfg.disc_max_channels, cfg.disc_norm)

    # ------------------------------------------------------------------ conventions
    @staticmethod
    def to_model_range(images01: torch.Tensor) -> torch.Tensor:
        """[0, 1] → [-1, 1]."""
        return images01 * 2.0 - 1.0

    @staticmethod
    def from_model_range(images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] → [0, 1] (clamped)."""
        return ((images + 1.0) * 0.5).clamp(0.0, 1.0)

    def _check_images(self, x: torch.Tensor, name: str = "x") -> None:
        s = self.config.image_size
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise FaceweaveError(f"RSGAN expects {name} as [B, 3, {s}, {s}] in [-1, 1], got {tuple(x.shape)}")

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per network (keys of :data:`NETWORKS`); empty lists for parameter-free networks."""
        return {name: list(getattr(self, name).parameters()) for name in NETWORKS}

    # ------------------------------------------------------------------ the paper's operations
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """c* = C(x): attribute probabilities in [0, 1], shape [B, n_attr] (``[B, 0]`` without attributes)."""
        return torch.sigmoid(self.classifier(x))

    def encode(
        self, x: torch.Tensor, c: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> RSGANLatents:
        """The four posteriors of ``x``; ``c`` defaults to the classifier's c* (as the paper does at test time)."""
        if c is None:
            c = self.classify(x)
        mu: dict[str, torch.Tensor] = {}
        logvar: dict[str, torch.Tensor] = {}
        lim = self.config.logvar_clamp
        for key, net, arg in (
            ("xf", self.enc_xf, (x, c)),
            ("xh", self.enc_xh, (x, c)),
            ("cf", self.enc_cf, (c,)),
            ("ch", self.enc_ch, (c,)),
        ):
            m, lv = net(*arg)
            mu[key], logvar[key] = m, lv.clamp(-lim, lim)
        z = {k: reparameterize(mu[k], logvar[k], generator) for k in LATENT_KEYS}
        return RSGANLatents(mu=mu, logvar=logvar, z=z)

    def compose(self, z_xf: torch.Tensor, z_cf: torch.Tensor, z_xh: torch.Tensor, z_ch: torch.Tensor) -> torch.Tensor:
        """x' = G(z_xf, z_cf, z_xh, z_ch), in [-1, 1]."""
        return self.composer(z_xf, z_cf, z_xh, z_ch)

    def decode_parts(self, latents: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(x'_f, x'_h) = (F_D-f(z_xf, z_cf), F_D-h(z_xh, z_ch))."""
        return self.dec_f(latents["xf"], latents["cf"]), self.dec_h(latents["xh"], latents["ch"])

    def sample_prior(
        self, n: int, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """ẑ ~ N(0, I) for the four latents (random face / hair parts)."""
        dev = torch.device(device) if device is not None else next(self.parameters()).device
        return {k: torch.randn(n, d, generator=generator, device=dev) for k, d in self.config.z_dims.items()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x' = G(μ_xf, μ_cf, μ_xh, μ_ch) of ``x`` with c = c* (posterior means, deterministic)."""
        self._check_images(x)
        m = self.encode(x).mu
        return self.compose(m["xf"], m["cf"], m["xh"], m["ch"])

    @torch.no_grad()
    def swap(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Face of ``x1`` on the hair/background of ``x2``: G(z_1,xf, z_1,cf, z_2,xh, z_2,ch) (section 3.3).

        Attributes are the classifier's c*_1 and c*_2, not labels. Posterior means are used.
        """
        self._check_images(x1, "x1")
        self._check_images(x2, "x2")
        if x1.shape[0] != x2.shape[0]:
            raise FaceweaveError(f"swap needs equal batch sizes, got {x1.shape[0]} and {x2.shape[0]}")
        m1 = self.encode(x1).mu
        m2 = self.encode(x2).mu
        return self.compose(m1["xf"], m1["cf"], m2["xh"], m2["ch"])

    # ------------------------------------------------------------------ persistence
    def save_pretrained(
        self, path: str | os.PathLike[str], dtype: torch.dtype | None = None, inference_only: bool = False
    ) -> Path:
        """Write ``path/model.safetensors`` and ``path/config.json`` (atomically, file by file).

        ``dtype=torch.float16`` halves the size; ``inference_only`` drops F_D-f, F_D-h, D_g and D_p.
        """
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        cfg_json = json.dumps(self.config.to_dict(), indent=2)
        tensors = self.export_state(dtype=dtype, inference_only=inference_only)
        meta = {CONFIG_METADATA_KEY: cfg_json, "inference_only": str(inference_only).lower()}
        atomic_write(out / "model.safetensors", lambda p: save_file(tensors, str(p), metadata=meta), fsync=True)
        atomic_write(out / "config.json", lambda p: Path(p).write_text(cfg_json + "\n", encoding="utf-8"), fsync=True)
        return out

    def export_state(self, dtype: torch.dtype | None = None, inference_only: bool = False) -> dict[str, torch.Tensor]:
        """A safetensors-ready state dict (contiguous CPU tensors; floats cast to ``dtype`` if given)."""
        state = {}
        for key, t in self.state_dict().items():
            if inference_only and key.split(".", 1)[0] in TRAINING_ONLY:
                continue
            t = t.detach().cpu()
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            state[key] = t.contiguous()
        return state

    def load_exported_state(self, tensors: dict[str, torch.Tensor], inference_only: bool = False) -> None:
        """Load :meth:`export_state` output (cast back to this model's dtypes); strict about keys."""
        own = self.state_dict()
        missing = [k for k in own if k not in tensors and not (inference_only and k.split(".", 1)[0] in TRAINING_ONLY)]
        unexpected = [k for k in tensors if k not in own]
        if missing or unexpected:
            raise FaceweaveError(
                f"RSGAN weights do not match the config ({len(missing)} missing, {len(unexpected)} unexpected keys, "
                f"e.g. {(missing + unexpected)[0]})"
            )
        with torch.no_grad():
            for k, t in tensors.items():
                if own[k].shape != t.shape:
                    raise FaceweaveError(f"RSGAN weight {k} has shape {tuple(t.shape)}, expected {tuple(own[k].shape)}")
                own[k].copy_(t.to(own[k].dtype))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> RSGAN:
        """Load a :meth:`save_pretrained` directory, a ``.safetensors`` file with the config in its metadata, or
        a training run folder (its latest checkpoint, :func:`faceweave.models.checkpoints.resolve_weights`)."""
        p = resolve_weights(path)
        file = p / "model.safetensors" if p.is_dir() else p
        if not file.is_file():
            raise FaceweaveError(f"no RSGAN weights at {p}")
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(file), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            for k in f.keys():  # noqa: SIM118 - safe_open is not a dict
                tensors[k] = f.get_tensor(k)
        cfg_text = meta.get(CONFIG_METADATA_KEY)
        if cfg_text is None and (file.parent / "config.json").is_file():
            cfg_text = (file.parent / "config.json").read_text(encoding="utf-8")
        if cfg_text is None:
            raise FaceweaveError(f"{file} carries no RSGAN config (no metadata, no config.json beside it)")
        model = cls(RSGANConfig.from_dict(json.loads(cfg_text)))
        model.load_exported_state(tensors, inference_only=meta.get("inference_only") == "true")
        return model.to(map_location).eval()


