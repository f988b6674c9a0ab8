"""AEINet: attribute encoder E, AAD generator G and multi-scale discriminator D in one module.

Weights are saved as safetensors with the :class:`AEIConfig` as JSON in the metadata
(:data:`CONFIG_METADATA_KEY`), so ``AEINet.from_pretrained(path)`` needs nothing else. Inference
files may hold only E and G (``with_discriminator=False``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from faceweave.errors import FaceweaveError
from faceweave.models.aei.config import AEIConfig
from faceweave.models.aei.networks import AADGenerator, MultilevelAttributesEncoder, MultiscaleDiscriminator

CONFIG_METADATA_KEY = "aei_config"
NETWORKS = ("E", "G", "D")


class AEINet(nn.Module):
    """AEI-Net (FaceShifter's adaptive embedding integration network) plus its discriminator."""

    def __init__(self, config: AEIConfig | None = None, with_discriminator: bool = True) -> None:
        super().__init__()
        self.config = config or AEIConfig()
        self.E = MultilevelAttributesEncoder(self.config)
        self.G = AADGenerator(self.config)
        self.D = MultiscaleDiscriminator(self.config) if with_discriminator else None

    @staticmethod
    def to_model_range(images01: torch.Tensor) -> torch.Tensor:
        return images01 * 2 - 1

    @staticmethod
    def from_model_range(images: torch.Tensor) -> torch.Tensor:
        return ((images + 1) / 2).clamp(0, 1)

    def check_images(self, x: torch.Tensor, name: str = "x") -> None:
        s = self.config.image_size
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise FaceweaveError(f"{name} must be B×3×{s}×{s}, got {tuple(x.shape)}")

    def attributes(self, x_t: torch.Tensor) -> list[torch.Tensor]:
        """z_att^1..n(X_t) (Eq. 4.2)."""
        return self.E(x_t)

    def forward(self, x_t: torch.Tensor, z_id: torch.Tensor) -> torch.Tensor:
        """Ŷ_s,t = G(z_id(X_s), z_att(X_t)), images in [-1, 1]."""
        self.check_images(x_t, "x_t")
        return self.G(z_id, self.E(x_t))

    # ------------------------------------------------------------------ weights
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {"E": list(self.E.parameters()), "G": list(self.G.parameters())}
        if self.D is not None:
            groups["D"] = list(self.D.parameters())
        return groups

    def export_state(self, with_discriminator: bool = True) -> dict[str, torch.Tensor]:
        sd = self.state_dict()
        if not with_discriminator:
            sd = {k: v for k, v in sd.items() if not k.startswith("D.")}
        return {k: v.detach().cpu().contiguous() for k, v in sd.items()}

    def load_exported_state(self, tensors: dict[str, torch.Tensor]) -> None:
        own = self.state_dict()
        want = set(own)
        if self.D is None:
            tensors = {k: v for k, v in tensors.items() if not k.startswith("D.")}
        missing = sorted(want - set(tensors))
        extra = sorted(set(tensors) - want)
        if missing or extra:
            raise FaceweaveError(
                f"AEI weights do not match the network: missing {missing[:3]}{'…' if len(missing) > 3 else ''}, "
                f"unexpected {extra[:3]}{'…' if len(extra) > 3 else ''}"
            )
        self.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})

    def metadata(self) -> dict[str, str]:
        return {CONFIG_METADATA_KEY: json.dumps(self.config.to_dict()), "format": "faceweave-aei"}

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], with_discriminator: bool = False) -> AEINet:
        """Load an AEI-Net from a safetensors file written by the trainer or the export script."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        p = Path(path)
        if not p.is_file():
            raise FaceweaveError(f"AEI weights not found: {p}")
        try:
            with safe_open(str(p), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(p))
        except Exception as e:  # noqa: BLE001 - any unreadable file is a one-line error
            raise FaceweaveError(f"cannot read AEI weights {p}: {e}") from None
        if CONFIG_METADATA_KEY not in meta:
            raise FaceweaveError(f"{p} is not an AEI-Net weight file (no {CONFIG_METADATA_KEY} metadata)")
        model = cls(AEIConfig.from_dict(json.loads(meta[CONFIG_METADATA_KEY])), with_discriminator=with_discriminator)
        model.load_exported_state(tensors)
        return model.eval()
