"""A small cache of analysed photos, keyed by their pixels: the same source photo swapped onto many
targets (a batch, the web UI, a notebook loop) is detected, landmarked and meshed once.

The key is a BLAKE2b digest of the pixels (≈1 ms for a 1 MP photo, against ≈20 ms of analysis) plus
the shape and the analysis options, so an edited copy of a photo is never served stale results.
Callers get deep copies: an engine or caller that changes a returned :class:`Face` (its masks, say)
cannot change what the next call sees.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict

import numpy as np

from faceweave.analysis import analyze
from faceweave.analysis.face import Face

# Photos kept (least recently used dropped first); an entry is a few hundred kB of landmarks and meshes.
CACHE_SIZE = 8

_LOCK = threading.Lock()
_ENTRIES: OrderedDict[tuple[object, ...], list[Face]] = OrderedDict()


def photo_key(rgb: np.ndarray, **options: object) -> tuple[object, ...]:
    """The cache key of ``rgb`` analysed with ``options``: pixel digest, shape, dtype, options."""
    digest = hashlib.blake2b(np.ascontiguousarray(rgb).data, digest_size=16).hexdigest()
    return (digest, rgb.shape, str(rgb.dtype), tuple(sorted(options.items())))


def analyze_cached(rgb: np.ndarray, *, mesh: bool = True, identity: bool = True) -> list[Face]:
    """:func:`faceweave.analysis.analyze` with the last :data:`CACHE_SIZE` photos remembered."""
    key = photo_key(rgb, mesh=mesh, identity=identity)
    with _LOCK:
        hit = _ENTRIES.get(key)
        if hit is not None:
            _ENTRIES.move_to_end(key)
            return copy.deepcopy(hit)
    faces = analyze(rgb, mesh=mesh, identity=identity)
    with _LOCK:
        _ENTRIES[key] = copy.deepcopy(faces)
        while len(_ENTRIES) > CACHE_SIZE:
            _ENTRIES.popitem(last=False)
    return faces


def clear() -> None:
    """Forget every cached photo."""
    with _LOCK:
        _ENTRIES.clear()
