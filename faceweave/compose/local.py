"""The engine-agnostic end of a geometric face swap, on the face's neighbourhood only.

Every landmark-warping engine (``warp``, ``delaunay``) crops the target to a box around the face,
warps the source into that box and builds a blend mask; the rest is the same for all of them and
lives here: colour transfer on skin, blending, pasting the box back into a copy of the photo, and
the per-stage timings the benchmarks and ``faceweave eval`` report.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from faceweave.compose.blend import blend
from faceweave.compose.colour import transfer_colour


def finish_local_swap(
    target: np.ndarray,
    box: tuple[int, int, int, int],
    warped: np.ndarray,
    mask: np.ndarray,
    skin: Callable[[], np.ndarray],
    *,
    colour_transfer: bool,
    mode: str,
    started: float,
    lightness_contrast: float = 1.0,
) -> tuple[np.ndarray, dict[str, float]]:
    """Colour-match ``warped`` on ``skin()`` (if asked), blend it into ``target``'s ``box`` inside ``mask``.

    ``box`` is (x0, y0, x1, y1); ``warped``, ``mask`` and ``skin()`` are in the box's frame. ``started``
    is the ``time.perf_counter()`` at which the engine began; the time until now is its "warp" stage.
    ``lightness_contrast`` is passed to :func:`transfer_colour` (below 1 keeps some of the source's
    shading). Returns the new photo (a copy) and the seconds of the warp, colour and blend stages.
    """
    x0, y0, x1, y1 = box
    sub = target[y0:y1, x0:x1]
    t1 = time.perf_counter()
    if colour_transfer:
        s = skin()
        warped = transfer_colour(warped, s, sub, s, lightness_contrast=lightness_contrast)
    t2 = time.perf_counter()
    out = target.copy()
    out[y0:y1, x0:x1] = blend(sub, warped, mask, mode)
    t3 = time.perf_counter()
    return out, {"warp": t1 - started, "colour": t2 - t1, "blend": t3 - t2}
