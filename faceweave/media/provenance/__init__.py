"""Provenance of every output: a signed C2PA manifest, the IPTC/XMP digital-source-type tag, an
invisible watermark in the swapped face, the older PNG-text/EXIF tag, and ``verify`` to read them.

Order when a file is written (inside the atomic write, before the rename): pixels (watermark already
in them) → PIL save with the EXIF/PNG-text tag → XMP → C2PA manifest last, because its hard binding
hashes the finished bytes. ``configure(enabled=False)`` (the CLI's ``--no-provenance``) turns all of
it off, and says so in the log for every file written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceweave import __version__
from faceweave.errors import FaceweaveError
from faceweave.media.provenance.tag import TAG_KEY, TAG_TEXT, is_marked, provenance_params

log = logging.getLogger(__name__)

__all__ = ["TAG_KEY", "TAG_TEXT", "Provenance", "configure", "finalize_file", "is_marked", "mark_faces",
           "provenance_params", "settings"]


@dataclass
class Provenance:
    """Who made an output and from what; travels in ``Picture.info['provenance']`` to the writer."""

    engine: str = ""
    model: str = ""
    learned: bool = False  # a learned engine's output is trainedAlgorithmicMedia, else compositeSynthetic
    action: str = "c2pa.created"
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (role, path)
    watermark_id: int | None = None

    @property
    def source_type(self) -> str:
        return "trainedAlgorithmicMedia" if self.learned else "compositeSynthetic"


@dataclass
class Settings:
    enabled: bool = True
    sign_key: str | None = None
    sign_cert: str | None = None
    watermark_video: bool = True


_SETTINGS = Settings()


def settings() -> Settings:
    return _SETTINGS


def configure(*, enabled: bool | None = None, sign_key: str | None = None, sign_cert: str | None = None,
              watermark_video: bool | None = None) -> None:
    """Process-wide provenance options (the CLI's ``--no-provenance``, ``--sign-key``, ``--sign-cert``)."""
    if (sign_key is None) != (sign_cert is None):
        raise FaceweaveError("--sign-key and --sign-cert go together (a PEM key and its certificate chain)")
    if enabled is not None:
        _SETTINGS.enabled = enabled
    if sign_key is not None:
        from faceweave.media.provenance.signing import load_identity

        load_identity(sign_key, sign_cert, str(sign_cert))  # type: ignore[arg-type]  # fail early on bad files
        _SETTINGS.sign_key, _SETTINGS.sign_cert = sign_key, sign_cert
    if watermark_video is not None:
        _SETTINGS.watermark_video = watermark_video


def _identity():  # noqa: ANN202
    from faceweave.media.provenance.signing import load_identity, user_identity

    if _SETTINGS.sign_key and _SETTINGS.sign_cert:
        return load_identity(_SETTINGS.sign_key, _SETTINGS.sign_cert, _SETTINGS.sign_cert)
    return user_identity()


def log_disabled(out: str | os.PathLike[str]) -> None:
    log.warning("%s: written WITHOUT provenance (--no-provenance, research use): no C2PA manifest, "
                "no XMP tag, no watermark", out)


def finalize_file(tmp: str | os.PathLike[str], out: str | os.PathLike[str], prov: Provenance | None) -> None:
    """Add XMP then a signed C2PA manifest to ``tmp`` (the file that will become ``out``)."""
    from faceweave.media.provenance.manifest import MIME, ManifestInfo, sign_file
    from faceweave.media.provenance.xmp import write_digital_source_type

    prov = prov or Provenance()
    o = Path(out)
    suffix = o.suffix.lower()
    t = Path(tmp)
    # work on a name with the real suffix (pyexiv2 and c2pa pick the format from it)
    work = t if t.suffix.lower() == suffix else t.with_name(t.name + suffix)
    if work != t:
        os.replace(t, work)
    try:
        try:
            write_digital_source_type(work, prov.source_type, f"faceweave {__version__}")
        except (RuntimeError, OSError) as e:
            raise FaceweaveError(f"{o}: cannot write the XMP tag ({e})") from None
        if suffix in MIME:
            info = ManifestInfo(title=o.name, action=prov.action, source_type=prov.source_type,
                                engine=prov.engine, model=prov.model,
                                watermark_id=None if prov.watermark_id is None else f"{prov.watermark_id:05x}",
                                ingredients=list(prov.inputs))
            sign_file(work, info, _identity(), shown=o)
        else:
            log.info("%s: %s files cannot hold a C2PA manifest or XMP; only the watermark marks it", o, suffix)
    finally:
        if work != t and work.exists():
            os.replace(work, t)


def changed_region(out: np.ndarray, before: np.ndarray, erode: int = 2) -> np.ndarray:
    """Pixels the swap changed (holes closed, edge eroded): the only place the watermark may go."""
    import cv2

    h, w = out.shape[:2]
    diff = cv2.absdiff(np.ascontiguousarray(out), np.ascontiguousarray(before))
    c = diff.shape[2] if diff.ndim == 3 else 1
    res = np.zeros((h, w), bool)
    bx, by, bw, bh = cv2.boundingRect(diff.reshape(h, -1))  # the non-zero bytes' box (columns × channels)
    if not bw:
        return res
    # Only the changed pixels' box (and a margin the kernels cannot cross) is processed: the same
    # result as on the whole frame, at the cost of the face.
    pad = 16 + erode
    y0, y1 = max(by - pad, 0), min(by + bh + pad, h)
    x0, x1 = max(bx // c - pad, 0), min((bx + bw - 1) // c + pad + 1, w)
    box = np.ascontiguousarray(diff.reshape(h, w, c)[y0:y1, x0:x1])
    d = cv2.reduce(box.reshape(-1, c), 1, cv2.REDUCE_MAX).reshape(y1 - y0, x1 - x0) if c > 1 else box[..., 0]
    d = (d > 0).astype(np.uint8)
    d = cv2.morphologyEx(d, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    if erode:
        d = cv2.erode(d, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
    res[y0:y1, x0:x1] = d > 0
    return res


def output_landmarks(out: np.ndarray, landmarks: list[np.ndarray], found: list) -> list[np.ndarray]:
    """The landmarks a detector will find on the swapped faces (the swap moved eyes, nose and mouth).

    The watermark must be laid out in the frame that ``verify`` will align to, so the output is
    analysed again (``found``: the faces found on ``out``); each target face takes the nearest face
    found (its given landmarks if none is near).
    """
    res = []
    for lm in landmarks:
        lm = np.asarray(lm, np.float32)
        size = float(np.ptp(lm[:, 0])) or 1.0
        best = min(found, key=lambda f: float(np.abs(f.landmarks - lm).mean()), default=None)
        ok = best is not None and float(np.abs(best.landmarks - lm).mean()) < 0.25 * size
        res.append(best.landmarks if ok else lm)  # type: ignore[union-attr]
    return res


def mark_faces(out: np.ndarray, before: np.ndarray, landmarks: list[np.ndarray], payload_id: int,
               find_faces: Callable[[np.ndarray], list], *, passes: int = 3) -> np.ndarray:
    """Watermark each swapped face of ``out`` (``landmarks``: the target faces' landmarks).

    ``find_faces(rgb)`` analyses a photo (face analysis sits above media: the caller passes it in).

    Only the pixels the swap changed may change (see :func:`changed_region`); all others stay identical.
    """
    from faceweave.media.provenance import watermark as wm

    region = changed_region(out, before)
    if not region.any():
        return out
    res = out
    bits = wm.encode_payload(payload_id)
    for lm in output_landmarks(out, landmarks, find_faces(out)):
        res = wm.embed(res, lm, region, bits, passes=passes)
    return res


def weights_label(checkpoint: object, default: str) -> str:
    """How a manifest names a learned engine's weights: the registry card, or the user's file/folder name."""
    from pathlib import Path

    return default if checkpoint is None else Path(str(checkpoint)).name
