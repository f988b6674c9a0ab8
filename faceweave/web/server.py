"""The HTTP server behind ``faceweave web`` (standard library only, for local use)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024 * 1024  # two photos of up to ~24 MB each, base64-encoded
_SWAP_LOCK = threading.Lock()  # mediapipe graphs and torch models are used one request at a time


def _decode_image(field: str, value: object, folder: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise FaceweaveError(f"{field}: no image was sent")
    data = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise FaceweaveError(f"{field}: not valid base64 image data") from None
    p = folder / field
    p.write_bytes(raw)
    return p


def swap_request(body: dict[str, Any]) -> bytes:
    """Run one swap described by the page's JSON; returns the result as PNG bytes (tagged synthetic)."""
    from faceweave import api
    from faceweave.media.image import write_image

    opts: dict[str, Any] = {
        "engine": str(body.get("engine") or "warp"),
        "blend": str(body.get("blend") or "multiband"),
    }
    tf = body.get("target_face")
    if tf not in (None, ""):
        if tf != "all":
            try:
                tf = int(tf)
            except (TypeError, ValueError):
                raise FaceweaveError(f"target_face must be a number or 'all', not {tf!r}") from None
        opts["target_face"] = tf
    with tempfile.TemporaryDirectory(prefix="faceweave-web-") as tmp:
        folder = Path(tmp)
        src = _decode_image("source", body.get("source"), folder)
        dst = _decode_image("target", body.get("target"), folder)
        with _SWAP_LOCK:
            res = api.swap_picture(src, dst, **opts)
        out = write_image(folder / "result.png", res.picture.rgb, res.picture.alpha, inputs=(src, dst),
                          provenance=res.picture.info.get("provenance"))
        return out.read_bytes()


class Handler(BaseHTTPRequestHandler):
    server_version = "faceweave"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.info("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, (STATIC / "index.html").read_bytes(), "text/html; charset=utf-8")
        elif self.path == "/api/engines":
            from faceweave.engines import BLEND_MODES, engine_names

            self._json(HTTPStatus.OK, {"engines": engine_names(), "blends": list(BLEND_MODES)})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if self.path != "/api/swap":
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n <= 0 or n > MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"request body must be 1 byte to {MAX_BODY // 2**20} MB"})
            return
        try:
            body = json.loads(self.rfile.read(n))
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"bad JSON: {e}"})
            return
        try:
            png = swap_request(body)
        except FaceweaveError as e:
            self._json(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": _clean(str(e))})
            return
        except Exception as e:  # noqa: BLE001 - the server keeps running; the page shows one line
            log.exception("swap failed")
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(e).__name__}: {e}"})
            return
        self._send(HTTPStatus.OK, png, "image/png")


def _clean(msg: str) -> str:
    """Replace temporary paths in an error with the form field they stand for."""
    return re.sub(r"\S*faceweave-web-[^/\s]*/(source|target)", r"\1 image", msg)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser that closes the connection early (reload, tab closed) is not an error worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            log.debug("client %s went away", client_address)
            return
        log.exception("error while serving %s", client_address)


def make_server(host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    return _Server((host, port), Handler)


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    srv = make_server(host, port)
    log.warning("faceweave web UI on http://%s:%d/ (Ctrl-C to stop)", host, srv.server_address[1])
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


__all__ = ["make_server", "serve", "swap_request"]
