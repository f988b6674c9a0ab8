"""Every closed set of choices, in one place: the CLI's ``choices=``, the API's checks and the web UI read them.

Each set is a ``Literal`` type (for type checkers and readers) and the tuple of its values, in the
order they are listed to users. It stands at the ground layer (it imports only the errors), so
every layer may use it.
"""

from __future__ import annotations

from typing import Literal, get_args

from faceweave.errors import ParameterError

# How a new face is blended into the photo (faceweave.compose.blend).
BlendMode = Literal["alpha", "multiband", "poisson"]
BLEND_MODES: tuple[str, ...] = get_args(BlendMode)
DEFAULT_BLEND: BlendMode = "multiband"

# RSGAN's regions of a head: which latents an edit, a swap or an interpolation touches.
Region = Literal["face", "hair", "both"]
REGIONS: tuple[str, ...] = get_args(Region)

# What `sample` draws from the prior (the other part is kept).
RandomPart = Literal["face", "hair"]
RANDOM_PARTS: tuple[str, ...] = get_args(RandomPart)

# File kinds. Photos faceweave reads and writes; video containers it decodes and encodes.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
# The photos a dataset build picks up from a folder (the common camera and web formats only).
DATASET_PHOTO_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp")


def check_choice(param: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise a :class:`~faceweave.errors.ParameterError` naming ``param`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ParameterError(param, value, f"choose from {', '.join(allowed)}")
