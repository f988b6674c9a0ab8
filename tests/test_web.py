"""`faceweave web`: the Gradio UI in a real browser (Debian's chromium driven by Playwright) and the
HTTP guard / REST API with bad requests.

One server for the whole module, started as a user would (`python -m faceweave.cli web`), with
small upload limits (8 MB per file, 20 MB per request) so the oversize cases stay quick, and with
TMPDIR pointing at a fresh folder: after the server stops, that folder must be empty again.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import ASSETS, faces_of, load_rgb, write_bomb_png
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_FILE_MB, MAX_REQUEST_MB = 8, 20


class Server:
    def __init__(self, url: str, tmp: Path, proc: subprocess.Popen) -> None:
        self.url, self.tmp, self.proc = url, tmp, proc

    @property
    def root(self) -> Path:
        (root,) = self.tmp.glob("faceweave-web-*")
        return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("webtmp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TMPDIR=str(tmp), OMP_NUM_THREADS="1", GRADIO_ANALYTICS_ENABLED="False")
    log = (tmp_path_factory.mktemp("weblog") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceweave.cli", "web", "--port", str(port), "--max-file-mb", str(MAX_FILE_MB),
         "--max-request-mb", str(MAX_REQUEST_MB), "--workers", "2"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the web server did not start: " + Path(log.name).read_text()[-2000:])
        time.sleep(0.5)
    srv = Server(url, tmp, proc)
    yield srv
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    # Every file the server wrote lived in its own temporary folder, and that folder is gone.
    assert list(tmp.iterdir()) == [], f"left behind: {list(tmp.rglob('*'))[:10]}"


# ------------------------------------------------------------------ HTTP helpers
def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for k, (name, data) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                  f"Content-Type: application/octet-stream\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
             method: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=180) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def _swap(server: Server, fields: dict[str, str] | None = None, source: tuple[str, bytes] | None = None,
          target: tuple[str, bytes] | None = None) -> tuple[int, bytes]:
    files = {"source": source or ("s.jpg", (ASSETS / "facerec_biden.jpg").read_bytes()),
             "target": target or ("t.jpg", (ASSETS / "facerec_obama.jpg").read_bytes())}
    body, ctype = _multipart(fields or {}, files)
    status, out, _ = _request(server.url + "/api/swap", body, {"Content-Type": ctype})
    return status, out


def _raw(url: str, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes (URLs a client library would normalise, bodies it would not cut short); (status, body)."""
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30) as s:
        s.sendall(data)
        raw = b""
        try:
            while chunk := s.recv(65536):
                raw += chunk
                head, sep, body = raw.partition(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if sep and m and len(body) >= int(m.group(1)):
                    break
        except ConnectionResetError:
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _assert_clean_error(status: int, body: bytes, expect: str) -> None:
    assert 400 <= status < 500, (status, body[:300])
    msg = json.loads(body)["error"]
    assert re.search(expect, msg, re.I), msg
    assert "Traceback" not in msg and "/tmp" not in msg and str(Path.home()) not in msg, msg


def _still_serving(server: Server) -> None:
    status, body, _ = _request(server.url + "/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


# ------------------------------------------------------------------ HTTP tests
def test_rest_swap_returns_a_tagged_png_and_removes_its_job_folder(server: Server, tmp_path: Path) -> None:
    from faceweave.media.provenance import is_marked

    status, png = _swap(server)
    assert status == 200, png[:300]
    img = Image.open(io.BytesIO(png))
    target = load_rgb("facerec_obama.jpg")
    assert img.format == "PNG" and img.size == (target.shape[1], target.shape[0])
    out = np.asarray(img.convert("RGB")).astype(int)
    x0, y0, x1, y1 = (int(v) for v in faces_of("facerec_obama.jpg")[0].box)
    assert np.abs(out[y0:y1, x0:x1] - target[y0:y1, x0:x1]).mean() > 5  # the face changed
    p = tmp_path / "result.png"
    p.write_bytes(png)
    assert is_marked(p)  # provenance tag, as from the CLI
    assert list((server.root / "jobs").iterdir()) == []  # the per-request folder is gone


def test_rest_person_engine_needs_no_source(server: Server) -> None:
    body, ctype = _multipart({"engine": "person"}, {"target": ("t.jpg", (ASSETS / "facerec_obama.jpg").read_bytes())})
    status, png, _ = _request(server.url + "/api/swap", body, {"Content-Type": ctype})
    assert status == 200, png[:300]
    out = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = load_rgb("facerec_obama.jpg").astype(int)
    assert out.shape == target.shape and np.abs(out - target).mean() > 0.1  # the face went through the person net


@pytest.mark.parametrize("case", ["oversize_body", "bomb_png", "malformed_multipart", "traversal_dots",
                                  "traversal_encoded", "traversal_gradio_file", "unknown_engine", "target_face_99",
                                  "non_image", "file_over_limit", "cross_origin"])
def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(server: Server, case: str,
                                                                   tmp_path: Path) -> None:
    u = server.url
    if case == "oversize_body":
        # the answer comes as soon as the headers announce the size; the client has sent 64 KB of 21 MB
        n = (MAX_REQUEST_MB + 1) * 2**20
        head = (f"POST /api/swap HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {n}\r\n\r\n").encode()
        status, out = _raw(u, head + bytes(65536))
        _assert_clean_error(status, out, r"request too large.*20 MB per request")
        assert status == 413
    elif case == "bomb_png":
        t0 = time.monotonic()
        status, out = _swap(server, target=("bomb.png", write_bomb_png(tmp_path / "bomb.png").read_bytes()))
        _assert_clean_error(status, out, r"target image: .*limit.*decompression-bomb")
        assert time.monotonic() - t0 < 10  # refused from the header, not after decoding 900 MP
    elif case == "malformed_multipart":
        status, out, _ = _request(u + "/api/swap", b"--xyz\r\nnot a part", {"Content-Type": "multipart/form-data"})
        _assert_clean_error(status, out, r"malformed multipart|missing file")
        status, out, _ = _request(u + "/gradio_api/upload", b"garbage",
                                  {"Content-Type": "multipart/form-data; boundary=xyz"})
        assert status == 400 and b"Traceback" not in out
    elif case == "traversal_dots":
        status, out = _raw(u, b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        _assert_clean_error(status, out, r"bad URL")
        assert status == 400
    elif case == "traversal_encoded":
        status, out, _ = _request(u + "/gradio_api/file=%2e%2e/%2e%2e/etc/passwd")
        _assert_clean_error(status, out, r"bad URL")
    elif case == "traversal_gradio_file":
        status, out, _ = _request(u + "/gradio_api/file=/etc/passwd")
        assert status in (403, 404) and b"root:" not in out
    elif case == "unknown_engine":
        status, out = _swap(server, {"engine": "nope"})
        _assert_clean_error(status, out, r"unknown engine 'nope'.*warp")
    elif case == "target_face_99":
        status, out = _swap(server, {"target_face": "99"})
        _assert_clean_error(status, out, r"target face 99 is out of range")
    elif case == "non_image":
        status, out = _swap(server, source=("notes.jpg", b"this is not a picture" * 50))
        _assert_clean_error(status, out, r"source image: not an image file")
    elif case == "file_over_limit":
        status, out = _swap(server, source=("big.jpg", bytes((MAX_FILE_MB + 1) * 2**20)))
        _assert_clean_error(status, out, r"source: file too large.*8 MB per file")
    elif case == "cross_origin":
        status, out, _ = _request(u + "/gradio_api/queue/join", b"{}",
                                  {"Content-Type": "text/plain", "Origin": "http://evil.example"})
        _assert_clean_error(status, out, r"cross-origin")
    _still_serving(server)


# ------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: Server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server.url + "/")
    pg.wait_for_selector("#fw-swap")
    yield pg
    ctx.close()


def _fetch(pg, link_selector: str) -> bytes:
    href = pg.locator(link_selector).first.get_attribute("href")
    assert href
    with urllib.request.urlopen(href, timeout=60) as r:
        return r.read()


def _toasts(pg, timeout: float = 30) -> str:
    pg.wait_for_selector(".toast-body", timeout=timeout * 1000)
    return " ".join(t.inner_text() for t in pg.locator(".toast-body").all())


def test_browser_photo_swap_by_clicking_a_detected_face(page) -> None:
    pg = page
    pg.locator("#fw-source input[type=file]").set_input_files(ASSETS / "facerec_biden.jpg")
    pg.locator("#fw-target input[type=file]").set_input_files(ASSETS / "faceapi_sample1.jpg")
    thumbs = pg.locator("#fw-faces .thumbnail-item")
    thumbs.nth(2).wait_for()
    assert thumbs.count() == 3
    boxes = pg.locator("#fw-chosen input[type=checkbox]")
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True, False, False]  # default: the largest
    checked = "() => [...document.querySelectorAll('#fw-chosen input')].map(b => b.checked ? 1 : 0).join('')"
    thumbs.nth(0).click()  # clicking a chosen face drops it ...
    pg.wait_for_function(f"() => ({checked})() === '000'")
    thumbs.nth(2).click()  # ... clicking another adds it
    pg.wait_for_function(f"() => ({checked})() === '001'")
    assert [boxes.nth(i).is_checked() for i in range(3)] == [False, False, True]
    pg.click("#fw-swap")
    pg.wait_for_selector("#fw-download a")
    assert "Replaced target face(s) 2" in pg.locator("#fw-status").inner_text()
    out = np.asarray(Image.open(io.BytesIO(_fetch(pg, "#fw-download a"))).convert("RGB")).astype(int)
    target = load_rgb("faceapi_sample1.jpg").astype(int)
    assert out.shape == target.shape
    faces = faces_of("faceapi_sample1.jpg")

    def change(i: int) -> float:
        x0, y0, x1, y1 = (int(v) for v in faces[i].box)
        return float(np.abs(out[y0:y1, x0:x1] - target[y0:y1, x0:x1]).mean())

    assert change(2) > 5 and change(0) < 2.5, (change(0), change(2))  # face 2 replaced, face 0 untouched (JPEG)
    pg.get_by_role("tab", name="Results").click()
    pg.locator("#fw-results-files a").first.wait_for()
    assert re.search(r"swap\s*\.jpg", pg.locator("#fw-results-files").inner_text())


def test_browser_video_swap_shows_progress_to_100_percent(page) -> None:
    import av

    pg = page
    pg.get_by_role("tab", name="Video swap").click()
    pg.locator("#fw-vsource input[type=file]").set_input_files(ASSETS / "facerec_biden.jpg")
    pg.locator("#fw-video input[type=file]").set_input_files(ASSETS / "pyfeat_single_face.mp4")
    pg.locator("#fw-video video").wait_for(state="attached")
    pg.click("#fw-vswap")
    seen: list[float] = []
    fps_seen = False
    deadline = time.monotonic() + 300
    while "Done" not in pg.locator("#fw-vstatus").inner_text():
        text = pg.locator("#fw-vresult").inner_text()
        seen += [float(x) for x in re.findall(r"(\d+(?:\.\d+)?)%", text)]
        fps_seen |= bool(re.search(r"frame \d+/72 · [\d.]+ fps · ETA \d+ s", text))
        assert time.monotonic() < deadline, "video job did not finish"
        assert not pg.locator(".toast-body").count(), _toasts(pg)
        time.sleep(0.3)
    status = pg.locator("#fw-vstatus").inner_text()
    assert "100 %" in status and "72/72 frames" in status, status
    assert fps_seen and any(0 < x < 100 for x in seen) and max(seen) > 50, seen  # progress moved through the job
    data = _fetch(pg, "#fw-vdownload a")
    with av.open(io.BytesIO(data)) as c:
        assert c.streams.audio, "audio was dropped"
        assert sum(1 for _ in c.decode(video=0)) == 72


def test_browser_video_swap_cancel_stops_the_job_and_writes_nothing(page, server: Server) -> None:
    pg = page
    before = len(list(server.root.rglob("swap.mp4")))
    pg.get_by_role("tab", name="Video swap").click()
    pg.locator("#fw-vsource input[type=file]").set_input_files(ASSETS / "facerec_obama.jpg")
    pg.locator("#fw-video input[type=file]").set_input_files(ASSETS / "pyfeat_single_face.mp4")
    pg.locator("#fw-video video").wait_for(state="attached")
    pg.click("#fw-vswap")
    pg.wait_for_function("() => /fps/.test(document.querySelector('#fw-vresult').innerText)")
    assert list(server.root.rglob(".swap.mp4.*"))  # the job is writing its (atomic, temporary) output
    pg.click("#fw-vcancel")
    pg.wait_for_function("() => /Cancelled/.test(document.querySelector('#fw-vstatus').innerText)")
    # the worker itself stops at the next frame (not just the page): its partial file goes, no output appears
    deadline = time.monotonic() + 15
    while list(server.root.rglob(".swap.mp4.*")):
        assert time.monotonic() < deadline, "the video job kept running after Cancel"
        time.sleep(0.2)
    assert len(list(server.root.rglob("swap.mp4"))) == before


def test_browser_rsgan_edit(page) -> None:
    pg = page
    pg.get_by_role("tab", name="RSGAN").click()
    pg.locator("#fw-edit-photo input[type=file]").set_input_files(ASSETS / "facerec_obama.jpg")
    smiling = pg.locator("#fw-attr-Smiling input[type=number]")
    # the slider starts at the classifier's c* for this face (Obama smiles broadly: near 1)
    pg.wait_for_function("() => parseFloat(document.querySelector('#fw-attr-Smiling input[type=number]').value) > 0.7")
    smiling.fill("0")
    smiling.press("Enter")
    pg.click("#fw-edit")
    pg.wait_for_selector("#fw-edit-result img")
    assert "Smiling=0.00" in pg.locator("#fw-edit-status").inner_text()
    out = np.asarray(Image.open(io.BytesIO(_fetch(pg, "#fw-edit-download a")))
                     .convert("RGB")).astype(int)
    src = load_rgb("facerec_obama.jpg").astype(int)
    assert out.shape == src.shape
    x0, y0, x1, y1 = (int(v) for v in faces_of("facerec_obama.jpg")[0].box)
    inside = np.abs(out[y0:y1, x0:x1] - src[y0:y1, x0:x1]).mean()
    outside = np.abs(out[:, : max(1, x0 - 40)] - src[:, : max(1, x0 - 40)]).mean()
    assert inside > 1.0 and outside < 0.5, (inside, outside)  # the face changed, the rest of the photo did not


def test_browser_verify_tab_reports_the_marks_of_a_swap_and_their_absence(page, tmp_path: Path) -> None:
    from faceweave import api

    swapped = tmp_path / "swapped.png"
    api.save(api.swap_picture(ASSETS / "facerec_biden.jpg", ASSETS / "facerec_obama.jpg").picture, swapped)
    pg = page
    for path, expect in ((swapped, r"SYNTHETIC.*C2PA manifest: VALID"), (ASSETS / "facerec_obama.jpg",
                                                                         r"no synthetic mark found")):
        pg.reload()
        pg.get_by_role("tab", name="Verify").click()
        pg.locator("#fw-verify-file input[type=file]").set_input_files(path)
        pg.click("#fw-verify")
        pg.wait_for_function("() => document.querySelector('#fw-verify-summary textarea').value.includes("
                             f"'{path.name}')", timeout=120_000)
        text = pg.locator("#fw-verify-summary textarea").input_value()
        assert re.search(expect, text, re.S), text
        assert "/tmp" not in text and "cache" not in text, text  # no server path on the page


def test_browser_oversized_upload_is_refused_with_a_message(page, tmp_path: Path) -> None:
    big = tmp_path / "huge.jpg"
    big.write_bytes(bytes((MAX_FILE_MB + 1) * 2**20))
    page.locator("#fw-source input[type=file]").set_input_files(big)
    assert re.search(r"exceed.*maximum allowed size of 8(\.0)? ?mb", _toasts(page), re.I)


def test_browser_non_image_upload_is_refused_with_a_message(page, tmp_path: Path) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is a text file, not a photo\n" * 20)
    page.locator("#fw-target input[type=file]").set_input_files(fake)
    msg = _toasts(page)
    assert "Target photo" in msg and "not an image file" in msg, msg
    assert "/tmp" not in msg and str(Path.home()) not in msg



# ------------------------------------------------------------------ command line
@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], r"--host 0\.0\.0\.0 makes the UI reachable .* add --auth USER:PASS .*--no-auth"),
    (["--auth", "nopassword"], r"--auth must be USER:PASS"),
    (["--auth", "a:b", "--no-auth"], r"contradict"),
    (["--max-file-mb", "500", "--max-request-mb", "100"], r"--max-file-mb .* not above --max-request-mb"),
])
def test_web_command_refuses_unsafe_or_bad_flags(args: list[str], message: str, capsys, monkeypatch) -> None:
    from faceweave import cli
    from faceweave.web import server

    def no_server(*a: object, **k: object) -> None:
        raise AssertionError("a server was started despite the bad flags")

    monkeypatch.setattr(server, "create_app", no_server)
    assert cli.main(["web", "--port", "0", *args]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
