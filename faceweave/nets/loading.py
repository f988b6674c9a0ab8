"""Load the frozen networks from the safetensors files shipped in faceweave/weights (no download, ever)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from faceweave import registry
from faceweave.errors import FaceweaveError


@dataclass(frozen=True)
class NetSpec:
    """Which registry card holds a network's weights and how to build its module."""

    card: str  # name in faceweave.registry
    build: Callable[[], nn.Module]


def _identity512() -> nn.Module:
    from faceweave.nets.mobilefacenet import IDENTITY_512, MobileFaceNet

    return MobileFaceNet(IDENTITY_512)


def _mobilefacenet192() -> nn.Module:
    from faceweave.nets.mobilefacenet import MOBILEFACENET_192, MobileFaceNet

    return MobileFaceNet(MOBILEFACENET_192)


def _pose() -> nn.Module:
    from faceweave.nets.pose import HopenetShuffleNet

    return HopenetShuffleNet()


def _expression() -> nn.Module:
    from faceweave.nets.densenet import DenseNet121

    return DenseNet121()


NETS: dict[str, NetSpec] = {
    "identity512": NetSpec("faceplugin-identity-512", _identity512),
    "mobilefacenet192": NetSpec("mobilefacenet-192", _mobilefacenet192),
    "pose": NetSpec("faceplugin-hopenet-pose", _pose),
    "expression": NetSpec("faceplugin-densenet121-expression", _expression),
}


def build(name: str) -> nn.Module:
    """The network's module with random weights (the converter fills it)."""
    if name not in NETS:
        raise FaceweaveError(f"net: unknown network '{name}'; expected one of {sorted(NETS)}")
    return NETS[name].build()


def decode_fp24(packed: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3) → float32: the top three bytes of each fp32 (sign, exponent, 15 mantissa bits)."""
    b = packed.long()
    bits = (b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)) << 8
    bits = torch.where(bits >= 2**31, bits - 2**32, bits)
    return bits.to(torch.int32).view(torch.float32)


def encode_fp24(t: torch.Tensor) -> torch.Tensor:
    """float32 → uint8 (..., 3), rounding the dropped low byte to nearest even (inverse of decode_fp24)."""
    b = t.detach().float().contiguous().view(torch.int32).long() & 0xFFFFFFFF
    b = (b + 0x7F + ((b >> 8) & 1)) >> 8
    return torch.stack([b & 0xFF, (b >> 8) & 0xFF, (b >> 16) & 0xFF], -1).to(torch.uint8)


def load_state(module: nn.Module, path: str) -> nn.Module:
    """Fill ``module`` from a safetensors file; fp16 and packed-fp24 (uint8) tensors become fp32."""
    from safetensors.torch import load_file

    state = {k: decode_fp24(v) if v.dtype == torch.uint8 else v.float() for k, v in load_file(path).items()}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise FaceweaveError(
            f"weights {path} do not fit the network: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return module


@cache
def _load_cpu(name: str) -> nn.Module:
    module = build(name)
    load_state(module, str(registry.get(NETS[name].card).require()))
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


_ON_DEVICE: dict[tuple[str, str], nn.Module] = {}


def load(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """A frozen (eval mode, no parameter gradients) network by name; cached per device.

    Names: ``identity512``, ``mobilefacenet192``, ``pose``, ``expression``. Gradients still flow to
    the *input*, so the modules serve as loss networks.
    """
    dev = torch.device(device)
    if dev.type == "cpu":
        return _load_cpu(name)
    key = (name, str(dev))
    if key not in _ON_DEVICE:
        import copy

        _ON_DEVICE[key] = copy.deepcopy(_load_cpu(name)).to(dev)
    return _ON_DEVICE[key]
