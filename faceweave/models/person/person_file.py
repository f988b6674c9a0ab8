"""One trained person = one ``.safetensors`` file: the transformation net's weights plus, in its
metadata, the network config and the model card (which frames, how long, losses)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from faceweave.atomic import atomic_write
from faceweave.errors import FaceweaveError
from faceweave.models.person.network import TransformationConfig, TransformationNet

CONFIG_KEY = "faceweave.person.config"
CARD_KEY = "faceweave.person.card"


def save_person(path: str | os.PathLike[str], net: TransformationNet, card: dict[str, Any]) -> Path:
    """Write the person file atomically."""
    p = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {CONFIG_KEY: json.dumps(net.config.to_dict()), CARD_KEY: json.dumps(card, sort_keys=True)}
    atomic_write(p, lambda tmp: save_file(tensors, tmp, metadata=meta))
    return p


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model card stored in a person file."""
    return _read(Path(path))[1]


def _read(p: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except (OSError, ValueError, RuntimeError) as e:
        raise FaceweaveError(f"--person {p}: not a readable person file ({e})") from None
    if CONFIG_KEY not in meta:
        raise FaceweaveError(f"--person {p}: not a faceweave person file (no {CONFIG_KEY} metadata)")
    return tensors, json.loads(meta.get(CARD_KEY, "{}")), json.loads(meta[CONFIG_KEY])


def load_person(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[TransformationNet, dict[str, Any]]:
    """(frozen net in eval mode, card)."""
    p = Path(path)
    if not p.is_file():
        raise FaceweaveError(f"--person {p}: no such file")
    tensors, card, config = _read(p)
    net = TransformationNet(TransformationConfig.from_dict(config))
    try:
        net.load_state_dict(tensors)
    except RuntimeError as e:
        raise FaceweaveError(f"--person {p}: weights do not fit the network ({str(e).splitlines()[0]})") from None
    net.to(device).eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net, card
