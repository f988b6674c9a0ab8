"""Video in and out with PyAV (FFmpeg inside its wheel): frames are swapped, the audio is kept.

The audio stream is copied packet for packet when the output container can hold its codec (AAC, MP3,
Opus, ...), and re-encoded to AAC otherwise, so a swapped clip never loses its sound. The output is
written to a temporary file beside the destination and renamed into place only when complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
_MP4_AUDIO_COPY = {"aac", "mp3", "mp3float", "ac3", "eac3", "alac", "opus", "flac"}


def is_video(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    audio_codec: str | None


def open_video(path: str | os.PathLike[str]) -> Any:
    """An input container; tags that are not UTF-8 (a damaged or foreign file) are read with
    replacement characters instead of raising ``UnicodeDecodeError`` from deep inside PyAV."""
    import av

    return av.open(str(path), metadata_errors="replace")


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Basic facts of a clip; a file that is not a readable video is a one-line error."""
    import av

    p = Path(path)
    if not p.exists():
        raise FaceweaveError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise FaceweaveError(f"{p}: file is empty (0 bytes)")
    try:
        with open_video(p) as c:
            if not c.streams.video:
                raise FaceweaveError(f"{p}: has no video stream")
            v = c.streams.video[0]
            a = c.streams.audio[0] if c.streams.audio else None
            check_frame_size(v, p)
            return VideoInfo(
                v.codec_context.width, v.codec_context.height, float(v.average_rate or 0), int(v.frames or 0),
                a is not None, a.codec_context.name if a is not None else None,
            )
    except av.error.FFmpegError as e:
        raise FaceweaveError(f"{p}: cannot read video ({e})") from None


def check_frame_size(stream: object, name: str | os.PathLike[str]) -> None:
    """Refuse a video stream whose header announces frames over the pixel limit, before any is decoded
    (the decompression-bomb guard of :func:`faceweave.media.image.check_pixels`, for clips)."""
    from faceweave.media.image import check_pixels

    cc = stream.codec_context  # type: ignore[attr-defined]
    check_pixels(int(cc.width or 0), int(cc.height or 0), str(name))


def read_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """RGB frames of a clip, in order (the clip is probed first: a bad or oversized clip is a one-line error)."""
    import av

    probe(path)
    try:
        with open_video(path) as c:
            for frame in c.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as e:
        raise FaceweaveError(f"{path}: cannot decode video ({e})") from None


