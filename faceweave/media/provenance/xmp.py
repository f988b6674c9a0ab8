"""IPTC ``Iptc4xmpExt:DigitalSourceType`` in XMP, written with pyexiv2 (libexiv2).

Only the XMP packet is touched: the file's EXIF (faceweave's own tag) and ICC profile stay as they
are. This runs before C2PA signing, because the C2PA hard binding hashes the finished bytes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
XMP_KEY = "Xmp.iptcExt.DigitalSourceType"
XMP_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}


def write_digital_source_type(path: str | os.PathLike[str], source_type: str, tool: str) -> bool:
    """Add the XMP tag (and ``xmp:CreatorTool``) to an image file in place; False for formats without XMP."""
    p = Path(path)
    if p.suffix.lower() not in XMP_SUFFIXES:
        return False
    import pyexiv2

    data = p.read_bytes()
    with pyexiv2.ImageData(data) as img:
        img.modify_xmp({XMP_KEY: IPTC_DST + source_type, "Xmp.xmp.CreatorTool": tool})
        out = img.get_bytes()
    p.write_bytes(out)
    return True


def read_digital_source_type(path: str | os.PathLike[str]) -> str | None:
    """The XMP DigitalSourceType URI of an image, or None."""
    p = Path(path)
    if p.suffix.lower() not in XMP_SUFFIXES:
        return None
    import pyexiv2

    try:
        with pyexiv2.ImageData(p.read_bytes()) as img:
            xmp = img.read_xmp()
    except (RuntimeError, OSError, ValueError) as e:  # pyexiv2 raises RuntimeError on unreadable files
        log.debug("%s: no XMP read (%s)", p, e)
        return None
    v = xmp.get(XMP_KEY)
    return v if isinstance(v, str) else None
