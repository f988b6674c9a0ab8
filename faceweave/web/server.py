"""The HTTP server behind ``faceweave web``: the Gradio UI plus a small REST API, behind one guard.

Layout of the ASGI app (uvicorn, one process, asyncio: a slow client holds a socket, not a thread):

* :class:`Guard` (outermost): refuses ``..``/backslash/NUL in URLs (400), bodies over the request
  limit (413, checked on ``Content-Length`` and while streaming), cross-origin POSTs (403), and adds
  no-sniff / frame headers.
* ``GET /api/health``, ``GET /api/engines``, ``POST /api/swap`` (multipart: ``source``, ``target``,
  optional ``reference`` files; ``engine``, ``blend``, ``target_face`` fields) → the tagged PNG, or a
  JSON ``{"error": ...}`` with a 4xx status.
* the Gradio UI at ``/`` (its queue runs ``workers`` jobs at once and holds ``max_queue`` more).

Every job runs inside one :class:`~faceweave.web.jobs.Gate` shared by the UI and the REST API, in
its own folder under the server's temporary folder, which is removed when the server stops.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException

from faceweave.errors import FaceweaveError
from faceweave.web.jobs import Gate, WebConfig, job_folder, make_root, needs_source, remove_tree, user_error

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_IMAGE_FIELDS = ("source", "target", "reference")


def _json_response(status: int, message: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"error": message}).encode()
    return status, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


class BodyTooLarge(Exception):
    pass


class Guard:
    """Pure ASGI middleware: URL, size and origin checks before any route sees the request."""

    SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"SAMEORIGIN"),
                        (b"referrer-policy", b"same-origin")]

    def __init__(self, app: Any, config: WebConfig) -> None:
        self.app = app
        self.config = config

    async def _reply(self, send: Any, status: int, message: str) -> None:
        status, headers, body = _json_response(status, message)
        await send({"type": "http.response.start", "status": status, "headers": headers + self.SECURITY_HEADERS})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def bad_path(raw: bytes) -> bool:
        text = raw.decode("latin-1")
        for _ in range(3):  # %252e%252e → %2e%2e → ..
            text = unquote(text)
        parts = text.replace("\\", "/").split("/")
        return ".." in parts or "\\" in text or "\x00" in text or any(p.startswith("..") for p in parts)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if self.bad_path(raw) or self.bad_path(query):
            await self._reply(send, 400, "bad URL: '..', backslashes and NUL bytes are not allowed in paths")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = self.config.max_request_bytes
        if scope["method"] in ("POST", "PUT", "PATCH"):
            origin = headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host", ""):
                await self._reply(send, 403, "cross-origin request refused")
                return
            length = headers.get("content-length")
            if length is None:  # chunked uploads could only be refused half-way: ask for the length up front
                await self._reply(send, 411, "Content-Length header required for uploads")
                return
            if length is not None:
                if not length.isdigit():
                    await self._reply(send, 400, "bad Content-Length header")
                    return
                if int(length) > limit:
                    await self._reply(send, 413, f"request too large: {int(length) / 2**20:.1f} MB, the limit is "
                                                 f"{self.config.max_request_mb:g} MB per request")
                    return
        seen = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return msg

        async def send_with_headers(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                msg = dict(msg)
                msg["headers"] = list(msg.get("headers", [])) + self.SECURITY_HEADERS
            await send(msg)

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await self._reply(send, 413, f"request too large: the limit is {self.config.max_request_mb:g} MB "
                                             "per request")


def _check_basic_auth(headers: Any, auth: tuple[str, str] | None) -> bool:
    if auth is None:
        return True
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return False
    try:
        user, _, pw = base64.b64decode(value[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, auth[0]) and secrets.compare_digest(pw, auth[1])


def _parse_target_face(v: str | None) -> int | str | None:
    if v is None or v == "":
        return None
    if v == "all":
        return "all"
    try:
        return int(v)
    except ValueError:
        raise FaceweaveError(f"target_face must be a face number or 'all', not {v[:40]!r}") from None


def _swap_job(config: WebConfig, gate: Gate, files: dict[str, bytes], opts: dict[str, Any]) -> bytes:
    """One REST swap in its own folder (removed afterwards); returns the tagged PNG."""
    from faceweave import api

    assert config.root is not None
    with gate.turn(), job_folder(config.root / "jobs") as folder:
        paths = {}
        for name, data in files.items():
            p = folder / name  # fixed names: the client's file names never reach the file system
            p.write_bytes(data)
            paths[name] = p
        try:
            source = paths.get("source") if needs_source(str(opts.get("engine", "warp"))) else None
            res = api.swap_picture(source, paths["target"], reference=paths.get("reference"), **opts)
            out = api.save(res.picture, folder / "result.png")
            return Path(out).read_bytes()
        except FaceweaveError as e:
            labels = {str(p): f"{n} image" for n, p in paths.items()}
            raise FaceweaveError(user_error(e, labels)[1]) from None


class _Refused(Exception):
    """A bad ``POST /api/swap`` request: the status and the one-line message to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _swap_form(form: Any, config: WebConfig) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The image files and the options (engine, blend, target face) of a ``POST /api/swap`` form."""
    from faceweave.engines.base import BLEND_MODES, engine_names

    files: dict[str, bytes] = {}
    for name in _IMAGE_FIELDS:
        up = form.get(name)
        if up is None or isinstance(up, str):
            if name == "source" and not needs_source(str(form.get("engine") or "warp")):
                continue  # `person`: its trained person is the source
            if name != "reference":
                raise _Refused(400, f"missing file field '{name}'")
            continue
        data = await up.read()
        if len(data) > config.max_file_bytes:
            raise _Refused(413, f"{name}: file too large ({len(data) / 2**20:.1f} MB; the limit is "
                                f"{config.max_file_mb:g} MB per file)")
        if not data:
            raise _Refused(400, f"{name}: file is empty")
        files[name] = data
    engine = str(form.get("engine") or "warp")
    blend = str(form.get("blend") or "multiband")
    if engine not in engine_names():
        raise _Refused(400, f"unknown engine '{engine[:40]}' (available: {', '.join(engine_names())})")
    if blend not in BLEND_MODES:
        raise _Refused(400, f"unknown blend '{blend[:40]}' (choose from {', '.join(BLEND_MODES)})")
    try:
        target_face = _parse_target_face(form.get("target_face"))
    except FaceweaveError as e:
        raise _Refused(400, str(e)) from None
    return files, {"engine": engine, "blend": blend, "target_face": target_face}


def create_app(config: WebConfig, auth: tuple[str, str] | None = None) -> tuple[Any, Any]:
    """(ASGI app, :class:`faceweave.web.ui.App`). ``config.root`` must be set (see :func:`make_root`)."""
    assert config.root is not None
    os.environ["GRADIO_TEMP_DIR"] = str(config.root / "cache")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_SERVER_NAME", "127.0.0.1")
    import gradio as gr

    from faceweave.engines.base import BLEND_MODES, engine_names
    from faceweave.web.ui import CSS, build

    (config.root / "jobs").mkdir(parents=True, exist_ok=True)  # REST jobs (the UI's live in gradio's cache)
    gate = Gate(config.workers, config.max_queue)
    demo, ui = build(config, gate)
    demo.queue(default_concurrency_limit=config.workers, max_size=config.max_queue)

    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def err(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @api.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/engines")
    async def engines() -> dict[str, list[str]]:
        return {"engines": engine_names(), "blends": list(BLEND_MODES)}

    @api.post("/api/swap")
    async def swap(request: Request) -> Response:
        if not _check_basic_auth(request.headers, auth):
            return JSONResponse({"error": "authentication required"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="faceweave"'})
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return err(415, "send multipart/form-data with the files 'source' and 'target'")
        try:
            form = await request.form(max_files=len(_IMAGE_FIELDS), max_fields=8, max_part_size=4096)
        except MultiPartException as e:
            return err(400, f"malformed multipart body: {e.message}")
        except BodyTooLarge:
            return err(413, f"request too large: the limit is {config.max_request_mb:g} MB per request")
        except Exception:  # noqa: BLE001 - a body the parser chokes on is the client's fault
            return err(400, "malformed multipart body")
        try:
            files, opts = await _swap_form(form, config)
        except _Refused as e:
            return err(e.status, e.message)
        finally:
            await form.close()
        try:
            png = await run_in_threadpool(_swap_job, config, gate, files, opts)
        except Exception as e:  # noqa: BLE001 - one clean line, never a traceback
            status, message = user_error(e)
            return err(status, message)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    app = gr.mount_gradio_app(
        api, demo, path="/", auth=auth, show_error=False, max_file_size=config.max_file_bytes,
        ssr_mode=False, mcp_server=False, pwa=False, enable_monitoring=False, footer_links=["api"],
        theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                                font_mono=["ui-monospace", "monospace"]),
        css=CSS,
    )
    return Guard(app, config), ui


def check_exposure(host: str, auth: tuple[str, str] | None, no_auth: bool) -> None:
    """Listening beyond this computer needs a decision: ``--auth user:pass`` or ``--no-auth``."""
    if host in LOCAL_HOSTS:
        return
    if auth is None and not no_auth:
        raise FaceweaveError(f"--host {host} makes the UI reachable from other computers: add --auth USER:PASS "
                             "(or --no-auth if you really want it open)")
    log.warning("listening on %s: anyone who can reach this address %s", host,
                "and knows the password can use the UI" if auth else "can use the UI (no password)")


def serve(host: str = "127.0.0.1", port: int = 7860, *, auth: tuple[str, str] | None = None,
          no_auth: bool = False, config: WebConfig | None = None) -> None:
    """Run the server until Ctrl-C / SIGTERM; its temporary folder is removed on the way out."""
    import uvicorn

    check_exposure(host, auth, no_auth)
    config = config or WebConfig()
    config.root = make_root()
    try:
        app, _ = create_app(config, auth)
        server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=5,
            limit_concurrency=256, h11_max_incomplete_event_size=32 * 1024, timeout_graceful_shutdown=5,
        ))
        log.warning("faceweave web UI on http://%s:%d/ (Ctrl-C to stop)", host if ":" not in host else f"[{host}]",
                    port)
        # uvicorn re-raises SIGTERM/SIGINT once it has shut down; a Python handler turns that into
        # an exception, so the `finally` below still removes the temporary folder.
        def stop(signum: int, frame: object) -> None:
            raise SystemExit(0)

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
        if not server.started:
            raise FaceweaveError(f"cannot listen on {host}:{port} (address in use or not available)")
    finally:
        remove_tree(config.root)


__all__ = ["Guard", "check_exposure", "create_app", "serve"]
