"""Atomic file output: write beside the target, then rename into place; never a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, suffix: str = ".part", fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success it replaces ``target``.

    The file gets the usual permissions (0666 less the umask; ``mkstemp`` alone makes 0600). On any
    exception the temporary file is removed and ``target`` is left as it was.
    """
    t = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{t.name}.", suffix=suffix, dir=t.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, t)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(target: str | os.PathLike[str], write: Callable[[str], None], *, fsync: bool = False) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, fsync=fsync) as tmp:
        write(str(tmp))
