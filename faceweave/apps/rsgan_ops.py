"""Compatibility alias: the RSGAN operations moved to :mod:`faceweave.pipelines.rsgan` (same names)."""

from faceweave.pipelines.rsgan import __all__ as _names
from faceweave.pipelines.rsgan import __getattr__ as _get

globals().update({n: _get(n) for n in _names})
__all__ = list(_names)
