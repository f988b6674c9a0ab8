"""A small local web UI: pick two photos, an engine and a blend, see and download the swap.

``faceweave web`` serves it on 127.0.0.1 with the standard library's HTTP server; the page posts the
photos as JSON (base64) to ``/api/swap`` and gets a PNG back. Every request goes through
:mod:`faceweave.api`, so the web UI behaves exactly like the CLI (same errors, same provenance tag).
"""
