"""Pieces shared by the web UI's tabs and handlers: the checked photo upload, the one-line error a page
shows, the handler guard, the page's CSS and the RSGAN edit regions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from faceweave.errors import FaceweaveError
from faceweave.web.jobs import user_error

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

