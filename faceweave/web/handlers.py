"""The web UI's handlers: one :class:`App` per server (config, worker gate, sessions), each method
calling :mod:`faceweave.api` and writing only into its own job folder; also callable from tests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.web.components import _clean
from faceweave.web.jobs import Gate, WebConfig, job_folder, needs_source, remove_tree

log = logging.getLogger(__name__)


class Sessions:
    """Results and job folders per browser session; a session's folders go when its tab closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.results: dict[str, list[str]] = {}
        self.folders: dict[str, list[Path]] = {}
        self.cancelled: set[str] = set()

    def add(self, session: str, folder: Path, files: list[str]) -> None:
        with self._lock:
            self.folders.setdefault(session, []).append(folder)
            self.results.setdefault(session, []).extend(files)

    def files(self, session: str) -> list[str]:
        with self._lock:
            return [f for f in self.results.get(session, []) if Path(f).exists()]

    def end(self, session: str) -> None:
        with self._lock:
            folders = self.folders.pop(session, [])
            self.results.pop(session, None)
            self.cancelled.discard(session)
        for f in folders:
            remove_tree(f)


def _session(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or "anonymous"


def _person_option(engine: str, person: str | None) -> dict[str, object]:
    """The chosen trained person, for the person engine only (other engines take no such option)."""
    return {"person": person} if engine == "person" and person else {}


def _rsgan_provenance(*inputs: str) -> tuple[Any, int | None]:
    """An RSGAN edit/sample/interpolate job's provenance (trainedAlgorithmicMedia) and its watermark id."""
    from faceweave.pipelines.rsgan.photos import provenance

    prov = provenance(None, *inputs)
    return prov, getattr(prov, "watermark_id", None)


def _rsgan_picture(out: np.ndarray, prov: Any) -> Any:
    """An RSGAN result with its provenance, for ``api.save``."""
    from faceweave.media.image import as_picture

    pic = as_picture(out)
    pic.info["provenance"] = prov
    return pic


class App:
    """Handlers bound to one server's config, gate and sessions (also callable from tests)."""

    def __init__(self, config: WebConfig, gate: Gate) -> None:
        assert config.root is not None
        self.config = config
        self.gate = gate
        self.sessions = Sessions()
        self.root = config.root / "cache" / "jobs"  # inside gradio's cache: results are served without a copy
        self.root.mkdir(parents=True, exist_ok=True)

    # -- one job: the worker gate, a job folder kept for its results, clean errors
    def _run(self, request: gr.Request | None, labels: dict[str, str], work: Callable[[Path], list[str]]) -> list[str]:
        try:
            with self.gate.turn(), job_folder(self.root, keep=True) as folder:
                files = work(folder)
        except gr.Error:
            raise
        except BaseException as e:  # noqa: BLE001 - the page gets one clean line, the log the details
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise gr.Error(_clean(e, labels)) from None
        self.sessions.add(_session(request), folder, files)
        return files

    # -- photo swap
    def detect(self, target: str | None) -> tuple[list[tuple[np.ndarray, str]], Any]:
        if not target:
            return [], gr.update(choices=[], value=[])
        from faceweave import api
        from faceweave.media.image import read_image

        try:
            with self.gate.turn():
                pic = read_image(target)
                faces = api.analyze(pic, mesh=False, identity=False)
        except Exception as e:  # noqa: BLE001
            raise gr.Error(_clean(e, {target: "target photo"})) from None
        if not faces:
            raise gr.Error("target photo: no face found")
        thumbs = [(face_thumbnail(pic.rgb, f.box), f"face {f.index}") for f in faces]
        choices = [(f"face {f.index}", str(f.index)) for f in faces]
        return thumbs, gr.update(choices=choices, value=[str(faces[0].index)])

    @staticmethod
    def toggle(chosen: list[str] | None, evt: gr.SelectData) -> list[str]:
        key = str(evt.index)
        chosen = list(chosen or [])
        return [c for c in chosen if c != key] if key in chosen else sorted([*chosen, key], key=int)

    def swap_photo(self, source: str | None, target: str | None, reference: str | None, engine: str,
                   blend: str, all_faces: bool, chosen: list[str] | None, harmonize: bool, person: str | None,
                   request: gr.Request) -> tuple[str, str, str]:
        from faceweave import api

        if not needs_source(engine):
            source = None  # the engine's trained person is the source
        elif not source or not target:
            raise gr.Error("upload a source photo (the face to use) and a target photo first")
        if not target:
            raise gr.Error("upload a target photo first")
        target_face: Any = "all" if all_faces else ([int(c) for c in chosen] if chosen else None)
        labels = {source or "": "source photo", target: "target photo", reference or "": "reference photo"}
        out: dict[str, Any] = {}

        def work(folder: Path) -> list[str]:
            res = api.swap_picture(source, target, engine=engine, blend=blend, target_face=target_face,
                                   reference=reference or None, harmonize=bool(harmonize),
                                   **_person_option(engine, person))
            suffix = ".png" if res.picture.alpha is not None or Path(target).suffix.lower() == ".png" else ".jpg"
            out["swapped"] = res.swapped
            return [api.save(res.picture, folder / f"swap{suffix}")]

        files = self._run(request, labels, work)
        faces = ", ".join(str(i) for i in out["swapped"])
        return files[0], files[0], f"Replaced target face(s) {faces} with the {engine} engine ({blend} blend)."

    # -- provenance
    def verify(self, path: str | None) -> tuple[str, dict[str, object]]:
        from faceweave import api

        if not path:
            raise gr.Error("upload a photo or video to check")
        try:
            with self.gate.turn():
                rep = api.verify(path)
        except FaceweaveError as e:
            raise gr.Error(_clean(e, {path: "uploaded file"})) from None
        rep.path = Path(path).name  # the server's folders never reach the page
        return "\n".join(rep.lines()), rep.to_dict()

    # -- video swap
    def swap_video(self, source: str | None, video: str | None, engine: str, blend: str, all_faces: bool,
                   harmonize: bool, person: str | None, request: gr.Request,
                   progress: gr.Progress = gr.Progress()) -> tuple[str, str, str]:  # noqa: B008 - gradio's idiom
        from faceweave import api
        from faceweave.media.video import VIDEO_SUFFIXES

        if not needs_source(engine):
            source = None  # the engine's trained person is the source
        elif not source:
            raise gr.Error("upload a source photo and a target video first")
        if not video:
            raise gr.Error("upload a target video first")
        if Path(video).suffix.lower() not in VIDEO_SUFFIXES:
            raise gr.Error(f"target video: not a video file (use {', '.join(VIDEO_SUFFIXES)})")
        session = _session(request)
        self.sessions.cancelled.discard(session)
        start = time.monotonic()
        stats: dict[str, float] = {"done": 0, "total": 0}

        def on_frame(done: int, total: int | None) -> None:
            if session in self.sessions.cancelled:
                raise FaceweaveError("video swap cancelled; no file was written")
            elapsed = max(time.monotonic() - start, 1e-6)
            fps = done / elapsed
            stats.update(done=done, total=total or 0, fps=fps)
            if total:
                eta = (total - done) / fps if fps > 0 else 0.0
                progress((done, total), unit="frames",
                         desc=f"frame {done}/{total} · {fps:.1f} fps · ETA {eta:.0f} s")
            else:
                progress(None, desc=f"frame {done} · {fps:.1f} fps")

        def work(folder: Path) -> list[str]:
            progress(0, desc="analysing the source photo")
            counts = api.swap_video(source, video, folder / "swap.mp4", engine=engine, blend=blend,
                                    target_face="all" if all_faces else None, on_frame=on_frame,
                                    harmonize=bool(harmonize), **_person_option(engine, person))
            stats["swapped"] = counts["swapped"]
            return [str(folder / "swap.mp4")]

        files = self._run(request, {source or "": "source photo", video: "target video"}, work)
        elapsed = time.monotonic() - start
        total = int(stats["total"] or stats["done"])
        status = (f"Done: 100 % · {int(stats['done'])}/{total} frames, face swapped in {int(stats['swapped'])} · "
                  f"{stats['done'] / max(elapsed, 1e-6):.1f} fps · {elapsed:.0f} s · audio kept")
        return files[0], files[0], status

    def cancel(self, request: gr.Request) -> str:
        self.sessions.cancelled.add(_session(request))
        return "Cancelled: the video job stops after the current frame and writes no file."

    # -- RSGAN
    def read_attributes(self, photo: str | None) -> list[Any]:
        from faceweave import api

        names = list(api.attributes())
        if not photo:
            return [gr.update() for _ in names] + [{}]
        try:
            with self.gate.turn():
                c = api.attributes(photo=photo)
        except Exception as e:  # noqa: BLE001
            raise gr.Error(_clean(e, {photo: "photo"})) from None
        values = {n: float(v) for n, v in c.items() if v is not None}
        return [gr.update(value=round(values.get(n, 0.5), 2)) for n in names] + [values]

    def edit(self, photo: str | None, region: str, start: dict[str, float] | None, values: dict[str, float],
             request: gr.Request | None) -> tuple[str, str, str]:
        from faceweave import api
        if not photo:
            raise gr.Error("upload a photo to edit first")
        start = start or {}
        changed = {n: float(v) for n, v in values.items() if abs(float(v) - start.get(n, -1.0)) > 0.005}
        if not changed:
            raise gr.Error("move at least one attribute slider first")

        def work(folder: Path) -> list[str]:
            prov, wid = _rsgan_provenance(photo)
            out = api.edit(photo, changed, region=region, watermark_id=wid)
            return [api.save(_rsgan_picture(out, prov), folder / "edit.png")]

        files = self._run(request, {photo: "photo"}, work)
        what = ", ".join(f"{n}={v:.2f}" for n, v in changed.items())
        return files[0], files[0], f"Edited {region}: {what}"

    def sample(self, photo: str | None, part: str, n: float, seed: float | None,
               request: gr.Request) -> tuple[list[str], list[str]]:
        from faceweave import api
        if not photo:
            raise gr.Error("upload a photo first")

        def work(folder: Path) -> list[str]:
            prov, wid = _rsgan_provenance(photo)
            outs = api.sample(photo, random=part, n=int(n), seed=None if seed is None else int(seed), watermark_id=wid)
            return [api.save(_rsgan_picture(o, prov), folder / f"random_{part}_{i}.png") for i, o in enumerate(outs)]

        files = self._run(request, {photo: "photo"}, work)
        return files, files

    def interpolate(self, a: str | None, b: str | None, part: str, steps: float,
                    request: gr.Request) -> tuple[str, str]:
        from faceweave import api
        if not a or not b:
            raise gr.Error("upload photos A and B first")

        def work(folder: Path) -> list[str]:
            prov, wid = _rsgan_provenance(a, b)
            strip = api.interpolate(a, b, part=part, steps=int(steps), sheet=True, watermark_id=wid)
            return [api.save(_rsgan_picture(strip, prov), folder / f"interpolate_{part}.png")]

        files = self._run(request, {a: "photo A", b: "photo B"}, work)
        return files[0], files[0]

    # -- results
    def results(self, request: gr.Request) -> tuple[list[str], list[str]]:
        files = self.sessions.files(_session(request))
        images = [f for f in files if Path(f).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")]
        return images, files

    def end_session(self, request: gr.Request) -> None:
        self.sessions.end(_session(request))


def face_thumbnail(rgb: np.ndarray, box: np.ndarray, size: int = 160, margin: float = 0.3) -> np.ndarray:
    """The face in ``box`` with a margin, as a square-ish thumbnail at most ``size`` pixels high."""
    import cv2

    x0, y0, x1, y1 = (float(v) for v in box)
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    h, w = rgb.shape[:2]
    xa, ya = max(0, int(x0 - mx)), max(0, int(y0 - my))
    xb, yb = min(w, int(x1 + mx)), min(h, int(y1 + my))
    crop = rgb[ya:yb, xa:xb]
    s = size / max(1, crop.shape[0])
    return cv2.resize(crop, (max(1, round(crop.shape[1] * s)), size), interpolation=cv2.INTER_AREA)

