"""What the warp engine reads from the target photo besides its mesh: what covers the face (found on a
worker thread while the engine warps) and whether the photo is black-and-white."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from faceweave.analysis.face import Face
from faceweave.engines.base import SwapOptions
from faceweave.errors import FaceweaveError

T = TypeVar("T")


def is_grayscale(rgb: np.ndarray, tolerance: int = 3) -> bool:
    """Whether an RGB image is black-and-white (its channels differ by at most ``tolerance``)."""
    a = rgb[::4, ::4].astype(np.int16)
    return bool(np.abs(a[..., 0] - a[..., 1]).max() <= tolerance and np.abs(a[..., 1] - a[..., 2]).max() <= tolerance)


def target_occlusion(target: np.ndarray, face: Face, options: SwapOptions) -> np.ndarray | None:
    """What covers the target face (H×W float mask), kept from the target; None when nothing is.

    ``face.masks["occlusion"]`` is used as given when a caller set it (the video path smooths it
    over time); otherwise it is computed here unless ``options.extra["occlusion"]`` is False.
    """
    given = face.masks.get("occlusion")
    if given is not None:
        if given.shape != target.shape[:2]:
            raise FaceweaveError(f"face.masks['occlusion'] is {given.shape}, not the target's {target.shape[:2]}")
        return given.astype(np.float32)
    if not options.extra.get("occlusion", True):
        return None
    from faceweave.analysis.occlusion import occlusion_mask

    m = occlusion_mask(target, face)
    return m if m.any() else None


_POOL: list[ThreadPoolExecutor] = []


def in_background(fn: Callable[..., T], *args: object) -> Future[T]:
    """``fn(*args)`` on the engine's one worker thread (created on first use)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceweave-occlusion"))
    return _POOL[0].submit(fn, *args)
