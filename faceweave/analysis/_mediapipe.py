"""Quiet, cached access to mediapipe 0.10.21's legacy solutions (detection, mesh, selfie)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence the C++ log lines TFLite / mediapipe write to file descriptor 2."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@cache
def _solutions() -> Any:
    with quiet_stderr():
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        from mediapipe.python import solutions

    return solutions


def warmed(model: Any) -> Any:
    """Run one blank frame through a new graph while stderr is silenced.

    A graph opens its models in its own threads, which log (TFLite's "Created ... delegate" line)
    after the constructor returns; a first frame, waited for, lets that happen in silence.
    """
    import numpy as np

    with _LOCK, quiet_stderr():
        model.process(np.zeros((64, 64, 3), np.uint8))
    return model


@cache
def face_detector(min_confidence: float = 0.35) -> Any:
    with quiet_stderr():
        model = _solutions().face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence)
    return warmed(model)


@cache
def face_mesh() -> Any:
    with quiet_stderr():
        model = _solutions().face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
        )
    return warmed(model)


@cache
def selfie_segmenter() -> Any:
    with quiet_stderr():
        model = _solutions().selfie_segmentation.SelfieSegmentation(model_selection=0)
    return warmed(model)


def run(model: Any, rgb: Any) -> Any:
    """Run a mediapipe solution serially (the graphs are not thread-safe) with its logs silenced."""
    with _LOCK, quiet_stderr():
        return model.process(rgb)


# FaceMesh's landmark network alone, on a region of interest given by the caller: no detector runs.
# FaceLandmarkCpu is the subgraph mediapipe's own tracking mode uses between detections; it drops
# its output when the network's face-presence score is below 0.5.
_ROI_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:face_landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:face_landmarks"
}
"""


@cache
def face_mesh_roi() -> Any:
    """The landmark-only graph; stateless between calls, so one serves every tracked face."""
    with quiet_stderr():
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        _solutions()
        cfg = text_format.Parse(_ROI_GRAPH, calculator_pb2.CalculatorGraphConfig())
        return SolutionBase(graph_config=cfg, side_inputs={"with_attention": True}, outputs=["face_landmarks"])


def normalized_rect(cx: float, cy: float, width: float, height: float, rotation: float) -> Any:
    from mediapipe.framework.formats import rect_pb2

    return rect_pb2.NormalizedRect(x_center=cx, y_center=cy, width=width, height=height, rotation=rotation)
