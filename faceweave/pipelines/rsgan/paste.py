"""The common compose step of every RSGAN operation: a generated crop back into the photo; tiles for sheets."""

from __future__ import annotations

import cv2
import numpy as np

from faceweave.analysis.align import transform_points
from faceweave.compose.blend import blend as _blend
from faceweave.compose.colour import transfer_colour
from faceweave.pipelines.rsgan.geometry import AlignedFace, _disk, compose_affine

TILE_SIZE = 160  # side of one contact-sheet tile (the head frame of a result photo)


def photo_box(aligned: AlignedFace, pad: int = 2) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the model frame's footprint in the photo, clipped; ``None`` if off the photo."""
    s = aligned.size
    inv = cv2.invertAffineTransform(aligned.matrix)
    corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [-0.5, s - 0.5], [s - 0.5, s - 0.5]])
    pts = transform_points(corners, inv)
    h, w = aligned.photo_shape
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def feather_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soft edge inside the mask: erode by ``radius``, blur, and never exceed the mask itself."""
    r = max(int(round(radius)), 1)
    m = mask.astype(np.float32)
    soft = cv2.GaussianBlur(cv2.erode(m, _disk(r)), (0, 0), sigmaX=r / 2 + 0.5)
    return np.clip(np.minimum(soft, m), 0.0, 1.0)


def _roi_matrix(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    m = matrix.copy()
    m[:, 2] = matrix[:, 2] + matrix[:, :2] @ np.array([x0, y0], np.float64)
    return m


def warp_to_photo(img: np.ndarray, aligned: AlignedFace, box: tuple[int, int, int, int], border: int) -> np.ndarray:
    """A crop-frame image warped into the photo's ``box`` (inverse of the alignment)."""
    x0, y0, x1, y1 = box
    m = _roi_matrix(aligned.matrix, x0, y0)
    return cv2.warpAffine(img, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=border, borderValue=0)


def paste_back(
    photo: np.ndarray,
    generated: np.ndarray,
    aligned: AlignedFace,
    region: np.ndarray,
    mode: str = "multiband",
    gd: bool = False,
    colour: bool = False,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """The common compose step: put a generated crop back into the photo, only inside ``region``.

    ``region`` (S×S in [0, 1], crop frame) is feathered and warped to the photo with the inverse
    alignment. ``colour`` matches the generated pixels' L*a*b* statistics inside the region to the
    photo's. ``base`` (the generator's reconstruction of the unedited latents) switches to a residual
    paste: the photo gets ``generated − base`` added, so the photo's own detail survives where the
    edit changed nothing. ``gd`` composes in the gradient domain (Poisson), as RSGAN-GD does;
    otherwise ``mode`` (alpha, multiband, poisson) is used. Pixels outside the frame never change.
    """
    box = photo_box(aligned)
    if box is None:
        return photo.copy()
    x0, y0, x1, y1 = box
    soft = feather_mask(region, max(1.0, aligned.size / 32))
    m = warp_to_photo(soft, aligned, box, cv2.BORDER_CONSTANT)
    if float(m.max()) <= 1e-3:
        return photo.copy()
    dst = photo[y0:y1, x0:x1]
    if base is not None:
        delta = generated.astype(np.float32) - base.astype(np.float32)
        d = warp_to_photo(delta, aligned, box, cv2.BORDER_REPLICATE)
        src = np.clip(dst.astype(np.float32) + d + 0.5, 0, 255).astype(np.uint8)
    else:
        src = warp_to_photo(generated, aligned, box, cv2.BORDER_REPLICATE)
    if colour:
        sel = m > 0.5
        src = transfer_colour(src, sel.astype(np.float32), dst, sel.astype(np.float32))
    out = photo.copy()
    out[y0:y1, x0:x1] = _blend(dst, src, m, "poisson" if gd else mode)
    return out


def head_view(photo: np.ndarray, aligned: AlignedFace, size: int = TILE_SIZE) -> np.ndarray:
    """The photo seen through the model's frame at ``size`` px: an upright tile of the head (for sheets).

    Warped at an integer multiple of ``size`` close to the photo's own resolution, then area-averaged
    down, so a large face is not aliased.
    """
    photo_px = aligned.size / float(np.sqrt(abs(np.linalg.det(aligned.matrix[:, :2]))))  # frame side in photo px
    k = int(np.clip(np.ceil(photo_px / size), 1, 8))
    big = size * k
    s = big / aligned.size
    scale = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5]])  # crop px → tile px, centres kept
    m = compose_affine(scale, aligned.matrix)
    tile = cv2.warpAffine(photo, m, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return tile if k == 1 else cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA)


def upscale_crop(crop: np.ndarray, size: int = TILE_SIZE) -> np.ndarray:
    """A model crop enlarged to a tile (for sheets of raw generator outputs)."""
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST if size % crop.shape[0] == 0
                      else cv2.INTER_LINEAR)
