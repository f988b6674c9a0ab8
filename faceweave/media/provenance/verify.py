"""``faceweave verify``: which synthetic-media marks a photo or clip carries, and whether they hold."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.media.provenance.manifest import ManifestReport, read_manifest
from faceweave.media.provenance.tag import is_marked
from faceweave.media.provenance.watermark import WatermarkHit, detect
from faceweave.media.provenance.xmp import IPTC_DST, read_digital_source_type

log = logging.getLogger(__name__)

SYNTHETIC_TYPES = ("compositeSynthetic", "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                   "algorithmicMedia")
VIDEO_FRAMES_CHECKED = 6


@dataclass
class VerifyReport:
    """Everything ``verify`` found in one file; ``synthetic`` is True when any faceweave/synthetic mark is there."""

    path: str
    kind: str  # "image" or "video"
    manifest: ManifestReport
    xmp_digital_source_type: str | None = None
    tag: bool = False
    watermark: list[WatermarkHit] = field(default_factory=list)
    frames_checked: int = 0

    @property
    def watermark_found(self) -> bool:
        return bool(self.watermark)

    @property
    def synthetic(self) -> bool:
        m = self.manifest
        dst = (m.digital_source_type or "") + " " + (self.xmp_digital_source_type or "")
        return (self.watermark_found or self.tag or m.generator is not None
                or any(t in dst for t in SYNTHETIC_TYPES))

    def to_dict(self) -> dict[str, object]:
        wm = [{**asdict(h), "payload": h.payload, "confidence": h.confidence} for h in self.watermark]
        return {
            "path": self.path,
            "kind": self.kind,
            "synthetic": self.synthetic,
            "manifest": asdict(self.manifest),
            "xmp": {"digital_source_type": self.xmp_digital_source_type},
            "tag": self.tag,
            "watermark": {"found": self.watermark_found,
                          "confidence": max((h.confidence for h in self.watermark), default=0.0),
                          "faces": wm, "frames_checked": self.frames_checked},
        }

    def lines(self) -> list[str]:
        m = self.manifest
        out = [f"{self.path}: {'SYNTHETIC (faceweave marks found)' if self.synthetic else 'no synthetic mark found'}"]
        if m.state == "absent":
            out.append("  C2PA manifest: absent")
        else:
            who = m.signer or "?"
            trust = "trusted signer" if m.trusted else "unknown signer (self-signed; not in any trust list)"
            out.append(f"  C2PA manifest: {m.state.upper()}, signed by {who!r} ({trust})")
            for a in m.actions:
                dst = str(a.get("digitalSourceType", "")).replace(IPTC_DST, "")
                params = a.get("parameters") or {}
                eng = f", engine {params.get('engine')}" if isinstance(params, dict) and params.get("engine") else ""
                out.append(f"    action {a.get('action')} ({dst or 'no source type'}{eng})")
            if m.hard_binding_mismatch:
                out.append("    HARD-BINDING MISMATCH: the content changed after it was signed")
            other = [f for f in m.failures if f != "signingCredential.untrusted"]
            if other:
                out.append(f"    failures: {', '.join(other)}")
        x = self.xmp_digital_source_type
        out.append(f"  XMP DigitalSourceType: {x.replace(IPTC_DST, '') if x else 'absent'}")
        if self.kind == "image":
            out.append(f"  faceweave tag (PNG text / EXIF): {'present' if self.tag else 'absent'}")
        if self.watermark:
            for h in self.watermark:
                fixed = f", {h.bit_errors} bit(s) corrected" if h.bit_errors else ""
                out.append(f"  watermark: FOUND in face {h.face_index} ({h.payload}; z = {h.z:.1f}, "
                           f"confidence {h.confidence:.2f}{fixed})")
        else:
            where = f" ({self.frames_checked} frames checked)" if self.kind == "video" else ""
            out.append(f"  watermark: not found{where}")
        return out


def _image_rgb(p: Path):  # noqa: ANN202
    from faceweave.media.image import read_image

    return read_image(p).rgb


def verify(path: str | os.PathLike[str], find_faces: Callable[[np.ndarray], list]) -> VerifyReport:
    """Check one photo or clip for a C2PA manifest, the XMP tag, faceweave's tag and the watermark.

    ``find_faces(rgb)`` returns the faces (with 68 landmarks) the watermark is looked for in; face
    analysis sits above media, so the caller (:func:`faceweave.api.verify`) passes it in.
    """
    from faceweave.media.video import is_video

    p = Path(path)
    if not p.exists():
        raise FaceweaveError(f"{p}: no such file")
    if p.is_dir():
        raise FaceweaveError(f"{p}: is a folder, not a photo or video")
    if is_video(p):
        from faceweave.media.video import probe, read_frames

        info = probe(p)
        rep = VerifyReport(str(p), "video", read_manifest(p), read_digital_source_type(p))
        n = max(info.frames, 1)
        want = {round(i * (n - 1) / max(VIDEO_FRAMES_CHECKED - 1, 1)) for i in range(VIDEO_FRAMES_CHECKED)}
        for i, rgb in enumerate(read_frames(p)):
            if i in want:
                rep.frames_checked += 1
                rep.watermark = detect(rgb, find_faces(rgb))
                if rep.watermark:
                    break
            if i > max(want):
                break
        return rep
    rgb = _image_rgb(p)
    rep = VerifyReport(str(p), "image", read_manifest(p), read_digital_source_type(p))
    try:
        rep.tag = is_marked(p)
    except OSError:
        rep.tag = False
    rep.watermark = detect(rgb, find_faces(rgb))
    return rep
