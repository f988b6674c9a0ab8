"""``faceweave web``: its flags and the checks made before the server starts (the server: faceweave.web.server)."""

from __future__ import annotations

import argparse
from pathlib import Path

from faceweave.errors import FaceweaveError


def _add_web(sub: argparse._SubParsersAction) -> None:
    from faceweave.web.jobs import WebConfig

    d = WebConfig()
    p = sub.add_parser("web", help="start the web UI (Gradio) on this computer")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; another address needs "
                        "--auth or --no-auth)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", metavar="USER:PASS", help="require this user name and password")
    p.add_argument("--no-auth", action="store_true", help="allow --host without a password (anyone can use it)")
    p.add_argument("--max-file-mb", type=float, default=d.max_file_mb,
                   help=f"per uploaded file (default {d.max_file_mb:g})")
    p.add_argument("--max-request-mb", type=float, default=d.max_request_mb,
                   help=f"per HTTP request (default {d.max_request_mb:g})")
    p.add_argument("--workers", type=int, default=d.workers,
                   help=f"jobs computed at once (default {d.workers}: the CPUs)")
    p.add_argument("--queue", type=int, default=d.max_queue, help=f"jobs that may wait (default {d.max_queue})")
    p.add_argument("--persons", metavar="DIR", help="a folder of trained persons (NAME.safetensors from "
                   "`faceweave train person`) offered to the person engine, beside the shipped demo person")
    p.set_defaults(func=_cmd_web)


def _cmd_web(a: argparse.Namespace) -> int:
    from faceweave.web.jobs import WebConfig
    from faceweave.web.server import serve

    auth = None
    if a.auth is not None:
        user, sep, pw = a.auth.partition(":")
        if not sep or not user or not pw:
            raise FaceweaveError("--auth must be USER:PASS (both non-empty)")
        auth = (user, pw)
    if a.auth and a.no_auth:
        raise FaceweaveError("--auth and --no-auth contradict each other")
    if not 0 < a.max_file_mb <= a.max_request_mb:
        raise FaceweaveError("--max-file-mb must be > 0 and not above --max-request-mb")
    if a.workers < 1 or a.queue < 0:
        raise FaceweaveError("--workers must be ≥ 1 and --queue ≥ 0")
    if not 0 <= a.port <= 65535:
        raise FaceweaveError(f"--port {a.port}: must be 0–65535")
    if a.persons is not None and not Path(a.persons).is_dir():
        raise FaceweaveError(f"--persons {a.persons}: no such folder")
    cfg = WebConfig(max_file_mb=a.max_file_mb, max_request_mb=a.max_request_mb, workers=a.workers, max_queue=a.queue,
                    persons=None if a.persons is None else Path(a.persons))
    serve(a.host, a.port, auth=auth, no_auth=a.no_auth, config=cfg)
    return 0
