"""Reading and writing photos.

Every input is normalised to 8-bit RGB plus an optional 8-bit alpha plane: EXIF orientation is
applied, CMYK / palette / 16-bit / grayscale images are converted, and the alpha of RGBA or LA
images is kept so it can be written back unchanged. Outputs are written atomically (temporary
file in the same folder, then ``os.replace``) and carry a provenance tag marking them synthetic.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceweave.errors import FaceweaveError
from faceweave.media.atomic import atomic_path

# Decompression-bomb guard: the pixel count is read from the file header and refused BEFORE any
# pixel is decoded (a 30000×30000 PNG can be a few KB on disk and 2.7 GB decoded). 100 MP is a
# 12000×8300 photo, ≈ 300 MB as 8-bit RGB. PIL's own check stays on as a backstop for other readers.
MAX_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # our check refuses these itself

WRITABLE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


@dataclass
class Picture:
    """An image as faceweave works on it: 8-bit RGB, alpha kept aside, where it came from."""

    rgb: np.ndarray  # H×W×3 uint8
    alpha: np.ndarray | None = None  # H×W uint8, or None when the input had no alpha
    source: str = "<array>"
    info: dict[str, object] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])


def _to_uint8_rgb(img: Image.Image, source: str) -> tuple[np.ndarray, np.ndarray | None, dict[str, object]]:
    info: dict[str, object] = {"mode": img.mode}
    alpha: np.ndarray | None = None
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        info["bit_depth"] = 16
        return np.repeat(g[..., None], 3, axis=2), None, info
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        g = np.clip(a * (255.0 if a.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2), None, info
    if mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "RGBa"):
        arr = np.asarray(img.convert("RGBA"))
        alpha = np.ascontiguousarray(arr[..., 3])
        rgb = np.ascontiguousarray(arr[..., :3])
        return rgb, alpha, info
    if mode == "CMYK":
        info["converted_from"] = "CMYK"
    if mode == "L":
        info["grayscale"] = True
    rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb), None, info




def check_pixels(width: int, height: int, name: str = "image") -> None:
    """Refuse an image whose header announces more than :data:`MAX_PIXELS` pixels."""
    if width * height > MAX_PIXELS:
        raise FaceweaveError(
            f"{name}: image is {width}×{height} = {width * height / 1e6:.0f} megapixels, over the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit (refused before decoding, as a decompression-bomb guard)"
        )


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) from the file header only, after the pixel-limit check; no pixel is decoded."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            w, h = img.size
    except UnidentifiedImageError:
        raise FaceweaveError(f"{p}: not an image file (unrecognised format)") from None
    except Image.DecompressionBombError:
        raise FaceweaveError(f"{p}: image is over the {MAX_PIXELS / 1e6:.0f} MP limit "
                             "(refused before decoding, as a decompression-bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise FaceweaveError(f"{p}: cannot read the image header ({e})") from None
    check_pixels(w, h, str(p))
    return int(w), int(h)


def read_image(path: str | os.PathLike[str]) -> Picture:
    """Read a photo from disk; every failure is a one-line :class:`FaceweaveError`."""
    p = Path(path)
    if not p.exists():
        raise FaceweaveError(f"{p}: no such file")
    if p.is_dir():
        raise FaceweaveError(f"{p}: is a folder, not an image")
    if p.stat().st_size == 0:
        raise FaceweaveError(f"{p}: file is empty (0 bytes)")
    try:
        with Image.open(p) as img:
            check_pixels(*img.size, str(p))  # header only: nothing decoded yet
            img.load()
            fmt = img.format
            img = ImageOps.exif_transpose(img)
            rgb, alpha, info = _to_uint8_rgb(img, str(p))
            info["format"] = fmt
    except UnidentifiedImageError:
        raise FaceweaveError(f"{p}: not an image file (unrecognised format)") from None
    except Image.DecompressionBombError:
        raise FaceweaveError(f"{p}: image is over the {MAX_PIXELS / 1e6:.0f} MP limit "
                             "(refused before decoding, as a decompression-bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise FaceweaveError(f"{p}: cannot decode image (truncated or corrupt: {e})") from None
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise FaceweaveError(f"{p}: image is too small ({rgb.shape[1]}×{rgb.shape[0]} pixels)")
    return Picture(rgb=rgb, alpha=alpha, source=str(p), info=info)


def as_picture(src: object) -> Picture:
    """Accept a path, a :class:`Picture` or an array (H×W gray, H×W×3 RGB, H×W×4 RGBA; uint8 or float in [0, 1])."""
    if isinstance(src, Picture):
        return src
    if isinstance(src, (str, os.PathLike)):
        return read_image(src)
    if isinstance(src, np.ndarray):
        a = src
        if a.dtype != np.uint8:
            if np.issubdtype(a.dtype, np.floating):
                a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
            elif a.dtype == np.uint16:
                a = (a >> 8).astype(np.uint8)
            else:
                raise FaceweaveError(f"unsupported array dtype {a.dtype}")
        if a.ndim == 2:
            return Picture(rgb=np.repeat(a[..., None], 3, axis=2), info={"grayscale": True})
        if a.ndim == 3 and a.shape[2] == 3:
            return Picture(rgb=np.ascontiguousarray(a))
        if a.ndim == 3 and a.shape[2] == 4:
            return Picture(rgb=np.ascontiguousarray(a[..., :3]), alpha=np.ascontiguousarray(a[..., 3]))
        if a.ndim == 3 and a.shape[2] == 1:
            return Picture(rgb=np.repeat(a, 3, axis=2))
        raise FaceweaveError(f"unsupported array shape {a.shape}: expected H×W, H×W×3 or H×W×4")
    raise FaceweaveError(f"cannot use {type(src).__name__} as an image: give a path or a numpy array")


def check_output_path(out: str | os.PathLike[str], inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """Refuse an output that would overwrite an input, an unknown format or a missing folder."""
    o = Path(out)
    if o.suffix.lower() not in WRITABLE_SUFFIXES:
        raise FaceweaveError(
            f"{o}: unsupported output format '{o.suffix or '(none)'}' (use one of "
            f"{', '.join(sorted(WRITABLE_SUFFIXES))})"
        )
    parent = o.parent if str(o.parent) else Path(".")
    if not parent.is_dir():
        raise FaceweaveError(f"{o}: output folder {parent} does not exist")
    ro = o.resolve()
    for i in inputs:
        ip = Path(i)
        if ip.resolve() == ro or (o.exists() and ip.exists() and os.path.samefile(o, ip)):
            raise FaceweaveError(f"{o}: output path is the same as an input; choose another file name")
    return o




def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    inputs: tuple[str | os.PathLike[str], ...] = (),
    synthetic: bool = True,
    quality: int = 95,
    provenance: object | None = None,
) -> Path:
    """Write atomically; a failure leaves no file behind (and never touches an input).

    A synthetic output also gets the XMP tag and a signed C2PA manifest (``provenance``, a
    :class:`faceweave.media.provenance.Provenance`, says which engine made it from which inputs).
    """
    from faceweave.media import provenance as prov

    out = check_output_path(path, inputs)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise FaceweaveError(f"internal: write_image expects H×W×3 uint8, got {rgb.dtype} {rgb.shape}")
    suffix = out.suffix.lower()
    if alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff"):
        img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        img = Image.fromarray(rgb, "RGB")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
           ".tif": "TIFF", ".tiff": "TIFF"}[suffix]
    params: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = quality
    marked = synthetic and prov.settings().enabled
    if marked:
        params.update(prov.provenance_params(fmt))
    elif synthetic:
        prov.log_disabled(out)
    try:
        with atomic_path(out) as tmp:
            img.save(tmp, format=fmt, **params)
            if marked:
                p = provenance if isinstance(provenance, prov.Provenance) else prov.Provenance(
                    inputs=[("input", str(i)) for i in inputs])
                prov.finalize_file(tmp, out, p)
    except OSError as e:
        raise FaceweaveError(f"{out}: cannot write ({e.strerror or e})") from None
    return out
