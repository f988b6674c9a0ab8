"""The engine protocol and the one engine registry.

An engine turns (source photo + source face, target photo + target face) into new target pixels.
Everything around it — reading, analysis, face selection, writing — is shared, so the CLI, the API,
the video path, the web UI and ``faceweave eval`` treat every engine alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from faceweave.analysis.face import Face
from faceweave.errors import FaceweaveError

BlendMode = Literal["alpha", "multiband", "poisson"]
BLEND_MODES: tuple[str, ...] = ("alpha", "multiband", "poisson")


@dataclass
class SwapOptions:
    """Options every engine understands; engine-specific ones go in ``extra``."""

    blend: BlendMode = "multiband"
    colour_transfer: bool = True
    keep_mouth: bool = True  # keep the target's open-mouth interior
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """What every engine provides."""

    name: str
    needs_mesh: bool  # whether analysis must compute the dense mesh for this engine
    # Optional ``learned: bool`` (read with getattr, default False): True when a trained network makes
    # the pixels, so provenance labels outputs trainedAlgorithmicMedia instead of compositeSynthetic.

    def swap_face(
        self,
        source: np.ndarray,
        source_face: Face,
        target: np.ndarray,
        target_face: Face,
        options: SwapOptions,
    ) -> np.ndarray:
        """Return a copy of ``target`` (H×W×3 uint8) with ``source_face`` put on ``target_face``."""
        ...


ENGINES: dict[str, Callable[..., Engine]] = {}
BUILTIN_ENGINES = ("warp", "delaunay", "rsgan")


def register_engine(name: str) -> Callable[[Callable[..., Engine]], Callable[..., Engine]]:
    """Class decorator: ``@register_engine("warp")``."""

    def deco(factory: Callable[..., Engine]) -> Callable[..., Engine]:
        if name in ENGINES:
            raise ValueError(f"engine {name!r} registered twice")
        ENGINES[name] = factory
        return factory

    return deco


def _load_builtin() -> None:
    # Import the engine modules so they register themselves. Each import is tolerant so that
    # an engine whose optional parts are missing does not break the others.
    for mod in BUILTIN_ENGINES:
        _load_one(mod)


def _load_one(mod: str) -> None:
    import importlib

    try:
        importlib.import_module(f"faceweave.engines.{mod}")
    except ModuleNotFoundError as e:
        if e.name != f"faceweave.engines.{mod}":
            raise


def engine_names() -> list[str]:
    _load_builtin()
    return sorted(ENGINES)


_INSTANCES: dict[tuple[str, tuple[tuple[str, object], ...]], Engine] = {}


def get_engine(name: str, **kwargs: object) -> Engine:
    """An engine instance by name (cached per keyword arguments)."""
    if name not in ENGINES and name.isidentifier():
        _load_one(name)  # import only the engine asked for (the learned ones import torch)
    if name not in ENGINES:
        _load_builtin()
    if name not in ENGINES:
        raise FaceweaveError(f"unknown engine '{name}' (available: {', '.join(sorted(ENGINES))})")
    key = (name, tuple(sorted((k, v) for k, v in kwargs.items())))
    if key not in _INSTANCES:
        _INSTANCES[key] = ENGINES[name](**kwargs)
    return _INSTANCES[key]
