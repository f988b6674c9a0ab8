"""IPTC ``Iptc4xmpExt:DigitalSourceType`` in XMP: photos through pyexiv2 (libexiv2), MP4/MOV by hand.

Photos: only the XMP packet is touched; the file's EXIF (faceweave's own tag) and ICC profile stay
as they are. MP4/M4V/MOV (libexiv2 cannot write ISO BMFF): the XMP packet goes into a top-level
``uuid`` box with the XMP user type BE7ACFCB-97A9-42E8-9C71-999491E3AFAC (XMP Specification Part 3,
"MPEG-4"), appended after the last box so no chunk offset moves. Both run before C2PA signing: the
hard binding hashes the finished bytes, and c2pa's BMFF hash covers this box too.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
XMP_KEY = "Xmp.iptcExt.DigitalSourceType"
XMP_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
BMFF_SUFFIXES = {".mp4", ".m4v", ".mov"}
XMP_UUID = uuid.UUID("be7acfcb-97a9-42e8-9c71-999491e3afac").bytes
_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    Iptc4xmpExt:DigitalSourceType="{dst}"
    xmp:CreatorTool="{tool}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def write_digital_source_type(path: str | os.PathLike[str], source_type: str, tool: str) -> bool:
    """Add the XMP tag (and ``xmp:CreatorTool``) to an image file in place; False for formats without XMP."""
    p = Path(path)
    if p.suffix.lower() in BMFF_SUFFIXES:
        packet = _PACKET.format(dst=escape(IPTC_DST + source_type, {'"': "&quot;"}),
                                tool=escape(tool, {'"': "&quot;"})).encode("utf-8")
        with open(p, "ab") as fh:
            fh.write(struct.pack(">I", 8 + 16 + len(packet)) + b"uuid" + XMP_UUID + packet)
        return True
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
    if p.suffix.lower() in BMFF_SUFFIXES:
        return _bmff_digital_source_type(p)
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


def _bmff_xmp_packets(p: Path) -> list[bytes]:
    """The payloads of the top-level XMP ``uuid`` boxes of an MP4/MOV (box headers only are read)."""
    packets = []
    size = p.stat().st_size
    with open(p, "rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            n, kind = struct.unpack(">I4s", fh.read(8))
            head = 8
            if n == 1:  # 64-bit size follows
                (n,) = struct.unpack(">Q", fh.read(8))
                head = 16
            elif n == 0:  # box runs to the end of the file
                n = size - pos
            if n < head:
                break  # malformed: stop rather than loop
            if kind == b"uuid" and n - head >= 16 and n < (16 << 20) and fh.read(16) == XMP_UUID:
                packets.append(fh.read(n - head - 16))
            pos += n
    return packets


def _bmff_digital_source_type(p: Path) -> str | None:
    try:
        packets = _bmff_xmp_packets(p)
    except (OSError, struct.error) as e:
        log.debug("%s: no XMP read (%s)", p, e)
        return None
    for packet in packets:
        text = packet.decode("utf-8", "replace")
        m = re.search(r'DigitalSourceType\s*=\s*"([^"]*)"', text) or re.search(
            r"<Iptc4xmpExt:DigitalSourceType>([^<]*)<", text)
        if m:
            return m.group(1).replace("&amp;", "&")
    return None
