"""Atomic, resumable training checkpoints.

A checkpoint of step N in ``DIR`` is three files and a pointer:

* ``step_{N:08d}.safetensors`` — the weights (loadable on their own; metadata may carry a model config),
* ``step_{N:08d}.pt`` — trainer state: optimiser(s), grad scaler, sampler, RNG states (python, numpy,
  torch, CUDA), step, anything else the trainer adds. Plain tensors / containers: loads with ``weights_only``,
* ``step_{N:08d}.sha256`` — the sha256 of the two files, in ``sha256sum`` format (``sha256sum -c`` checks it),
* ``latest`` — a text file naming the newest complete checkpoint's stem.

Every file is written to a temporary name in the same directory, fsync'ed and moved into place with
:func:`os.replace`, and the directory is fsync'ed; ``latest`` is replaced last, so a crash (even
SIGKILL) at any moment leaves ``latest`` pointing at a complete checkpoint. A failed write (ENOSPC, a
read-only folder) removes what it wrote of the new step and raises one clear :class:`FaceweaveError`;
the previous checkpoints are untouched. The newest ``keep`` (default 2) are kept.

Loading a folder verifies the sidecar; a corrupt or truncated checkpoint is reported in one log
line and the previous one is loaded instead (:func:`load_checkpoint`).
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from faceweave.atomic import atomic_write as _atomic_write
from faceweave.atomic import sha256_file
from faceweave.errors import FaceweaveError
from faceweave.models.checkpoints import LATEST, checkpoint_stem, latest_checkpoint, list_checkpoints

# The file names of a checkpoint folder are shared with the inference loaders (faceweave.models.checkpoints).
__all__ = ["LATEST", "Checkpoint", "atomic_write", "capture_rng_state", "checkpoint_stem", "latest_checkpoint",
           "list_checkpoints", "load_checkpoint", "restore_rng_state", "save_checkpoint", "verify_checkpoint"]

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
SIDECAR = ".sha256"
_PARTS = (".safetensors", ".pt", SIDECAR)


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    step: int
    tensors: dict[str, torch.Tensor]
    trainer_state: dict[str, Any]
    weights_path: Path


def _remove_stale_temporaries(d: Path) -> None:
    """Temporary files of a save that was SIGKILLed mid-write (only rank 0 writes here, one save at a time)."""
    for pattern in (".step_*.part", f".{LATEST}.*.part"):
        for f in d.glob(pattern):
            f.unlink(missing_ok=True)


def _remove_step(d: Path, step: int) -> None:
    for suffix in _PARTS:
        (d / f"{checkpoint_stem(step)}{suffix}").unlink(missing_ok=True)


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    tensors: dict[str, torch.Tensor],
    trainer_state: dict[str, Any],
    metadata: dict[str, str] | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` atomically, point ``latest`` at it, keep the newest ``keep`` (0 = all).

    Raises :class:`FaceweaveError` (one line: the folder, the step, the OS error) when it cannot be
    written; nothing of the new step is left behind and the older checkpoints are intact.
    """
    d = Path(directory)
    stem = checkpoint_stem(step)
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    state = dict(trainer_state, step=step)
    digests: dict[str, str] = {}

    def hashed(name: str, write: Callable[[str], None]) -> Callable[[str], None]:
        def run(tmp: str) -> None:
            write(tmp)
            digests[name] = sha256_file(tmp)

        return run

    weights, trainer = f"{stem}.safetensors", f"{stem}.pt"
    placed: list[str] = []
    try:
        d.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(d)
        atomic_write(d / weights, hashed(weights, lambda p: save_file(cpu, p, metadata=metadata or {})))
        placed.append(weights)
        atomic_write(d / trainer, hashed(trainer, lambda p: torch.save(state, p)))
        placed.append(trainer)
        text = "".join(f"{digests[n]}  {n}\n" for n in (weights, trainer))
        atomic_write(d / f"{stem}{SIDECAR}", lambda p: Path(p).write_text(text, encoding="utf-8"))
        _fsync_dir(d)  # the step's files are durable before the pointer names them
        atomic_write(d / LATEST, lambda p: Path(p).write_text(stem + "\n", encoding="utf-8"))
        _fsync_dir(d)
    except OSError as e:
        if placed:  # half a new step: remove it (the temporary files are gone already)
            _remove_step(d, step)
        prev = latest_checkpoint(d) if d.is_dir() else None
        kept = f"; the previous checkpoint {prev.stem} is intact" if prev is not None else ""
        raise FaceweaveError(
            f"cannot write checkpoint {stem} to {d}: {e.strerror or e}{kept}"
        ) from None
    steps = list_checkpoints(d)
    stale = [s for s in steps if s > step]  # a resumed run's dead future (e.g. the corrupt one it fell back from)
    older = [s for s in steps if s <= step]
    for old in stale + (older[:-keep] if keep > 0 else []):
        _remove_step(d, old)
    return d / weights


