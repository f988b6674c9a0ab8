"""The warp engine's source face, resampled once per source and scale and reused by every frame.

The warp samples the source photo's face region. When the target face is much smaller, the region
is shrunk first (area filter: bilinear sampling of a big face onto a small one aliases skin texture
into speckle); when it is much larger, the region is enlarged with bicubic interpolation (sharper
than bilinear). Done inside the per-pixel warp, the bicubic resampling of a large target cost more
than the rest of the warp (≈ 13 ms of a 635×521 face box at 720p); done here, once for a clip, the
per-frame warp is bilinear on a patch already ``OVERSAMPLE`` × finer than the target needs, which
keeps the bicubic detail.

Scales are quantised to ``STEPS`` per octave (≈ 9 %), so a face that grows or shrinks slowly in a
clip reuses the same patch for many frames; the patch is keyed by the source's pixels and mesh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

STEPS = 8  # quantised scales per octave
SHRINK_BELOW = 0.8  # target/source face size under which the source is pre-shrunk (area filter)
ENLARGE_ABOVE = 1.2  # … over which it is pre-enlarged (bicubic)
OVERSAMPLE = 1.5  # an enlarged patch is this much finer than the target needs (bilinear then keeps detail)
MARGIN = 0.12  # the source region: the mesh's box grown by this share (as the warp engine's face_region)


def _size(mesh: np.ndarray) -> float:
    return float(np.max(mesh[:, :2].max(0) - mesh[:, :2].min(0)))


def _region(mesh: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    pad = (hi - lo) * MARGIN + 4
    x0, y0 = np.maximum(np.floor(lo - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(hi + pad).astype(int), [shape[1], shape[0]])
    return int(x0), int(y0), int(x1), int(y1)


@dataclass
class SourcePatches:
    """A small cache of resampled source regions: ``get`` → (patch, source mesh in it, interpolation)."""

    capacity: int = 8
    _cache: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, source: np.ndarray, src_mesh: np.ndarray, dst_size: float) -> tuple[np.ndarray, np.ndarray, int]:
        """The source region at the scale a target face of ``dst_size`` pixels needs, and how to sample it."""
        scale = dst_size / max(_size(src_mesh), 1.0)
        if SHRINK_BELOW <= scale <= ENLARGE_ABOVE:
            step = 0
        else:
            step = int(round(np.log2(scale * (OVERSAMPLE if scale > ENLARGE_ABOVE else 1.0)) * STEPS))
        key = (source.__array_interface__["data"][0], source.shape, source[::17, ::13].tobytes(),
               src_mesh.tobytes(), step)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self._make(source, src_mesh, 2.0 ** (step / STEPS))
            with self._lock:
                if len(self._cache) >= self.capacity:
                    self._cache.clear()
                self._cache[key] = hit
        return hit[0], hit[1], cv2.INTER_LINEAR

    @staticmethod
    def _make(source: np.ndarray, src_mesh: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, x1, y1 = _region(src_mesh, source.shape)
        patch = source[y0:y1, x0:x1]
        m = src_mesh[:, :2] - np.array([x0, y0], np.float32)
        if k != 1.0:
            w, h = max(int(round(patch.shape[1] * k)), 2), max(int(round(patch.shape[0] * k)), 2)
            sx, sy = w / patch.shape[1], h / patch.shape[0]
            patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
            m = m * np.array([sx, sy], np.float32)
        patch.setflags(write=False)
        return patch, m.astype(np.float32)
