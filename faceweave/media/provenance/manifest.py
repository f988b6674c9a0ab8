"""C2PA manifests (c2pa-python, the CAI's c2pa-rs): build, sign, read.

A faceweave manifest holds one action (``c2pa.created`` for a swap or sample, ``c2pa.edited`` for
an edit) with the IPTC digital source type (``compositeSynthetic`` for the classical engines,
``trainedAlgorithmicMedia`` for learned ones), faceweave's version, the engine and model, and the
watermark id; each input is an ingredient carrying only its name, format and SHA-256 (no pixels,
no thumbnail). The hard binding (``c2pa.hash.data`` / ``c2pa.hash.bmff``) covers the finished file,
so signing is the very last step of writing.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from faceweave import __version__
from faceweave.atomic import sha256_file
from faceweave.errors import FaceweaveError
from faceweave.media.provenance.signing import SigningIdentity
from faceweave.media.provenance.xmp import IPTC_DST

log = logging.getLogger(__name__)

MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
        ".tif": "image/tiff", ".tiff": "image/tiff", ".mp4": "video/mp4", ".m4v": "video/mp4",
        ".mov": "video/quicktime", ".avi": "video/x-msvideo"}
FACEWEAVE_ASSERTION = "org.faceweave.synthetic"
# Validation codes meaning the signed content changed after signing (the hard binding broke).
HARD_BINDING_FAILURES = ("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
                         "assertion.boxesHash.mismatch", "assertion.collectionHash.mismatch")


def can_sign(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in MIME


@dataclass
class ManifestInfo:
    """What goes into a faceweave manifest."""

    title: str
    action: str = "c2pa.created"
    source_type: str = "compositeSynthetic"
    engine: str = ""
    model: str = ""
    watermark_id: str | None = None
    ingredients: list[tuple[str, str]] = field(default_factory=list)  # (role, path)


def manifest_definition(info: ManifestInfo) -> dict[str, object]:
    params: dict[str, object] = {"engine": info.engine or "unknown"}
    if info.model:
        params["model"] = info.model
    ingredients = []
    inputs = []
    for role, path in info.ingredients:
        p = Path(path)
        if not p.is_file():
            continue
        digest = sha256_file(p)
        ingredients.append({"title": p.name, "format": MIME.get(p.suffix.lower(), "application/octet-stream"),
                            "relationship": "inputTo", "instance_id": f"sha256:{digest}",
                            "description": f"{role}; sha256 {digest}"})
        inputs.append({"role": role, "name": p.name, "sha256": digest})
    fw: dict[str, object] = {"synthetic": True, "generator": f"faceweave {__version__}", "inputs": inputs}
    if info.watermark_id is not None:
        fw["watermark_id"] = info.watermark_id
    return {
        "claim_generator_info": [{"name": "faceweave", "version": __version__}],
        "title": info.title,
        "ingredients": ingredients,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": info.action,
                "digitalSourceType": IPTC_DST + info.source_type,
                "softwareAgent": {"name": "faceweave", "version": __version__},
                "parameters": params,
            }]}},
            {"label": FACEWEAVE_ASSERTION, "data": fw},
        ],
    }


def sign_file(path: str | os.PathLike[str], info: ManifestInfo, identity: SigningIdentity,
              shown: str | os.PathLike[str] | None = None) -> None:
    """Embed a signed manifest into ``path`` in place (via a temporary file beside it); errors name
    ``shown`` (the output the user asked for) rather than the temporary file."""
    import shutil

    import c2pa

    p = Path(path)
    mime = MIME.get(p.suffix.lower())
    if mime is None:
        raise FaceweaveError(f"{p}: C2PA cannot be embedded in {p.suffix or 'this'} files")
    tmp = p.with_name(f".{p.name}.c2pa{p.suffix}")
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(identity.alg, identity.cert_pem, identity.key_pem, None))
        builder = c2pa.Builder.from_json(json.dumps(manifest_definition(info)))
        with open(p, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
        os.replace(tmp, p)
    except c2pa.C2paError as e:
        # c2pa reports a full disk as a format error ("JPEG write error"): say what happened
        if shutil.disk_usage(p.parent).free < 2 * p.stat().st_size + 65536:
            raise FaceweaveError(f"{shown or p.name}: cannot write (No space left on device)") from None
        raise FaceweaveError(f"{shown or p.name}: C2PA signing failed ({e}); --no-provenance skips it") from None
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class ManifestReport:
    """What the C2PA reader says about a file."""

    state: str  # "valid", "invalid" or "absent" (or "error: ..." for an unreadable store)
    signer: str | None = None
    issuer: str | None = None
    trusted: bool = False
    actions: list[dict[str, object]] = field(default_factory=list)
    digital_source_type: str | None = None
    generator: str | None = None
    watermark_id: str | None = None
    failures: list[str] = field(default_factory=list)
    hard_binding_mismatch: bool = False


def read_manifest(path: str | os.PathLike[str]) -> ManifestReport:
    """Validate the file's C2PA manifest with c2pa's reader."""
    import c2pa

    p = Path(path)
    mime = MIME.get(p.suffix.lower())
    try:
        with open(p, "rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh) if mime else c2pa.Reader.try_create(fh)
            if reader is None:
                return ManifestReport("absent")
            store = json.loads(reader.json())
    except c2pa.C2paError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "NotSupported" in type(e).__name__ or "not supported" in msg.lower():
            return ManifestReport("absent")
        return ManifestReport("invalid", failures=[msg], hard_binding_mismatch="hash" in msg.lower())
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    results = store.get("validation_results", {}).get("activeManifest", {})
    failures = [f["code"] for f in results.get("failure", [])]
    failures = failures or [s["code"] for s in store.get("validation_status", [])]
    untrusted = "signingCredential.untrusted" in failures
    serious = [f for f in failures if f != "signingCredential.untrusted"]
    rep = ManifestReport(
        state="invalid" if serious else "valid",
        signer=(active.get("signature_info") or {}).get("common_name"),
        issuer=(active.get("signature_info") or {}).get("issuer"),
        trusted=not untrusted and not serious,
        failures=failures,
        hard_binding_mismatch=any(f in HARD_BINDING_FAILURES for f in failures),
    )
    for a in active.get("assertions", []):
        if a.get("label", "").startswith("c2pa.actions"):
            rep.actions = list(a.get("data", {}).get("actions", []))
        if a.get("label") == FACEWEAVE_ASSERTION:
            rep.generator = a.get("data", {}).get("generator")
            rep.watermark_id = a.get("data", {}).get("watermark_id")
    for a in rep.actions:
        if a.get("digitalSourceType"):
            rep.digital_source_type = str(a["digitalSourceType"])
    return rep
