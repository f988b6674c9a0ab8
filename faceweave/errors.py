"""Errors that reach the user as one clear line (the CLI prints ``str(err)`` and exits non-zero)."""

from __future__ import annotations


class FaceweaveError(Exception):
    """A user-facing failure: bad input, no face found, unwritable output, missing weights."""

    exit_code: int = 2


class NoFaceError(FaceweaveError):
    """No face was found where one was needed; the message names the file."""

    exit_code = 3
