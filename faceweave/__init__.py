"""faceweave: face swapping and face editing (RSGAN, AEI-Net, style transfer, classical warp)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "analyze", "swap", "edit", "sample", "interpolate"]


def __getattr__(name: str):  # lazy: `import faceweave` stays cheap (no torch / mediapipe import)
    if name in {"analyze", "swap", "edit", "sample", "interpolate"}:
        from faceweave import api

        return getattr(api, name)
    raise AttributeError(name)
