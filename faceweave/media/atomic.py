"""Atomic file output for media writers; the implementation is :mod:`faceweave.atomic` (one writer)."""

from faceweave.atomic import atomic_open, atomic_path, atomic_write

__all__ = ["atomic_open", "atomic_path", "atomic_write"]
