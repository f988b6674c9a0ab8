"""faceweave: face swapping and face editing (mesh warp, classical landmarks, RSGAN). Layers: docs/architecture.md."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "swap", "edit", "sample", "interpolate"]


def __getattr__(name: str):  # lazy: `import faceweave` stays cheap (no torch / mediapipe import)
    if name in {"analyze", "swap", "edit", "sample", "interpolate"}:
        from faceweave import api

        return getattr(api, name)
    raise AttributeError(name)
