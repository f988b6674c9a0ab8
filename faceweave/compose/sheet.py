"""Contact sheets: equal tiles in a grid on a plain background, optionally under a row of column labels.

The one sheet maker of the package: RSGAN's sample and interpolation sheets and the dataset
preview (RSGAN Fig. 3) are laid out by :func:`make_sheet`.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from faceweave.errors import FaceweaveError

LABEL_HEIGHT = 22  # the band of column labels above the first row, when there are labels


def sheet_shape(n: int, tile: int | tuple[int, int], columns: int, pad: int = 4, top: int | None = None
                ) -> tuple[int, int]:
    """(height, width) of a sheet of ``n`` tiles (``tile`` px squares, or (height, width)) in rows of ``columns``.

    ``top`` is the margin above the first row (default ``pad``).
    """
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    top = pad if top is None else top
    return top + rows * th + rows * pad, cols * tw + (cols + 1) * pad


def make_sheet(
    tiles: Sequence[np.ndarray],
    columns: int = 8,
    pad: int = 4,
    background: int = 255,
    labels: Sequence[str] = (),
) -> np.ndarray:
    """Tiles (all of the first one's size) in a grid, left to right then top to bottom.

    With ``labels``, a band of :data:`LABEL_HEIGHT` px above the grid names the columns.
    """
    if not tiles:
        raise FaceweaveError("nothing to put on the sheet")
    th, tw = tiles[0].shape[:2]
    top = LABEL_HEIGHT if labels else pad
    h, w = sheet_shape(len(tiles), (th, tw), columns, pad, top)
    cols = max(1, min(columns, len(tiles)))
    out = np.full((h, w, 3), background, np.uint8)
    for j, label in enumerate(labels[:cols]):
        cv2.putText(out, label, (pad + j * (tw + pad) + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = top + r * (th + pad), pad + c * (tw + pad)
        out[y : y + th, x : x + tw] = tile[..., :3]
    return out
