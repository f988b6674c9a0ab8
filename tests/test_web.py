"""The local web UI: the page, the engine list, a real swap over HTTP, and a clean error."""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import ASSETS, load_rgb
from PIL import Image

from faceweave.web.server import make_server


@pytest.fixture(scope="module")
def base_url():
    srv = make_server("127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _post(url: str, body: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _b64(name: str) -> str:
    return "data:image/jpeg;base64," + base64.b64encode((ASSETS / name).read_bytes()).decode()


def test_page_and_engines(base_url: str) -> None:
    with urllib.request.urlopen(base_url + "/", timeout=10) as r:
        assert b'id="go"' in r.read()
    with urllib.request.urlopen(base_url + "/api/engines", timeout=30) as r:
        d = json.loads(r.read())
    assert "warp" in d["engines"] and "multiband" in d["blends"]


def test_swap_over_http(base_url: str) -> None:
    status, body = _post(base_url + "/api/swap", {"source": _b64("facerec_biden.jpg"),
                                                  "target": _b64("facerec_obama.jpg"), "blend": "poisson"})
    assert status == 200, body[:200]
    img = Image.open(io.BytesIO(body))
    assert img.info.get("faceweave-synthetic") == "1"
    out = np.asarray(img.convert("RGB")).astype(int)
    target = load_rgb("facerec_obama.jpg").astype(int)
    assert out.shape == target.shape and np.abs(out - target).mean() > 1


def test_errors_are_one_line_json(base_url: str) -> None:
    noface = base64.b64encode(b"not an image").decode()
    status, body = _post(base_url + "/api/swap", {"source": noface, "target": _b64("facerec_obama.jpg")})
    assert status == 422
    msg = json.loads(body)["error"]
    assert "source image" in msg and "not an image" in msg and "\n" not in msg and "faceweave-web" not in msg
    status, _ = _post(base_url + "/api/swap", {"target": _b64("facerec_obama.jpg")})
    assert status == 422
