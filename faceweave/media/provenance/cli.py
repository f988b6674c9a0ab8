"""``faceweave verify`` and the provenance options of every command that writes outputs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from faceweave.errors import FaceweaveError

log = logging.getLogger("faceweave")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _add_verify(sub: argparse._SubParsersAction, verify: Callable[[str], Any]) -> None:
    """Mount ``faceweave verify``; ``verify(path)`` is :func:`faceweave.api.verify`, passed in by the
    command line (it needs face analysis, which sits above media)."""
    p = sub.add_parser("verify", help="check photos/videos for faceweave's marks (C2PA manifest, XMP, watermark)",
                       description="Exit status: 0 when a synthetic mark was found in any FILE, 1 when none "
                                   "was, 2 on an unreadable file.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (a list)")
    p.set_defaults(func=lambda a: _cmd_verify(a, verify))


def _cmd_verify(a: argparse.Namespace, verify: Callable[[str], Any]) -> int:
    reports = []
    failed = False
    for f in a.files:
        try:
            reports.append(verify(f))
        except FaceweaveError as e:
            sys.stderr.write(f"faceweave: error: {e}\n")
            failed = True
    if a.json:
        _out(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            for line in r.lines():
                _out(line)
    if any(r.synthetic for r in reports):
        return 0
    return 2 if failed else 1


# Commands that write synthetic outputs get the provenance options.
_NO_PROVENANCE_OPTIONS = {"verify", "detect", "models", "engines", "build-dataset"}


def add_provenance_options(sub: argparse._SubParsersAction) -> None:
    for name, p in sub.choices.items():
        if name in _NO_PROVENANCE_OPTIONS:
            continue
        g = p.add_argument_group("provenance")
        g.add_argument("--no-provenance", action="store_true",
                       help="research use: write outputs WITHOUT C2PA manifest, XMP tag or watermark (logged)")
        g.add_argument("--sign-key", metavar="KEY.pem", help="sign C2PA manifests with this PEM private key "
                       "(default: a per-user key made in ~/.config/faceweave)")
        g.add_argument("--sign-cert", metavar="CERT.pem", help="the certificate chain (PEM) of --sign-key")


def _configure_provenance(a: argparse.Namespace) -> None:
    if not hasattr(a, "no_provenance"):
        return
    from faceweave.media import provenance

    if a.no_provenance:
        log.warning("--no-provenance: outputs carry no C2PA manifest, XMP tag or watermark (research use only)")
    provenance.configure(enabled=not a.no_provenance, sign_key=a.sign_key, sign_cert=a.sign_cert)
