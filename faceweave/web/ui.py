"""The Gradio UI of ``faceweave web``: photo swap, video swap, RSGAN, results.

Every handler calls :mod:`faceweave.api` (nothing deeper), runs inside the server's worker gate and
writes only into its own job folder; errors reach the page as one line without paths. The option
lists come from the registries the CLI uses (``engine_names()``, ``BLEND_MODES``, the checkpoint's
attribute names), so a new engine shows up here with no change to this file.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from faceweave.errors import FaceweaveError
from faceweave.web.jobs import Gate, WebConfig, job_folder, needs_source, remove_tree, user_error

log = logging.getLogger(__name__)

REGIONS = ("face", "hair", "both")  # RSGAN edit regions (z_cf, z_ch or both), as `faceweave edit --region`
CSS = """
#fw-faces .thumbnail-item { cursor: pointer; }
footer { display: none !important; }
"""


def PhotoInput(**kwargs: Any) -> gr.Image:  # noqa: N802 - reads like the component it makes
    """An image upload that checks the file header (pixel limit, real image) before anything decodes it.

    (The check wraps the instance's ``preprocess``: a gr.Image subclass would make gradio write a
    ``.pyi`` stub next to this module at import time.)
    """
    img = gr.Image(**kwargs)
    base = img.preprocess

    def preprocess(payload: Any) -> Any:
        if payload is not None and getattr(payload, "path", None):
            from faceweave.media.image import image_size

            try:
                image_size(payload.path)
            except FaceweaveError as e:
                raise gr.Error(_clean(e, {payload.path: img.label or "image"})) from None
        return base(payload)

    img.preprocess = preprocess  # type: ignore[method-assign]
    return img


def _clean(e: BaseException, labels: dict[str, str] | None = None) -> str:
    return user_error(e, labels)[1]


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
                   blend: str, all_faces: bool, chosen: list[str] | None, harmonize: bool,
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
                                   reference=reference or None, harmonize=bool(harmonize))
            suffix = ".png" if res.picture.alpha is not None or Path(target).suffix.lower() == ".png" else ".jpg"
            out["swapped"] = res.swapped
            return [api.save(res.picture, folder / f"swap{suffix}")]

        files = self._run(request, labels, work)
        faces = ", ".join(str(i) for i in out["swapped"])
        return files[0], files[0], f"Replaced target face(s) {faces} with the {engine} engine ({blend} blend)."

    # -- video swap
    def swap_video(self, source: str | None, video: str | None, engine: str, blend: str, all_faces: bool,
                   harmonize: bool, request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[str, str, str]:  # noqa: B008 - gradio's idiom
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
                                    harmonize=bool(harmonize))
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
        from faceweave.media.image import as_picture

        if not photo:
            raise gr.Error("upload a photo to edit first")
        start = start or {}
        changed = {n: float(v) for n, v in values.items() if abs(float(v) - start.get(n, -1.0)) > 0.005}
        if not changed:
            raise gr.Error("move at least one attribute slider first")

        def work(folder: Path) -> list[str]:
            out = api.edit(photo, changed, region=region)
            return [api.save(as_picture(out), folder / "edit.png")]

        files = self._run(request, {photo: "photo"}, work)
        what = ", ".join(f"{n}={v:.2f}" for n, v in changed.items())
        return files[0], files[0], f"Edited {region}: {what}"

    def sample(self, photo: str | None, part: str, n: float, seed: float | None,
               request: gr.Request) -> tuple[list[str], list[str]]:
        from faceweave import api
        from faceweave.media.image import as_picture

        if not photo:
            raise gr.Error("upload a photo first")

        def work(folder: Path) -> list[str]:
            outs = api.sample(photo, random=part, n=int(n), seed=None if seed is None else int(seed))
            return [api.save(as_picture(o), folder / f"random_{part}_{i}.png") for i, o in enumerate(outs)]

        files = self._run(request, {photo: "photo"}, work)
        return files, files

    def interpolate(self, a: str | None, b: str | None, part: str, steps: float,
                    request: gr.Request) -> tuple[str, str]:
        from faceweave import api
        from faceweave.media.image import as_picture

        if not a or not b:
            raise gr.Error("upload photos A and B first")

        def work(folder: Path) -> list[str]:
            strip = api.interpolate(a, b, part=part, steps=int(steps), sheet=True)
            return [api.save(as_picture(strip), folder / f"interpolate_{part}.png")]

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


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Last line of defence: a handler's unexpected error becomes one clean line on the page."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001
            raise gr.Error(_clean(e)) from None

    return wrapper


def build(config: WebConfig, gate: Gate) -> tuple[gr.Blocks, App]:
    """The Blocks app; tabs are built by the functions in :data:`TABS` order."""
    from faceweave.engines.base import BLEND_MODES, engine_names

    app = App(config, gate)
    engines = engine_names()
    blends = list(BLEND_MODES)
    with gr.Blocks(title="faceweave", delete_cache=(600, 3600)) as demo:
        gr.Markdown("# faceweave\nFace swapping and face editing on your own computer. Every result is "
                    "tagged as synthetic media.")
        with gr.Tabs():
            _photo_tab(app, engines, blends)
            _video_tab(app, engines, blends)
            _rsgan_tab(app)
            # Provenance "verify" tab goes here: it will call faceweave.api.verify(path).to_dict()
            # (manifest / XMP / watermark) once that function lands on main.
            _results_tab(app)
        demo.unload(app.end_session)
    return demo, app


def _options(engines: list[str], blends: list[str]) -> tuple[gr.Dropdown, gr.Dropdown]:
    with gr.Row():
        engine = gr.Dropdown(engines, value="warp" if "warp" in engines else engines[0], label="Engine",
                             info="from the engine registry (`faceweave engines`)")
        blend = gr.Dropdown(blends, value="multiband" if "multiband" in blends else blends[0], label="Blend")
        harmonize = gr.Checkbox(False, label="Harmonize (learned U-Net, seed 004)",
                                info="evens out skin tone and seams after the blend; demo weights")
    return engine, blend, harmonize


def _photo_tab(app: App, engines: list[str], blends: list[str]) -> None:
    with gr.Tab("Photo swap", id="photo"):
        with gr.Row():
            source = PhotoInput(type="filepath", sources=["upload"], label="Source photo (the face to use)",
                                height=300, elem_id="fw-source")
            target = PhotoInput(type="filepath", sources=["upload"], label="Target photo (faces to replace)",
                                height=300, elem_id="fw-target")
        faces = gr.Gallery(label="Faces found in the target: click to choose which to replace", columns=8,
                           height=190, allow_preview=False, object_fit="contain", elem_id="fw-faces",
                           fit_columns=False, buttons=[], interactive=False)
        with gr.Row():
            chosen = gr.CheckboxGroup([], value=[], label="Target faces", elem_id="fw-chosen")
            all_faces = gr.Checkbox(False, label="All faces", elem_id="fw-all")
        with gr.Accordion("Only one person: reference photo", open=False):
            reference = PhotoInput(type="filepath", sources=["upload"], label="Reference photo (optional): "
                                   "replace only the target faces of this person", height=200,
                                   elem_id="fw-reference")
        engine, blend, harmonize = _options(engines, blends)
        go = gr.Button("Swap faces", variant="primary", elem_id="fw-swap")
        with gr.Row():
            result = gr.Image(type="filepath", label="Result", interactive=False, height=400, elem_id="fw-result",
                              buttons=["download", "fullscreen"])
            with gr.Column():
                status = gr.Markdown(elem_id="fw-status")
                download = gr.File(label="Download", interactive=False, elem_id="fw-download")
        target.change(_guard(app.detect), target, [faces, chosen])
        faces.select(app.toggle, chosen, chosen, concurrency_limit=None)
        go.click(_guard(app.swap_photo), [source, target, reference, engine, blend, all_faces, chosen, harmonize],
                 [result, download, status])


def _video_tab(app: App, engines: list[str], blends: list[str]) -> None:
    with gr.Tab("Video swap", id="video"):
        with gr.Row():
            source = PhotoInput(type="filepath", sources=["upload"], label="Source photo (the face to use)",
                                height=300, elem_id="fw-vsource")
            video = gr.Video(sources=["upload"], label="Target video (.mp4, .mov, .mkv, .webm; audio is kept)",
                             height=300, elem_id="fw-video")
        with gr.Row():
            all_faces = gr.Checkbox(False, label="All faces in every frame (default: the largest)")
        engine, blend, harmonize = _options(engines, blends)
        with gr.Row():
            go = gr.Button("Swap faces in the video", variant="primary", elem_id="fw-vswap")
            stop = gr.Button("Cancel", variant="stop", elem_id="fw-vcancel")
        with gr.Row():
            result = gr.Video(label="Result", interactive=False, height=360, elem_id="fw-vresult")
            with gr.Column():
                status = gr.Markdown(elem_id="fw-vstatus")
                download = gr.File(label="Download", interactive=False, elem_id="fw-vdownload")
        job = go.click(_guard(app.swap_video), [source, video, engine, blend, all_faces, harmonize],
                       [result, download, status])
        stop.click(app.cancel, None, status, cancels=[job], concurrency_limit=None)


def _rsgan_tab(app: App) -> None:
    from faceweave import api

    with gr.Tab("RSGAN", id="rsgan"):
        try:
            names = list(api.attributes())
        except FaceweaveError as e:
            gr.Markdown(f"RSGAN is not available: {_clean(e)}")
            return
        gr.Markdown("RSGAN (Natsume et al. 2018) keeps separate face and hair latents: edit attributes of the "
                    "face, the hair or both; draw random faces or hair; morph between two photos.")
        with gr.Tab("Edit"):
            with gr.Row():
                with gr.Column():
                    photo = PhotoInput(type="filepath", sources=["upload"], label="Photo", height=300,
                                       elem_id="fw-edit-photo")
                    region = gr.Radio(list(REGIONS), value="face", label="Region", elem_id="fw-edit-region")
                with gr.Column():
                    sliders = [gr.Slider(0, 1, value=0.5, step=0.01, label=n, elem_id=f"fw-attr-{n}") for n in names]
            start = gr.State({})
            go = gr.Button("Apply edit", variant="primary", elem_id="fw-edit")
            with gr.Row():
                result = gr.Image(type="filepath", label="Edited", interactive=False, height=360,
                                  elem_id="fw-edit-result", buttons=["download", "fullscreen"])
                with gr.Column():
                    status = gr.Markdown(elem_id="fw-edit-status")
                    download = gr.File(label="Download", interactive=False, elem_id="fw-edit-download")
            photo.change(_guard(app.read_attributes), photo, [*sliders, start])

            def edit_event(data: dict[Any, Any], request: gr.Request) -> tuple[str, str, str]:
                values = {n: data[s] for n, s in zip(names, sliders, strict=True)}
                return app.edit(data[photo], data[region], data[start], values, request)

            go.click(_guard(edit_event), {photo, region, start, *sliders}, [result, download, status])
        with gr.Tab("Random parts"):
            with gr.Row():
                sphoto = PhotoInput(type="filepath", sources=["upload"], label="Photo", height=300,
                                    elem_id="fw-sample-photo")
                with gr.Column():
                    part = gr.Radio(["hair", "face"], value="hair", label="Draw at random")
                    n = gr.Slider(1, 12, value=6, step=1, label="How many")
                    seed = gr.Number(1, precision=0, label="Seed (same seed, same samples)")
                    sgo = gr.Button("Draw", variant="primary", elem_id="fw-sample")
            sgallery = gr.Gallery(label="Samples", columns=6, height=260, elem_id="fw-sample-result")
            sfiles = gr.File(label="Download", file_count="multiple", interactive=False)
            sgo.click(_guard(app.sample), [sphoto, part, n, seed], [sgallery, sfiles])
        with gr.Tab("Interpolation"):
            with gr.Row():
                a = PhotoInput(type="filepath", sources=["upload"], label="Photo A", height=260, elem_id="fw-interp-a")
                b = PhotoInput(type="filepath", sources=["upload"], label="Photo B", height=260, elem_id="fw-interp-b")
                with gr.Column():
                    ipart = gr.Radio(list(REGIONS), value="face", label="Move from A to B")
                    steps = gr.Slider(3, 10, value=5, step=1, label="Steps")
                    igo = gr.Button("Interpolate", variant="primary", elem_id="fw-interp")
            strip = gr.Image(type="filepath", label="A → B", interactive=False, elem_id="fw-interp-result",
                             buttons=["download", "fullscreen"])
            ifile = gr.File(label="Download", interactive=False)
            igo.click(_guard(app.interpolate), [a, b, ipart, steps], [strip, ifile])


def _results_tab(app: App) -> None:
    with gr.Tab("Results", id="results") as tab:
        gr.Markdown("Everything made in this browser tab; files are deleted when the tab is closed.")
        gallery = gr.Gallery(label="Images", columns=6, height=300, elem_id="fw-results")
        files = gr.File(label="Download", file_count="multiple", interactive=False, elem_id="fw-results-files")
        refresh = gr.Button("Refresh", size="sm")
        tab.select(app.results, None, [gallery, files], concurrency_limit=None)
        refresh.click(app.results, None, [gallery, files], concurrency_limit=None)
