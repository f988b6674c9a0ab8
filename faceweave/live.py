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
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)


@dataclass
class Frame:
    rgb: np.ndarray
    t: float  # time.perf_counter() when the frame was captured
    index: int


class _Slot:
    """Holds the newest frame only; a frame not taken before the next arrives is counted as dropped."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.captured = 0
        self.dropped = 0

    def put(self, f: Frame) -> None:
        with self._cond:
            self.captured += 1
            if self._frame is not None:
                self.dropped += 1
            self._frame = f
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, timeout: float = 5.0, poll: bool = False) -> Frame | None | bool:
        """The newest frame (waiting for one); None once the source has ended and nothing is left.

        With ``poll``, returns False when no frame came within ``timeout`` instead of raising.
        """
        with self._cond:
            end = time.monotonic() + timeout
            while self._frame is None and not self._closed:
                left = end - time.monotonic()
                if left <= 0:
                    if poll:
                        return False
                    raise FaceweaveError(f"the capture source gave no frame for {timeout:.0f} s")
                self._cond.wait(left)
            f, self._frame = self._frame, None
            return f


class Capture(Protocol):
    fps: float
    slot: _Slot

    def start(self) -> None: ...

    def close(self) -> None: ...


class _ThreadedCapture:
    def __init__(self) -> None:
        self.slot = _Slot()
        self.fps = 30.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _loop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # noqa: BLE001 - reported by the consumer
            self.error = e
        finally:
            self.slot.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="faceweave-capture", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class FileCapture(_ThreadedCapture):
    """Frames of a clip as if from a camera: released at the clip's frame rate, or at ``fps`` (a
    24 fps clip played as a 30 fps camera), when ``realtime``, else as fast as they are taken; when the
    consumer is slower than real time, frames are dropped like a camera's."""

    def __init__(self, path: str | os.PathLike[str], *, realtime: bool = True, fps: float | None = None,
                 max_frames: int | None = None) -> None:
        super().__init__()
        from faceweave.media.video import probe

        self.path = Path(path)
        info = probe(self.path)
        self.fps = fps or info.fps or 30.0
        self.size = (info.width, info.height)
        self.realtime = realtime
        self.max_frames = max_frames

    def _loop(self) -> None:
        import av

        with av.open(str(self.path)) as c:
            t0 = time.perf_counter()
            for i, fr in enumerate(c.decode(video=0)):
                if self._stop.is_set() or (self.max_frames is not None and i >= self.max_frames):
                    break
                rgb = fr.to_ndarray(format="rgb24")
                if self.realtime:
                    wait = t0 + i / self.fps - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                self.slot.put(Frame(rgb, time.perf_counter(), i))
                if not self.realtime:
                    # As fast as possible, but never overwrite: wait for the consumer to take it.
                    while self.slot._frame is not None and not self._stop.is_set():
                        time.sleep(0.001)


class CameraCapture(_ThreadedCapture):
    """A camera through ``cv2.VideoCapture`` (V4L2 on Linux)."""

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None) -> None:
        super().__init__()
        from faceweave.analysis._mediapipe import quiet_stderr

        with quiet_stderr():  # OpenCV logs its own lines on failure; our one-line error says it
            self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            raise FaceweaveError(f"camera {index}: cannot open it (no camera at that index, or it is busy)")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.size = (int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _loop(self) -> None:
        i = 0
        while not self._stop.is_set():
            ok, bgr = self.cap.read()
            if not ok:
                break
            self.slot.put(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter(), i))
            i += 1

    def close(self) -> None:
        super().close()
        self.cap.release()


class Display(Protocol):
    def show(self, rgb: np.ndarray) -> bool:
        """Show one frame; False when the user asked to stop."""
        ...

    def close(self, keep: bool = True) -> None: ...


class NullDisplay:
    """Shows nothing (benchmarks); keeps the last frame."""

    last: np.ndarray | None = None

    def show(self, rgb: np.ndarray) -> bool:
        self.last = rgb
        return True

    def close(self, keep: bool = True) -> None:
        return None


def window_available() -> bool:
    """Whether ``cv2.imshow`` can open a window here (a GUI build of OpenCV and a display)."""
    if sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM") not in (None, "", "xcb"):
        return True  # e.g. offscreen: Qt runs without a display
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return True


class WindowDisplay:
    """An OpenCV window; q or Esc closes it."""

    def __init__(self, title: str = "faceweave live") -> None:
        if not window_available():
            raise FaceweaveError("no desktop display for a window (DISPLAY is not set); "
                                 "record with --output FILE.mp4 or send to --virtual-camera instead")
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as e:
            raise FaceweaveError(f"cannot open a window: this OpenCV has no GUI support ({e.msg.strip()})") from None

    def show(self, rgb: np.ndarray) -> bool:
        cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self, keep: bool = True) -> None:
        cv2.destroyWindow(self.title)


