"""Atomic file output: write beside the target, then rename into place; never a half-written file.
Also the one file digest (:func:`sha256_file`).

The one atomic writer of the package: images and videos (:mod:`faceweave.media`), model weights
(``save_pretrained``), dataset shards and training checkpoints all go through it. It lives at the
ground layer because models and training write files too and must not import :mod:`faceweave.media`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back (POSIX) for the few statements inside; they are delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, suffix: str = ".part", fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success it replaces ``target``.

    The file gets the usual permissions (0666 less the umask; ``mkstemp`` alone makes 0600). On any
    exception the temporary file is removed and ``target`` is left as it was.
    """
    t = Path(target)
    tmp: Path | None = None
    try:
        with _interrupts_deferred():  # a Ctrl-C between mkstemp and `tmp = ...` would leave the file behind
            fd, name = tempfile.mkstemp(prefix=f".{t.name}.", suffix=suffix, dir=t.parent)
            os.close(fd)
            tmp = Path(name)
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, t)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], None], *, fsync: bool = False) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, fsync=fsync) as tmp:
        write(str(tmp))


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[BinaryIO]:
    """A binary file opened for writing in place of ``target``; it replaces ``target`` on success."""
    with atomic_path(target, fsync=fsync) as tmp, open(tmp, "wb") as f:
        yield f


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks: registry checks, checkpoint sidecars, manifests."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
