"""``faceweave live``: camera → swap → window (or a recording, or a virtual camera), on a CPU.

Pieces, each replaceable:

* a **capture source** fills a one-frame slot from its own thread: :class:`CameraCapture`
  (``cv2.VideoCapture``) or :class:`FileCapture` (a clip decoded with PyAV and paced at its frame rate
  — the same code path, used by tests, benchmarks and CI, which have no camera). When processing falls
  behind, a new frame overwrites the one waiting in the slot: old frames are dropped, never queued, so
  latency stays bounded;
* the swap is :class:`faceweave.realtime.FrameSwapper` (tracking, then the engine), the same as for
  video files; up to ``workers`` frames are swapped at once;
* **displays**: :class:`WindowDisplay` (``cv2.imshow``; needs a desktop session — OpenCV's Qt window,
  from the opencv-contrib wheel mediapipe installs), :class:`RecordingDisplay` (an .mp4 written
  atomically), :class:`VirtualCameraDisplay` (pyvirtualcam on a v4l2loopback device, optional extra
  ``faceweave[live]``), :class:`NullDisplay` (measurement). The frame rate is drawn on the frame.

Press q or Esc in the window, or Ctrl-C, to stop; a recording made so far is then finalised.

Captures live in :mod:`faceweave.live.capture`, displays in :mod:`faceweave.live.display`; both are
re-exported here.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.live.capture import CameraCapture, Capture, FileCapture, Frame, _Slot, _ThreadedCapture
from faceweave.live.display import (
    Display,
    NullDisplay,
    RecordingDisplay,
    VirtualCameraDisplay,
    WindowDisplay,
    draw_fps,
    window_available,
)

__all__ = [
    "CameraCapture", "Capture", "Display", "FileCapture", "Frame", "LiveStats", "NullDisplay",
    "RecordingDisplay", "VirtualCameraDisplay", "WindowDisplay", "draw_fps", "run_live", "window_available",
    "_Slot", "_ThreadedCapture",
]


@dataclass
class LiveStats:
    captured: int = 0
    shown: int = 0
    dropped: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    swapped: int = 0

    @property
    def fps(self) -> float:
        return self.shown / self.seconds if self.seconds > 0 else 0.0

    @property
    def latency_median_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def latency_p95_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        return 1000 * float(np.percentile(self.latencies, 95))


def _make_swapper(source: Any, capture: Capture, engine: str, source_face: int | None,
                  target_face: int | str | None, reference: Any, reference_threshold: float | None,
                  options: dict[str, Any]) -> tuple[Any, bool]:
    """The per-frame swapper (tracking, then the engine) and whether the engine is thread-safe."""
    from faceweave import api
    from faceweave.analysis.track import FaceTracker
    from faceweave.engines.base import SwapOptions, get_engine
    from faceweave.media.image import as_picture
    from faceweave.realtime import FrameSwapper, TargetFollower, occlusion_tracker

    eng = get_engine(engine)
    src = as_picture(source)
    sf = api._pick_source(api._analyze(src.rgb, mesh=eng.needs_mesh, identity=False), src, source_face)
    ref = api._reference_face(reference)
    opts = SwapOptions(**{k: options.pop(k) for k in ("blend", "colour_transfer", "keep_mouth") if k in options},
                       extra=options)
    swapper = FrameSwapper(
        engine=eng, source=src.rgb, source_face=sf, options=opts,
        follower=TargetFollower(target_face, ref, reference_threshold or api.REFERENCE_THRESHOLD),
        tracker=FaceTracker(identity=ref is not None, fps=capture.fps),
        occlusion=occlusion_tracker(eng, opts),
    )
    return swapper, getattr(eng, "thread_safe", True)


class _Presenter:
    """Shows swapped frames on every display, with the frame rate of the last 30, and counts them."""

    def __init__(self, outs: list[Display], stats: LiveStats, show_fps: bool) -> None:
        self.outs, self.stats, self.show_fps = outs, stats, show_fps
        self.shown_at: deque[float] = deque(maxlen=30)

    def show(self, frame: Frame, out: np.ndarray) -> bool:
        now = time.perf_counter()
        shown_at = self.shown_at
        shown_at.append(now)
        fps = (len(shown_at) - 1) / (shown_at[-1] - shown_at[0]) if len(shown_at) > 1 else 0.0
        img = draw_fps(out, fps) if self.show_fps else out
        go = all([d.show(img) for d in self.outs])
        self.stats.latencies.append(time.perf_counter() - frame.t)
        self.stats.shown += 1
        return go


def _pump(capture: Capture, swapper: Any, pool: ThreadPoolExecutor, presenter: _Presenter, workers: int,
          max_seconds: float | None, t_start: float) -> None:
    """Capture → analyse → render in the pool → show, in order, until the source ends, ``max_seconds``
    pass or a display asks to stop."""
    pending: deque[tuple[Frame, Future[np.ndarray]]] = deque()
    show = presenter.show
    running = True
    while running:
        if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
            break
        # Show finished frames at once, in order; at most `workers` frames in flight.
        while running and pending and (pending[0][1].done() or len(pending) >= max(workers, 1)):
            f, fut = pending.popleft()
            running = show(f, fut.result())
        if not running:
            break
        # Wait briefly for a new frame while renders are running, so a finished one is not held back.
        frame = capture.slot.take(timeout=0.003, poll=True) if pending else capture.slot.take()
        if frame is False:
            continue
        if frame is None:
            break
        assert isinstance(frame, Frame)
        chosen = swapper.analyse(frame.rgb, frame.index)
        pending.append((frame, pool.submit(swapper.render, frame.rgb, chosen, frame.index)))
    while running and pending:
        f, fut = pending.popleft()
        running = show(f, fut.result())


def run_live(
    source: Any,
    capture: Capture,
    displays: Display | list[Display],
    *,
    engine: str = "warp",
    source_face: int | None = None,
    target_face: int | str | None = None,
    reference: Any = None,
    reference_threshold: float | None = None,
    workers: int = 2,
    show_fps: bool = True,
    max_seconds: float | None = None,
    **options: Any,
) -> LiveStats:
    """Swap ``source``'s face into every frame ``capture`` gives, showing each on ``displays``.

    Returns counts and latencies (capture → shown). Stops at the end of the source, after
    ``max_seconds``, when a display asks (window closed with q / Esc) or on Ctrl-C (recordings are
    kept then); on any other exception recordings are discarded.
    """
    outs = displays if isinstance(displays, list) else [displays]
    swapper, thread_safe = _make_swapper(source, capture, engine, source_face, target_face, reference,
                                         reference_threshold, options)
    if not thread_safe:
        workers = 1
    stats = LiveStats()
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="faceweave-live")
    keep = True
    capture.start()
    t_start = time.perf_counter()
    try:
        _pump(capture, swapper, pool, _Presenter(outs, stats, show_fps), workers, max_seconds, t_start)
        err = getattr(capture, "error", None)
        if err is not None:
            raise FaceweaveError(f"capture failed: {err}") from None
    except KeyboardInterrupt as e:
        keep = type(e) is KeyboardInterrupt  # Ctrl-C is how a live session ends; SIGTERM discards
        if not keep:
            raise
    except BaseException:
        keep = False
        raise
    finally:
        stats.seconds = time.perf_counter() - t_start
        capture.close()
        pool.shutdown(wait=True, cancel_futures=True)
        for d in outs:
            d.close(keep=keep)
        stats.captured, stats.dropped = capture.slot.captured, capture.slot.dropped
        stats.swapped = swapper.swapped
    return stats
