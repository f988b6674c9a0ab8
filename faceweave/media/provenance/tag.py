"""Marking outputs as synthetic, and reading the mark back.

Every image faceweave writes carries a machine-readable tag: a PNG ``tEXt`` chunk, or EXIF
``ImageDescription`` / ``Software`` fields for JPEG, WebP and TIFF. ``is_marked`` reads it back.
"""

from __future__ import annotations

import os

from PIL import Image, PngImagePlugin

from faceweave import __version__

TAG_KEY = "faceweave-synthetic"
TAG_TEXT = "synthetic image made with faceweave (face swap / face edit)"


def provenance_params(fmt: str) -> dict[str, object]:
    """Extra ``PIL.Image.save`` keyword arguments that embed the synthetic-media tag."""
    if fmt == "PNG":
        meta = PngImagePlugin.PngInfo()
        meta.add_text(TAG_KEY, "1")
        meta.add_text("Software", f"faceweave {__version__}")
        meta.add_text("Description", TAG_TEXT)
        return {"pnginfo": meta}
    if fmt in ("JPEG", "WEBP", "TIFF"):
        exif = Image.Exif()
        exif[0x010E] = f"{TAG_KEY}: {TAG_TEXT}"  # ImageDescription
        exif[0x0131] = f"faceweave {__version__}"  # Software
        return {"exif": exif.tobytes()}
    return {}


def is_marked(path: str | os.PathLike[str]) -> bool:
    """True when the file carries faceweave's synthetic-media tag."""
    with Image.open(path) as img:
        if img.format == "PNG":
            return img.info.get(TAG_KEY) == "1"
        desc = img.getexif().get(0x010E, "")
        return isinstance(desc, str) and desc.startswith(TAG_KEY)
