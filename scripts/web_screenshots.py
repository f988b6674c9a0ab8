"""Screenshots of each tab of `faceweave web` for docs/web.md, made in Debian's chromium.

    .venv/bin/python scripts/web_screenshots.py [--out docs/images]

Starts the server on a free port, does one real job per tab with the bundled photos, saves
web_photo.jpg, web_video.jpg, web_rsgan_edit.jpg, web_rsgan_random.jpg, web_rsgan_interpolate.jpg and
web_results.jpg, and stops the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "tests" / "assets"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    from faceweave import api

    marked = Path(tempfile.mkdtemp(prefix="fw-shots-")) / "swapped.png"  # a marked swap for the Verify tab
    api.save(api.swap_picture(ASSETS / "facerec_biden.jpg", ASSETS / "facerec_obama.jpg").picture, marked)
    server = subprocess.Popen([sys.executable, "-m", "faceweave.cli", "web", "--port", str(port)],
                              env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/api/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            pg = b.new_page(viewport={"width": 1280, "height": 900})
            pg.set_default_timeout(300_000)
            pg.goto(url + "/")
            pg.wait_for_selector("#fw-swap")

            def shot(name: str) -> None:
                pg.wait_for_timeout(800)
                pg.screenshot(path=str(a.out / name), full_page=True, type="jpeg", quality=80)

            pg.locator("#fw-source input[type=file]").set_input_files(ASSETS / "facerec_biden.jpg")
            pg.locator("#fw-target input[type=file]").set_input_files(ASSETS / "faceapi_sample1.jpg")
            pg.locator("#fw-faces .thumbnail-item").nth(2).click()
            pg.wait_for_function("() => document.querySelectorAll('#fw-chosen input:checked').length === 2")
            pg.click("#fw-swap")
            pg.wait_for_selector("#fw-download a")
            shot("web_photo.jpg")

            pg.get_by_role("tab", name="Video swap").click()
            pg.locator("#fw-vsource input[type=file]").set_input_files(ASSETS / "facerec_obama.jpg")
            pg.locator("#fw-video input[type=file]").set_input_files(ASSETS / "pyfeat_single_face.mp4")
            pg.locator("#fw-video video").wait_for(state="attached")
            pg.click("#fw-vswap")
            pg.wait_for_function("() => /fps/.test(document.querySelector('#fw-vresult').innerText)")
            pg.wait_for_timeout(6000)
            shot("web_video.jpg")
            pg.wait_for_function("() => /Done/.test(document.querySelector('#fw-vstatus').innerText)")

            pg.get_by_role("tab", name="RSGAN").click()
            pg.locator("#fw-edit-photo input[type=file]").set_input_files(ASSETS / "facerec_obama.jpg")
            pg.wait_for_function(
                "() => parseFloat(document.querySelector('#fw-attr-Smiling input[type=number]').value) > 0.7")
            box = pg.locator("#fw-attr-Smiling input[type=number]")
            box.fill("0")
            box.press("Enter")
            pg.click("#fw-edit")
            pg.wait_for_selector("#fw-edit-download a")
            shot("web_rsgan_edit.jpg")

            pg.get_by_role("tab", name="Random parts").click()
            pg.locator("#fw-sample-photo input[type=file]").set_input_files(ASSETS / "pyfeat_0-f1-su-ph.jpg")
            pg.click("#fw-sample")
            pg.locator("#fw-sample-result .thumbnail-item").nth(5).wait_for()
            shot("web_rsgan_random.jpg")

            pg.get_by_role("tab", name="Interpolation").click()
            pg.locator("#fw-interp-a input[type=file]").set_input_files(ASSETS / "facerec_obama.jpg")
            pg.locator("#fw-interp-b input[type=file]").set_input_files(ASSETS / "facerec_biden.jpg")
            pg.click("#fw-interp")
            pg.wait_for_selector("#fw-interp-result img")
            shot("web_rsgan_interpolate.jpg")

            pg.get_by_role("tab", name="Verify").click()
            pg.locator("#fw-verify-file input[type=file]").set_input_files(marked)
            pg.click("#fw-verify")
            pg.wait_for_function("() => document.querySelector('#fw-verify-summary textarea').value.length > 0")
            shot("web_verify.jpg")

            pg.get_by_role("tab", name="Results").click()
            pg.locator("#fw-results-files a").first.wait_for()
            shot("web_results.jpg")
            b.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
