"""A streaming video pipeline: decode, analyse, render and encode overlap; frames come out in order.

    reader thread ──q_in──▶ caller's thread: analyse(rgb, i) ──▶ pool of `workers` threads: render(rgb, state, i)
                                                  └──────── futures, in frame order ──q_out──▶ writer thread

* The reader demuxes and decodes (PyAV releases the GIL inside FFmpeg); audio packets travel down
  the same queues as the video frames, so the writer muxes everything in demux order.
* ``analyse`` runs on the caller's thread, one frame after another (tracking needs the previous
  frame); ``render`` (the swap) runs on a thread pool — OpenCV and NumPy release the GIL in their
  kernels — so consecutive frames are rendered at the same time.
* The writer waits for each frame's future in order, encodes it (H.264, yuv420p) and muxes it.
* Queues are bounded, so memory stays flat however long the clip is.
* The output is written to a hidden temporary file beside the destination and renamed into place only
  when complete (:func:`faceweave.media.atomic.atomic_path`). Any error or interruption
  (``KeyboardInterrupt``, which the CLI also raises on SIGTERM) stops the threads, removes the temporary
  file and leaves no output; the input is only ever read.
"""

from __future__ import annotations

import contextvars
import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.media.atomic import atomic_path
from faceweave.media.video import _MP4_AUDIO_COPY, open_video, probe

log = logging.getLogger(__name__)

T = TypeVar("T")

# H.264 settings of swapped clips. On the 640×360 sample clip (first 120 frames, CPU per frame, PSNR
# of the decoded frames against the RGB frames given to the encoder): "veryfast" 8.2 ms, 40.9 dB;
# "superfast" 4.6 ms, 41.8 dB; "ultrafast" 3.8 ms, 41.5 dB, all at CRF 18. "superfast" keeps the
# quality (CRF 18 is visually lossless) at about half the cost of "veryfast", for files ~1.8× larger
# (~1.5 Mbit/s at 360p); "ultrafast" saves little more and drops CABAC (files ~3.3×).
ENCODER_OPTIONS: dict[str, str] = {"crf": "18", "preset": "superfast"}

_END = object()
# errno values that are about the output folder (full, read-only, over quota, too big), not the clip
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM}


class _Stop(Exception):
    """Raised inside a worker thread when another part of the pipeline has failed."""