def verify_checkpoint(weights_path: str | os.PathLike[str]) -> str | None:
    """Why the checkpoint is unusable (missing file, sha256 mismatch), or None when it checks out.

    A checkpoint without a sidecar (written before sidecars existed) is not checked here.
    """
    p = Path(weights_path)
    pt, side = p.with_suffix(".pt"), p.with_suffix(SIDECAR)
    for f in (p, pt):
        if not f.is_file():
            return f"{f.name} is missing"
    if not side.is_file():
        return None
    try:
        expected = dict(reversed(ln.split(None, 1)) for ln in side.read_text(encoding="utf-8").splitlines() if ln)
    except (OSError, UnicodeDecodeError, ValueError):
        return f"{side.name} is unreadable"
    for f in (p, pt):
        want = expected.get(f.name.strip())
        if want is None or sha256_file(f) != want:
            return f"{f.name} does not match its sha256 in {side.name} (corrupt or truncated)"
    return None


def _load_one(p: Path, map_location: str | torch.device) -> Checkpoint:
    problem = verify_checkpoint(p)
    if problem is not None:
        raise FaceweaveError(problem)
    try:
        tensors = load_file(str(p), device=str(map_location))
        state = torch.load(p.with_suffix(".pt"), map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - safetensors / pickle raise many kinds on a damaged file
        raise FaceweaveError(f"cannot read {p.stem} ({type(e).__name__}: {str(e)[:120]})") from None
    return Checkpoint(step=int(state["step"]), tensors=tensors, trainer_state=state, weights_path=p)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu", fallback: bool = True
) -> Checkpoint:
    """Load a checkpoint given its ``.safetensors`` path or its directory (then ``latest``).

    The checkpoint is verified against its sha256 sidecar. With ``fallback``, a corrupt, truncated or
    incomplete one is reported in one warning line and the newest older checkpoint of the same
    folder that checks out is loaded instead; :class:`FaceweaveError` if none does.
    """
    p = Path(path)
    if p.is_dir():
        found = latest_checkpoint(p)
        if found is None:
            raise FaceweaveError(f"no checkpoint in {p}")
        p = found
    if p.suffix != ".safetensors" or not p.is_file():
        raise FaceweaveError(f"incomplete checkpoint {p} (needs {p.with_suffix('.safetensors').name} and "
                             f"{p.with_suffix('.pt').name})")
    try:
        return _load_one(p, map_location)
    except FaceweaveError as e:
        m = re.match(r"^step_(\d+)$", p.stem)
        older = [s for s in list_checkpoints(p.parent) if m and s < int(m.group(1))] if fallback else []
        if not older:
            raise FaceweaveError(f"checkpoint {p}: {e}") from None
        prev = p.parent / f"{checkpoint_stem(older[-1])}.safetensors"
        log.warning("checkpoint %s is unusable (%s); falling back to %s", p.name, e, prev.name)
        return load_checkpoint(prev, map_location, fallback)
