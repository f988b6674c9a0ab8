"""Capture sources of ``faceweave live``: a camera or a clip, each filling a one-frame slot from its own
thread. When processing falls behind, a new frame overwrites the one waiting in the slot: old frames
are dropped, never queued, so latency stays bounded."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from faceweave.errors import FaceweaveError


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
        from faceweave.media.video import open_video

        with open_video(self.path) as c:
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


