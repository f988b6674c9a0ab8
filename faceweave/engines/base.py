"""The engine protocol and the one engine registry.

An engine turns (source photo + source face, target photo + target face) into new target pixels.
Everything around it — reading, analysis, face selection, writing — is shared, so the CLI, the API,
the video path, the web UI and ``faceweave eval`` treat every engine alike.

An engine owns its options: it declares them as a frozen dataclass (``Options``), adds the flags that
set them to ``faceweave swap`` (``add_cli_arguments``) and maps parsed flags back to keyword
arguments of :func:`faceweave.swap` (``options_from_cli``); the top-level CLI names no engine.
Learned engines also reconstruct an aligned face (``reconstruct``), which ``faceweave eval`` scores.
:class:`EngineBase` gives the defaults. Built-in engines are the modules of this package, found
with :mod:`pkgutil`; a module registers its engine with :func:`register_engine`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from faceweave.analysis.face import Face
from faceweave.choices import BLEND_MODES, BlendMode
from faceweave.errors import FaceweaveError
from faceweave.media.provenance import weights_label  # noqa: F401 - the engines name their weights with it

__all__ = ["BLEND_MODES", "ENGINES", "BlendMode", "Engine", "EngineBase", "EngineOptions", "SwapOptions",
           "engine_names", "get_engine", "register_engine"]


@dataclass
class SwapOptions:
    """Options every engine understands; an engine's own ones arrive in ``extra`` (see ``EngineBase.options``)."""

    blend: BlendMode = "multiband"
    colour_transfer: bool = True
    keep_mouth: bool = True  # keep the target's open-mouth interior
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineOptions:
    """An engine's own options (none here); an engine with options subclasses it."""


@runtime_checkable
class Engine(Protocol):
    """What every engine provides (:class:`EngineBase` implements all but ``swap_face``)."""

    name: str
    needs_mesh: bool  # whether analysis must compute the dense mesh for this engine
    learned: bool  # a trained network makes the pixels (provenance: trainedAlgorithmicMedia)
    timings: dict[str, float]  # seconds per stage of the last swap_face (benchmarks, eval)
    Options: type[EngineOptions]

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

    def reconstruct(self, aligned_rgb: np.ndarray, options: SwapOptions | None = None) -> np.ndarray:
        """x′ of a CelebA-aligned 178×218 crop (learned engines only)."""
        ...


class EngineBase:
    """Defaults for the :class:`Engine` protocol: no options of its own, no flags, not learned."""

    name: ClassVar[str] = ""
    needs_mesh: ClassVar[bool] = False
    learned: ClassVar[bool] = False
    Options: ClassVar[type[EngineOptions]] = EngineOptions

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def options(self, options: SwapOptions) -> Any:
        """This engine's typed options from ``options.extra`` (keys that are not its options are ignored)."""
        names = {f.name for f in dataclasses.fields(self.Options)}
        return self.Options(**{k: v for k, v in options.extra.items() if k in names})

    def model_name(self, options: SwapOptions) -> str:
        """The weights the output comes from, named in the C2PA manifest ('' for a classical engine)."""
        return ""

    def reconstruct(self, aligned_rgb: np.ndarray, options: SwapOptions | None = None) -> np.ndarray:
        raise FaceweaveError(f"the {self.name} engine is not a learned auto-encoder: it cannot reconstruct")

    @classmethod
    def add_cli_arguments(cls, group: argparse._ArgumentGroup) -> None:
        """Add this engine's flags to ``faceweave swap`` (each flag's help should name the engine)."""

    @classmethod
    def options_from_cli(cls, args: argparse.Namespace) -> dict[str, object]:
        """Keyword arguments of :func:`faceweave.swap` from this engine's parsed flags."""
        return {}

    @classmethod
    def cli_flags_given(cls, args: argparse.Namespace) -> list[str]:
        """The flags of this engine the user set (to refuse them with another engine)."""
        return []


ENGINES: dict[str, Callable[..., Engine]] = {}


def register_engine(name: str) -> Callable[[Callable[..., Engine]], Callable[..., Engine]]:
    """Class decorator: ``@register_engine("warp")``."""

    def deco(factory: Callable[..., Engine]) -> Callable[..., Engine]:
        if name in ENGINES:
            raise ValueError(f"engine {name!r} registered twice")
        ENGINES[name] = factory
        return factory

    return deco


def builtin_modules() -> list[str]:
    """The engine modules of this package (every module but ``base``), by name."""
    here = [str(Path(__file__).resolve().parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if m.name != "base" and not m.ispkg)


def _load_builtin() -> None:
    # Import the engine modules so they register themselves. Each import is tolerant so that
    # an engine whose optional parts are missing does not break the others.
    for mod in builtin_modules():
        _load_one(mod)


def _load_one(mod: str) -> None:
    try:
        importlib.import_module(f"faceweave.engines.{mod}")
    except ModuleNotFoundError as e:
        if e.name != f"faceweave.engines.{mod}":
            raise


def engine_names() -> list[str]:
    _load_builtin()
    return sorted(ENGINES)


def engine_classes() -> Mapping[str, Callable[..., Engine]]:
    """Every registered engine factory by name (built-ins loaded)."""
    _load_builtin()
    return dict(sorted(ENGINES.items()))


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
