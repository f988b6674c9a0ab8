"""Swap engines, found through one registry (see :mod:`faceweave.engines.base`)."""

from faceweave.engines.base import (
    BLEND_MODES,
    ENGINES,
    Engine,
    SwapOptions,
    engine_names,
    get_engine,
    register_engine,
)

__all__ = ["BLEND_MODES", "ENGINES", "Engine", "SwapOptions", "engine_names", "get_engine", "register_engine"]
