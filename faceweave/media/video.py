"""Video in and out with PyAV (FFmpeg inside its wheel): frames are swapped, the audio is kept.

The audio stream is copied packet for packet when the output container can hold its codec (AAC, MP3,
Opus, ...), and re-encoded to AAC otherwise, so a swapped clip never loses its sound. The output is
written to a temporary file beside the destination and renamed into place only when complete.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.media.atomic import atomic_path

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


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Basic facts of a clip; a file that is not a readable video is a one-line error."""
    import av

    p = Path(path)
    if not p.exists():
        raise FaceweaveError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise FaceweaveError(f"{p}: file is empty (0 bytes)")
    try:
        with av.open(str(p)) as c:
            if not c.streams.video:
                raise FaceweaveError(f"{p}: has no video stream")
            v = c.streams.video[0]
            a = c.streams.audio[0] if c.streams.audio else None
            return VideoInfo(
                v.codec_context.width, v.codec_context.height, float(v.average_rate or 0), int(v.frames or 0),
                a is not None, a.codec_context.name if a is not None else None,
            )
    except av.error.FFmpegError as e:
        raise FaceweaveError(f"{p}: cannot read video ({e})") from None


def read_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """RGB frames of a clip, in order."""
    import av

    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def transform_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    fn: Callable[[np.ndarray, int], np.ndarray],
    *,
    crf: int = 18,
    progress: Callable[[int], None] | None = None,
    require: Callable[[], bool] | None = None,
    require_message: str = "",
    finalize: Callable[[Path], None] | None = None,
) -> int:
    """Write ``dst`` with every frame of ``src`` passed through ``fn(rgb, index)``; audio kept.

    ``require`` is checked once all frames are through: when it returns False the output is
    discarded with ``require_message``. ``finalize(tmp)`` runs on the finished temporary file before
    it is renamed into place (provenance: the C2PA manifest is added there). Returns the number of
    video frames written. The output is
    H.264 (yuv420p) in the container of ``dst``'s suffix; the frame rate and timestamps are the source's.
    """
    import av

    src_p, dst_p = Path(src), Path(dst)
    info = probe(src_p)
    n = 0
    try:
        with atomic_path(dst_p, suffix=dst_p.suffix) as tmp, av.open(str(src_p)) as inp, av.open(str(tmp), "w") as out:
            vin = inp.streams.video[0]
            ain = inp.streams.audio[0] if inp.streams.audio else None
            rate = vin.average_rate or Fraction(30, 1)
            vout = out.add_stream("libx264", rate=rate)
            vout.width = info.width - info.width % 2
            vout.height = info.height - info.height % 2
            vout.pix_fmt = "yuv420p"
            vout.options = {"crf": str(crf), "preset": "medium"}
            vout.time_base = vin.time_base
            aout = None
            copy_audio = False
            if ain is not None:
                copy_audio = ain.codec_context.name in _MP4_AUDIO_COPY and dst_p.suffix.lower() in (".mp4", ".m4v",
                                                                                                     ".mov", ".mkv")
                if copy_audio:
                    aout = out.add_stream_from_template(ain)
                else:
                    aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 44100)
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream.type == "audio" and aout is not None:
                    if packet.dts is None:
                        continue
                    if copy_audio:
                        packet.stream = aout
                        out.mux(packet)
                    else:
                        for af in packet.decode():
                            af.pts = None
                            out.mux(aout.encode(af))
                    continue
                if packet.stream.type != "video":
                    continue
                for frame in packet.decode():
                    rgb = frame.to_ndarray(format="rgb24")
                    res = fn(rgb, n)[: vout.height, : vout.width]
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(res), format="rgb24")
                    vf.pts = frame.pts
                    vf.time_base = frame.time_base
                    out.mux(vout.encode(vf))
                    n += 1
                    if progress is not None:
                        progress(n)
            out.mux(vout.encode(None))
            if aout is not None and not copy_audio:
                out.mux(aout.encode(None))
            if n == 0:
                raise FaceweaveError(f"{src_p}: the video has no frames")
            if require is not None and not require():
                raise FaceweaveError(require_message or f"{src_p}: nothing was changed")
            if finalize is not None:
                out.close()  # finish the container (closing again on exit is a no-op)
                finalize(tmp)
    except av.error.FFmpegError as e:
        raise FaceweaveError(f"{src_p}: video processing failed ({e})") from None
    return n
