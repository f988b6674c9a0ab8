"""The tabs of the web UI (photo swap, video swap, RSGAN, results), each wiring components to the
handlers of :class:`faceweave.web.handlers.App`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from faceweave.errors import FaceweaveError
from faceweave.web.components import REGIONS, PhotoInput, _clean, _guard
from faceweave.web.handlers import App


def _options(app: App, engines: list[str], blends: list[str]) -> tuple[gr.Dropdown, gr.Dropdown, gr.Checkbox,
                                                                      gr.Dropdown]:
    from faceweave.engines.person import available_persons

    persons = available_persons(app.config.persons)
    with gr.Row():
        engine = gr.Dropdown(engines, value="warp" if "warp" in engines else engines[0], label="Engine",
                             info="from the engine registry (`faceweave engines`)")
        blend = gr.Dropdown(blends, value="multiband" if "multiband" in blends else blends[0], label="Blend")
        harmonize = gr.Checkbox(False, label="Harmonize (learned U-Net, seed 004)",
                                info="evens out skin tone and seams after the blend; demo weights")
        person = gr.Dropdown(list(persons.items()), value=next(iter(persons.values()), None),
                             label="Person (person engine)", info="shipped, and those of `faceweave web --persons DIR`",
                             elem_id="fw-person")
    return engine, blend, harmonize, person


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
        engine, blend, harmonize, person = _options(app, engines, blends)
        go = gr.Button("Swap faces", variant="primary", elem_id="fw-swap")
        with gr.Row():
            result = gr.Image(type="filepath", label="Result", interactive=False, height=400, elem_id="fw-result",
                              buttons=["download", "fullscreen"])
            with gr.Column():
                status = gr.Markdown(elem_id="fw-status")
                download = gr.File(label="Download", interactive=False, elem_id="fw-download")
        target.change(_guard(app.detect), target, [faces, chosen])
        faces.select(app.toggle, chosen, chosen, concurrency_limit=None)
        go.click(_guard(app.swap_photo),
                 [source, target, reference, engine, blend, all_faces, chosen, harmonize, person],
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
        engine, blend, harmonize, person = _options(app, engines, blends)
        with gr.Row():
            go = gr.Button("Swap faces in the video", variant="primary", elem_id="fw-vswap")
            stop = gr.Button("Cancel", variant="stop", elem_id="fw-vcancel")
        with gr.Row():
            result = gr.Video(label="Result", interactive=False, height=360, elem_id="fw-vresult")
            with gr.Column():
                status = gr.Markdown(elem_id="fw-vstatus")
                download = gr.File(label="Download", interactive=False, elem_id="fw-vdownload")
        job = go.click(_guard(app.swap_video), [source, video, engine, blend, all_faces, harmonize, person],
                       [result, download, status])
        stop.click(app.cancel, None, status, cancels=[job], concurrency_limit=None)


def _verify_tab(app: App) -> None:
    with gr.Tab("Verify", id="verify"):
        gr.Markdown("Drop a photo or clip to check it for faceweave's synthetic-media marks: the signed C2PA "
                    "manifest, the XMP `DigitalSourceType` tag and the invisible watermark in the face.")
        upload = gr.File(label="Photo or video", type="filepath", elem_id="fw-verify-file")
        go = gr.Button("Verify", variant="primary", elem_id="fw-verify")
        summary = gr.Textbox(label="Result", lines=7, interactive=False, elem_id="fw-verify-summary")
        details = gr.JSON(label="Details", elem_id="fw-verify-json")
        go.click(_guard(app.verify), upload, [summary, details])


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
