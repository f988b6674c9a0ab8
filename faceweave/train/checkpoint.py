"""Atomic, resumable training checkpoints.

A checkpoint of step N in ``DIR`` is two files and a pointer:

* ``step_{N:08d}.safetensors`` — the weights (loadable on their own; metadata may carry a model config),
* ``step_{N:08d}.pt`` — trainer state: optimiser(s), grad scaler, RNG states (python, numpy, torch,
  CUDA), step, anything else the trainer adds. Plain tensors / containers: loads with ``weights_only``,
* ``latest`` — a text file naming the newest complete checkpoint's stem.

Every file is written to a temporary name in the same directory, flushed, fsync'ed and moved into
place with :func:`os.replace`; ``latest`` is replaced last, so a crash (even SIGKILL) at any moment
leaves ``latest`` pointing at a complete checkpoint.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from faceweave.atomic import atomic_write as _atomic_write
from faceweave.errors import FaceweaveError
from faceweave.models.checkpoints import LATEST, checkpoint_stem, latest_checkpoint, list_checkpoints

# The file names of a checkpoint folder are shared with the inference loaders (faceweave.models.checkpoints).
__all__ = ["LATEST", "Checkpoint", "atomic_write", "capture_rng_state", "checkpoint_stem", "latest_checkpoint",
           "list_checkpoints", "load_checkpoint", "restore_rng_state", "save_checkpoint"]

log = logging.getLogger(__name__)


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, fsync the file, then ``os.replace`` it onto ``target``."""
    _atomic_write(target, write, fsync=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- RNG state
def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and (if present) all CUDA generator states, as weights_only-safe values."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_to_tuple(v) for v in value)
    return value


# ---------------------------------------------------------------------- save / load
@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    step: int
    tensors: dict[str, torch.Tensor]
    trainer_state: dict[str, Any]
    weights_path: Path


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    tensors: dict[str, torch.Tensor],
    trainer_state: dict[str, Any],
    metadata: dict[str, str] | None = None,
    keep: int = 3,
) -> Path:
    """Write checkpoint ``step`` atomically, point ``latest`` at it, keep the newest ``keep`` (0 = all)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem = checkpoint_stem(step)
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(d / f"{stem}.safetensors", lambda p: save_file(cpu, p, metadata=metadata or {}))
    state = dict(trainer_state, step=step)
    atomic_write(d / f"{stem}.pt", lambda p: torch.save(state, p))
    atomic_write(d / LATEST, lambda p: Path(p).write_text(stem + "\n", encoding="utf-8"))
    _fsync_dir(d)
    if keep > 0:
        for old in list_checkpoints(d)[:-keep]:
            for suffix in (".safetensors", ".pt"):
                (d / f"{checkpoint_stem(old)}{suffix}").unlink(missing_ok=True)
    return d / f"{stem}.safetensors"


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint given its ``.safetensors`` path or its directory (then ``latest``)."""
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise FaceweaveError(f"no checkpoint in {p}")
        p = found
    pt = p.with_suffix(".pt")
    if not p.is_file() or not pt.is_file():
        raise FaceweaveError(f"incomplete checkpoint {p} (needs {p.name} and {pt.name})")
    tensors = load_file(str(p), device=str(map_location))
    state = torch.load(pt, map_location=map_location, weights_only=True)
    return Checkpoint(step=int(state["step"]), tensors=tensors, trainer_state=state, weights_path=p)