class RecordingDisplay:
    """Writes the shown frames to a video file (H.264), atomically: complete or absent."""

    def __init__(self, path: str | os.PathLike[str], fps: float, inputs: tuple[str, ...] = ()) -> None:
        import tempfile

        import av

        from faceweave.media.image import check_output_path
        from faceweave.media.stream import ENCODER_OPTIONS
        from faceweave.media.video import VIDEO_SUFFIXES

        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise FaceweaveError(f"{self.path}: a recording needs a video suffix ({', '.join(VIDEO_SUFFIXES)})")
        if not self.path.parent.is_dir():
            raise FaceweaveError(f"{self.path}: output folder {self.path.parent} does not exist")
        check_output_path(self.path.with_suffix(".png"), inputs)
        if any(self.path.resolve() == Path(i).resolve() for i in inputs):
            raise FaceweaveError(f"{self.path}: output path is the same as an input; choose another file name")
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=self.path.suffix, dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(name)
        self._av = av
        self.out: Any = av.open(name, "w")
        self.rate = Fraction(round(fps * 1000), 1000) if fps > 0 else Fraction(30, 1)
        self.t0: float | None = None
        self.stream: Any = None
        # Frames are stamped with the time they were shown (variable frame rate): without B-frames the
        # encoder's decode timestamps can never overtake irregular presentation timestamps.
        self.options = dict(ENCODER_OPTIONS, bf="0")
        self.n = 0
        self._last_pts = 0

    def show(self, rgb: np.ndarray) -> bool:
        if self.stream is None:
            self.stream = self.out.add_stream("libx264", rate=self.rate)
            self.stream.width, self.stream.height = rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = self.options
            self.stream.time_base = Fraction(1, 1000)
            self.stream.codec_context.time_base = Fraction(1, 1000)  # timestamps in ms, as shown
            self.t0 = time.perf_counter()
        frame = self._av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb[: self.stream.height, : self.stream.width]), format="rgb24")
        pts = int(round((time.perf_counter() - self.t0) * 1000))  # type: ignore[operator]
        if self.n:
            pts = max(pts, self._last_pts + 1)
        frame.pts = self._last_pts = pts
        frame.time_base = Fraction(1, 1000)
        self.out.mux(self.stream.encode(frame))
        self.n += 1
        return True

    def close(self, keep: bool = True) -> None:
        try:
            if self.stream is not None:
                self.out.mux(self.stream.encode(None))
            self.out.close()
            if keep and self.n:
                os.chmod(self.tmp, 0o644)
                os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)


class VirtualCameraDisplay:
    """Frames sent to a virtual camera (pyvirtualcam; on Linux a v4l2loopback device)."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise FaceweaveError("--virtual-camera needs pyvirtualcam: pip install 'faceweave[live]'") from None
        try:
            self.cam = pyvirtualcam.Camera(width=width, height=height, fps=fps or 30.0)
        except RuntimeError as e:
            raise FaceweaveError(f"no virtual camera: {str(e).splitlines()[0]}") from None
        log.info("virtual camera: %s", self.cam.device)

    def show(self, rgb: np.ndarray) -> bool:
        self.cam.send(np.ascontiguousarray(rgb))
        return True

    def close(self, keep: bool = True) -> None:
        self.cam.close()


def draw_fps(rgb: np.ndarray, fps: float) -> np.ndarray:
    """The frame rate, top left, white on a dark outline (a copy)."""
    out = rgb.copy()
    scale = max(rgb.shape[0] / 720, 0.4)
    text, org = f"{fps:4.1f} fps", (int(10 * scale) + 4, int(30 * scale) + 4)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(int(4 * scale), 2), cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(int(2 * scale), 1), cv2.LINE_AA)
    return out


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
    from faceweave import api
    from faceweave.analysis.track import FaceTracker
    from faceweave.engines.base import SwapOptions, get_engine
    from faceweave.media.image import as_picture
    from faceweave.realtime import FrameSwapper, TargetFollower

    outs = displays if isinstance(displays, list) else [displays]
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
    )
    if not getattr(eng, "thread_safe", True):
        workers = 1
    stats = LiveStats()
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="faceweave-live")
    pending: deque[tuple[Frame, Future[np.ndarray]]] = deque()
    shown_at: deque[float] = deque(maxlen=30)
    keep = True
    capture.start()
    t_start = time.perf_counter()

    def show(frame: Frame, out: np.ndarray) -> bool:
        now = time.perf_counter()
        shown_at.append(now)
        fps = (len(shown_at) - 1) / (shown_at[-1] - shown_at[0]) if len(shown_at) > 1 else 0.0
        img = draw_fps(out, fps) if show_fps else out
        go = all([d.show(img) for d in outs])
        stats.latencies.append(time.perf_counter() - frame.t)
        stats.shown += 1
        return go

    try:
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
