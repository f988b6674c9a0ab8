"""Swap engines, found through one registry (see :mod:`faceweave.engines.base`).

Every module of this package but ``base`` is an engine module, imported (and so registered) the
first time the registry is asked for the engines; adding ``engines/<name>.py`` adds an engine.
"""

from faceweave.engines.base import (
    BLEND_MODES,
    ENGINES,
    Engine,
    EngineBase,
    EngineOptions,
    SwapOptions,
    engine_classes,
    engine_names,
    get_engine,
    register_engine,
)

__all__ = ["BLEND_MODES", "ENGINES", "Engine", "EngineBase", "EngineOptions", "SwapOptions", "engine_classes",
           "engine_names", "get_engine", "register_engine"]
