"""The RSGAN of a checkpoint, found through the model registry and cached (one model at a time).

The default weights are the registry's ``rsgan-demo`` card (``$FACEWEAVE_RSGAN_CHECKPOINT``, the
card's override, points at your own); ``checkpoint`` may be a ``save_pretrained`` folder, a lone
``.safetensors`` file or a training run folder, which the model's own loader resolves
(:meth:`faceweave.models.rsgan.RSGAN.from_pretrained`).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from faceweave import registry
from faceweave.errors import FaceweaveError, ParameterError
from faceweave.models.checkpoints import resolve_weights
from faceweave.models.rsgan import RSGAN

log = logging.getLogger(__name__)

WEIGHTS_CARD = "rsgan-demo"
CHECKPOINT_ENV = registry.get(WEIGHTS_CARD).env


def default_checkpoint() -> Path:
    """The registry's demo weights (or ``$FACEWEAVE_RSGAN_CHECKPOINT`` when set); a clear error if missing."""
    card = registry.get(WEIGHTS_CARD)
    path = card.locate()
    if not path.exists():
        env = os.environ.get(card.env) if card.env else None
        where = f"${card.env}={env}" if env else str(path)
        raise FaceweaveError(
            f"no RSGAN weights at {where}; train some with `faceweave train rsgan` and pass --checkpoint PATH"
        )
    return path


_MODELS: dict[tuple[str, float], RSGAN] = {}


_LOCK = threading.Lock()


def load_model(checkpoint: str | os.PathLike[str] | None = None) -> RSGAN:
    """The RSGAN of ``checkpoint`` (default :func:`default_checkpoint`), in eval mode, cached per file and mtime.

    ``checkpoint`` may be a ``save_pretrained`` folder, a lone ``.safetensors`` file, or a training
    run folder (its ``checkpoints/latest`` is used).
    """
    path = resolve_weights(checkpoint if checkpoint is not None else default_checkpoint())
    if not path.exists():
        raise ParameterError("checkpoint", path, "no such file or folder")
    key = (str(path.resolve()), path.stat().st_mtime)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = RSGAN.from_pretrained(path).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _MODELS.clear()  # one model at a time: a new checkpoint replaces the old one
            _MODELS[key] = model
            log.info("loaded RSGAN %s (%d px, attributes %s)", path, model.config.image_size,
                     model.config.attribute_names)
    return model