def _put(q: queue.Queue[Any], item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


class _Worker(threading.Thread):
    """A thread whose exception is kept for the caller (and stops the whole pipeline)."""

    def __init__(self, name: str, fn: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.fn, self.stop = fn, stop
        self.error: BaseException | None = None
        # The caller's context variables go with the work (a plain Thread starts with none): a callback
        # such as the web UI's progress bar finds its request through them.
        self.context = contextvars.copy_context()

    def run(self) -> None:
        try:
            self.context.run(self.fn)
        except _Stop:
            pass
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            self.error = e
            self.stop.set()


@dataclass
class _Streams:
    """The open input and output containers and their streams."""

    inp: Any
    out: Any
    vin: Any
    ain: Any
    vout: Any
    aout: Any
    copy_audio: bool


def _open_streams(inp: Any, out: Any, info: Any, dst_p: Path, encoder_options: dict[str, str] | None) -> _Streams:
    """Output streams like the input's: H.264 video at the source's rate, audio copied when the
    container can hold its codec, else AAC."""
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    ain = inp.streams.audio[0] if inp.streams.audio else None
    vout = out.add_stream("libx264", rate=vin.average_rate or Fraction(30, 1))
    vout.width = info.width - info.width % 2
    vout.height = info.height - info.height % 2
    vout.pix_fmt = "yuv420p"
    vout.options = dict(encoder_options or ENCODER_OPTIONS)
    vout.time_base = vin.time_base
    aout, copy_audio = None, False
    if ain is not None:
        copy_audio = ain.codec_context.name in _MP4_AUDIO_COPY and dst_p.suffix.lower() in (
            ".mp4", ".m4v", ".mov", ".mkv")
        aout = (out.add_stream_from_template(ain) if copy_audio
                else out.add_stream("aac", rate=ain.codec_context.sample_rate or 44100))
    return _Streams(inp, out, vin, ain, vout, aout, copy_audio)


def _read(s: _Streams, q_in: queue.Queue[Any], stop: threading.Event) -> None:
    """The reader thread: demux, decode video frames to RGB, pass audio on (packets or decoded frames)."""
    n = 0
    for packet in s.inp.demux(*([s.vin] + ([s.ain] if s.ain is not None else []))):
        if packet.stream.type == "audio":
            if s.aout is None or packet.dts is None:
                continue
            if s.copy_audio:
                _put(q_in, ("a", packet), stop)
            else:
                for af in packet.decode():
                    _put(q_in, ("af", af), stop)
            continue
        for frame in packet.decode():
            _put(q_in, ("v", n, frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base), stop)
            n += 1
    _put(q_in, _END, stop)


def _write(s: _Streams, q_out: queue.Queue[Any], stop: threading.Event, written: list[int],
           progress: Callable[[int], None] | None) -> None:
    """The writer thread: wait for each rendered frame in order, encode and mux it with the audio."""
    import av

    vout, aout, out = s.vout, s.aout, s.out
    while True:
        item = _get(q_out, stop)
        if item is _END:
            break
        kind = item[0]
        if kind == "v":
            _, fut, pts, tb = item
            res = fut.result()[: vout.height, : vout.width]
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(res), format="rgb24")
            vf.pts, vf.time_base = pts, tb
            out.mux(vout.encode(vf))
            written[0] += 1
            if progress is not None:
                progress(written[0])
        elif kind == "a":
            packet = item[1]
            packet.stream = aout
            out.mux(packet)
        else:
            af = item[1]
            af.pts = None
            out.mux(aout.encode(af))
    out.mux(vout.encode(None))
    if aout is not None and not s.copy_audio:
        out.mux(aout.encode(None))


def _dispatch(q_in: queue.Queue[Any], q_out: queue.Queue[Any], stop: threading.Event,
              analyse: Callable[[np.ndarray, int], T], render: Callable[[np.ndarray, T, int], np.ndarray],
              pool: ThreadPoolExecutor) -> None:
    """The caller's thread: analyse each frame in order, hand its render to the pool, queue the future."""
    while True:
        item = _get(q_in, stop)
        if item is _END:
            _put(q_out, _END, stop)
            break
        if item[0] != "v":
            _put(q_out, item, stop)
            continue
        _, n, rgb, pts, tb = item
        state = analyse(rgb, n)
        fut: Future[np.ndarray] = pool.submit(render, rgb, state, n)
        _put(q_out, ("v", fut, pts, tb), stop)


def stream_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    analyse: Callable[[np.ndarray, int], T],
    render: Callable[[np.ndarray, T, int], np.ndarray],
    *,
    workers: int = 2,
    queue_size: int = 8,
    encoder_options: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    check: Callable[[int], None] | None = None,
    finalize: Callable[[Path], None] | None = None,
) -> int:
    """Write ``dst``: every frame of ``src`` through ``analyse`` (in order) then ``render``; audio kept.

    ``progress(frames_written)`` is called from the encoder thread, which runs in a copy of the caller's
    context (a UI's progress object is bound to it); an exception it raises stops the job and discards
    the output.
    ``finalize(tmp)`` runs on the finished, closed temporary file before it is moved into place (the
    provenance manifest is signed there); raising discards the output.
    ``check(frames)`` runs once every frame is written, before the file is moved into place: raising
    there (e.g. a :class:`FaceweaveError`) discards the output. Returns the number of frames written.
    The audio stream is copied packet for packet when the container can hold its codec, else
    re-encoded to AAC; frame rate and timestamps are the source's.
    """
    import av

    src_p, dst_p = Path(src), Path(dst)
    info = probe(src_p)
    stop = threading.Event()
    q_in: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
    q_out: queue.Queue[Any] = queue.Queue(maxsize=max(queue_size, 2 * workers + 2))
    written = [0]
    try:
        with atomic_path(dst_p, suffix=dst_p.suffix) as tmp, open_video(src_p) as inp, \
                av.open(str(tmp), "w") as out:
            s = _open_streams(inp, out, info, dst_p, encoder_options)
            reader = _Worker("faceweave-decode", lambda: _read(s, q_in, stop), stop)
            writer = _Worker("faceweave-encode", lambda: _write(s, q_out, stop, written, progress), stop)
            pool = ThreadPoolExecutor(max_workers=max(int(workers), 1), thread_name_prefix="faceweave-render")
            reader.start()
            writer.start()
            try:
                _dispatch(q_in, q_out, stop, analyse, render, pool)
                writer.join()
            except _Stop:
                pass
            finally:
                if writer.is_alive() or reader.error is not None or writer.error is not None:
                    stop.set()  # interrupted or failed: wind every thread down
                pool.shutdown(wait=True, cancel_futures=True)
                reader.join()
                writer.join()
            for w in (reader, writer):
                if w.error is not None:
                    raise w.error
            if written[0] == 0:
                raise FaceweaveError(f"{src_p}: the video has no frames")
            if check is not None:
                check(written[0])
            if finalize is not None:
                out.close()  # the container is complete on disk; closing it again on exit is a no-op
                finalize(tmp)
    except av.error.FFmpegError as e:
        if getattr(e, "errno", None) in _OUTPUT_ERRNOS:  # the disk, not the clip
            raise FaceweaveError(f"{dst_p}: cannot write ({os.strerror(e.errno)})") from None
        raise FaceweaveError(f"{src_p}: video processing failed ({e})") from None
    except OSError as e:  # the temporary file or the rename: a read-only or full output folder
        raise FaceweaveError(f"{dst_p}: cannot write ({e.strerror or e})") from None
    return written[0]
