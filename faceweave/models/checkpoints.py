"""Where the weights of a training run are: the file names of a checkpoint folder, for the loaders.

A checkpoint of step N in a folder is ``step_{N:08d}.safetensors`` (weights), ``step_{N:08d}.pt``
(trainer state) and ``latest`` (a text file naming the newest complete one); a training run keeps
them in ``RUN/checkpoints``. The trainer writes them (:mod:`faceweave.train.checkpoint`); the
models' loaders read them from here, so inference never imports training code.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

LATEST = "latest"
_STEM = re.compile(r"^step_(\d{8,})$")


def checkpoint_stem(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[int]:
    """Steps of the complete checkpoints (both files present) in ``directory``, ascending."""
    d = Path(directory)
    steps = []
    for f in d.glob("step_*.pt") if d.is_dir() else []:
        m = _STEM.match(f.stem)
        if m and (d / f"{f.stem}.safetensors").is_file():
            steps.append(int(m.group(1)))
    return sorted(steps)


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """Path of the ``.safetensors`` file named by ``latest`` (or the newest complete one), or None."""
    d = Path(directory)
    pointer = d / LATEST
    if pointer.is_file():
        stem = pointer.read_text(encoding="utf-8").strip()
        if (d / f"{stem}.safetensors").is_file() and (d / f"{stem}.pt").is_file():
            return d / f"{stem}.safetensors"
        log.warning("checkpoint pointer %s names a missing checkpoint %r; using the newest complete one", pointer, stem)
    steps = list_checkpoints(d)
    return d / f"{checkpoint_stem(steps[-1])}.safetensors" if steps else None


def resolve_weights(path: str | os.PathLike[str]) -> Path:
    """A training run folder (or its ``checkpoints`` folder) → its latest weights; anything else unchanged."""
    p = Path(path)
    if not p.is_dir() or (p / "model.safetensors").exists():
        return p
    for d in (p / "checkpoints", p):
        found = latest_checkpoint(d) if d.is_dir() else None
        if found is not None:
            return found
    return p
