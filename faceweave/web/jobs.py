"""What every web request shares: limits, the per-request folder, the worker gate, clean messages.

Nothing here imports gradio, so the REST endpoint, the UI handlers and the tests use one definition.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass
class WebConfig:
    """Limits and paths of one running server (``faceweave web`` flags map onto these)."""

    max_file_mb: float = 50.0  # one uploaded file (a photo, a clip)
    max_request_mb: float = 120.0  # one HTTP request body (all its files together)
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))  # jobs computed at once
    max_queue: int = 64  # jobs waiting beyond the running ones; more get "busy, try again"
    root: Path | None = None  # the server's own temporary folder (made by :func:`make_root`)
    persons: Path | None = None  # a folder of trained persons (NAME.safetensors) offered to the person engine

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * MB)


def make_root() -> Path:
    """The server's temporary folder: gradio's upload cache and every job folder live inside it."""
    return Path(tempfile.mkdtemp(prefix="faceweave-web-"))


def remove_tree(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


class Busy(FaceweaveError):
    """More jobs are waiting than the queue holds."""


class Gate:
    """At most ``workers`` jobs compute at once; at most ``max_queue`` more wait for a turn."""

    def __init__(self, workers: int, max_queue: int) -> None:
        self._run = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._waiting = 0
        self.max_queue = max_queue
        self.workers = workers

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            if self._waiting >= self.max_queue + self.workers:
                raise Busy("the server is busy (queue full); try again in a minute")
            self._waiting += 1
        try:
            with self._run:
                yield
        finally:
            with self._lock:
                self._waiting -= 1


@contextlib.contextmanager
def job_folder(root: Path, keep: bool = False) -> Iterator[Path]:
    """A fresh folder for one request inside the server's root. It is removed when the job ends,
    or, with ``keep``, only when the job fails (a successful job's results are then served from it
    until the session ends; see :class:`faceweave.web.ui.Sessions`)."""
    folder = Path(tempfile.mkdtemp(prefix="job-", dir=root))
    ok = False
    try:
        yield folder
        ok = True
    finally:
        if not (keep and ok):
            shutil.rmtree(folder, ignore_errors=True)


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'\"]+){2,}[\\/]?")


def clean_message(msg: str, labels: dict[str, str] | None = None) -> str:
    """One line for the user: known input paths become their field name, any other path its file name."""
    for path, label in sorted((labels or {}).items(), key=lambda kv: -len(kv[0])):
        if path:
            msg = msg.replace(str(path), label)
    msg = _PATH.sub(lambda m: Path(m.group(0).rstrip("/\\")).name or "file", msg)
    return " ".join(msg.split())[:400]


def user_error(exc: BaseException, labels: dict[str, str] | None = None) -> tuple[int, str]:
    """(HTTP status, message) for an exception, never a traceback or a server path."""
    if isinstance(exc, Busy):
        return 503, str(exc)
    if isinstance(exc, FaceweaveError):
        return 422, clean_message(str(exc), labels)
    if isinstance(exc, MemoryError):
        return 507, "out of memory: try a smaller image"
    log.exception("internal error in a web job")
    return 500, "internal error (the server log has the details)"


def needs_source(engine: str) -> bool:
    """Whether the engine takes a source photo (``person`` does not: its trained person is the source)."""
    from faceweave.engines.base import engine_classes

    return bool(getattr(engine_classes().get(engine), "needs_source", True))
