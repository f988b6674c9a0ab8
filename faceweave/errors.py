"""Errors that reach the user as one clear line (the CLI prints ``str(err)`` and exits non-zero)."""

from __future__ import annotations


class FaceweaveError(Exception):
    """A user-facing failure: bad input, no face found, unwritable output, missing weights."""

    exit_code: int = 2


class NoFaceError(FaceweaveError):
    """No face was found where one was needed; the message names the file."""

    exit_code = 3


class ParameterError(FaceweaveError):
    """A bad value for a named parameter of a library function.

    The message names the parameter as the caller wrote it (``steps=1: need at least 2``); the CLI
    rewrites it with the flag that fed the parameter (``--steps 1: need at least 2``).
    """

    def __init__(self, param: str, shown: object, reason: str) -> None:
        self.param = param
        self.shown = str(shown)
        self.reason = reason
        sep = " " if "=" in self.shown else "="
        super().__init__(f"{param}{sep}{self.shown}: {reason}")

    def with_flag(self, flag: str) -> str:
        """The message as the command line reports it, ``flag`` standing for the parameter."""
        return f"{flag} {self.shown}: {self.reason}"
