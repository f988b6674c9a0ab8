"""The web UI: ``faceweave web`` serves a Gradio app (photo swap, video swap, RSGAN, results) and a
small REST API on 127.0.0.1, with upload limits, a bounded job queue and one temporary folder per job.

:mod:`faceweave.web.server` (HTTP, limits, REST), :mod:`faceweave.web.ui` (builds the page from
:mod:`~faceweave.web.tabs`, :mod:`~faceweave.web.handlers` and :mod:`~faceweave.web.components`), and
:mod:`faceweave.web.jobs` (limits, job folders, clean messages). Handlers call :mod:`faceweave.api` only.
"""
