"""Displays of ``faceweave live``: a window, a recording (written atomically), a virtual camera, or
nothing (measurement); and the frame-rate overlay."""

from __future__ import annotations

import logging
import os
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)


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


