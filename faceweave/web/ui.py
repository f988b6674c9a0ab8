"""The Gradio UI of ``faceweave web``: photo swap, video swap, RSGAN, results.

Every handler calls :mod:`faceweave.api` (nothing deeper), runs inside the server's worker gate and
writes only into its own job folder; errors reach the page as one line without paths. The option
lists come from the registries the CLI uses (``engine_names()``, ``BLEND_MODES``, the checkpoint's
attribute names), so a new engine shows up here with no change to this file.

The components live in :mod:`faceweave.web.components`, the handlers (:class:`App`) in
:mod:`faceweave.web.handlers`, the tabs in :mod:`faceweave.web.tabs`; the names are re-exported here.
"""

from __future__ import annotations

import gradio as gr

from faceweave.web.components import CSS, REGIONS, PhotoInput, _clean, _guard
from faceweave.web.handlers import App, Sessions, _session, face_thumbnail
from faceweave.web.jobs import Gate, WebConfig
from faceweave.web.tabs import _options, _photo_tab, _results_tab, _rsgan_tab, _verify_tab, _video_tab

__all__ = ["CSS", "REGIONS", "App", "PhotoInput", "Sessions", "build", "face_thumbnail",
           "_clean", "_guard", "_options", "_session"]


def build(config: WebConfig, gate: Gate) -> tuple[gr.Blocks, App]:
    """The Blocks app; tabs are built by the functions of :mod:`faceweave.web.tabs`, in order."""
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
            _verify_tab(app)
            _results_tab(app)
        demo.unload(app.end_session)
    return demo, app

