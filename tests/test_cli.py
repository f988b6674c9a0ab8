"""The CLI as a user meets it: real photos, and the whole bad-input list of the foundation issue."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ASSETS, faces_of, load_rgb, run_cli
from PIL import Image

from faceweave.media import read_image
from faceweave.media.provenance import is_marked

OBAMA = ASSETS / "facerec_obama.jpg"
BIDEN = ASSETS / "facerec_biden.jpg"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _fails_cleanly(r, out: Path, *words: str) -> None:
    assert r.returncode != 0
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]  # no temp file left


def test_swap_writes_a_tagged_output(tmp_path: Path) -> None:
    out = tmp_path / "o.jpg"
    before = _sha(OBAMA), _sha(BIDEN)
    r = run_cli("swap", BIDEN, OBAMA, "-o", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    assert read_image(out).shape == load_rgb("facerec_obama.jpg").shape[:2]
    assert is_marked(out)
    assert (_sha(OBAMA), _sha(BIDEN)) == before  # inputs untouched


def test_version_models_detect(tmp_path: Path) -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("faceweave ")
    r = run_cli("models", "--verify")
    assert r.returncode == 0, r.stdout
    assert "dlib-landmarks-68" in r.stdout and "face-recognition-models" in r.stdout
    assert "MISMATCH" not in r.stdout and "missing" not in r.stdout
    r = run_cli("detect", ASSETS / "faceapi_sample4.jpg", "--json", "--draw", tmp_path / "d.png")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["faces"]) == 4 and len(data["faces"][0]["landmarks"]) == 68
    assert (tmp_path / "d.png").exists()


@pytest.mark.parametrize("kind", ["zero", "text", "truncated", "folder", "missing"])
def test_unreadable_inputs(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.jpg"
    if kind == "zero":
        bad.write_bytes(b"")
        words = ("empty",)
    elif kind == "text":
        bad.write_text("this is not a photo\n")
        words = ("not an image",)
    elif kind == "truncated":
        data = OBAMA.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
        words = ("truncated",)
    elif kind == "folder":
        bad = tmp_path / "dir.jpg"
        bad.mkdir()
        words = ("folder",)
    else:
        bad = tmp_path / "missing.jpg"
        words = ("no such file",)
    out = tmp_path / "out.png"
    _fails_cleanly(run_cli("swap", bad, OBAMA, "-o", out), out, str(bad), *words)
    _fails_cleanly(run_cli("swap", OBAMA, bad, "-o", out), out, str(bad))


def test_no_face_names_the_file(tmp_path: Path) -> None:
    # A real photo region with no face in it: the background of the astronaut portrait.
    noface = tmp_path / "noface.png"
    cv2.imwrite(str(noface), cv2.cvtColor(load_rgb("faceapi_sample2.jpg")[900:1300, 0:500], cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.png"
    _fails_cleanly(run_cli("swap", noface, OBAMA, "-o", out), out, str(noface), "no face", "source")
    _fails_cleanly(run_cli("swap", OBAMA, noface, "-o", out), out, str(noface), "no face", "target")


def test_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    tgt = tmp_path / "t.jpg"
    tgt.write_bytes(OBAMA.read_bytes())
    before = _sha(tgt)
    r = run_cli("swap", BIDEN, tgt, "-o", tgt)
    assert r.returncode != 0 and "same as an input" in r.stderr and "Traceback" not in r.stderr
    assert _sha(tgt) == before


def test_unknown_output_format_and_options(tmp_path: Path) -> None:
    out = tmp_path / "o.xyz"
    _fails_cleanly(run_cli("swap", BIDEN, OBAMA, "-o", out), out, "unsupported output format")
    out = tmp_path / "o.png"
    _fails_cleanly(run_cli("swap", BIDEN, OBAMA, "-o", out, "--target-face", "7"), out, "out of range")
    r = run_cli("swap", BIDEN, OBAMA, "-o", out, "--blend", "magic")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    upright = Image.open(OBAMA)
    # store the pixels turned on their side, with EXIF orientation 6 ("rotate 90° CW to display")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "rotated.jpg"
    stored.save(src, exif=exif.tobytes(), quality=95)
    assert Image.open(src).size == (upright.size[1], upright.size[0])
    out = tmp_path / "o.png"
    r = run_cli("swap", BIDEN, src, "-o", out)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == upright.size  # displayed orientation


def test_rgba_alpha_is_kept(tmp_path: Path) -> None:
    rgb = load_rgb("skimage_astronaut.png")
    h, w = rgb.shape[:2]
    alpha = np.tile(np.linspace(40, 255, w).astype(np.uint8), (h, 1))
    src = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src)
    out = tmp_path / "o.png"
    r = run_cli("swap", OBAMA, src, "-o", out)
    assert r.returncode == 0, r.stderr
    res = np.asarray(Image.open(out))
    assert res.shape == (h, w, 4)
    assert np.array_equal(res[..., 3], alpha)
    assert np.abs(res[..., :3].astype(int) - rgb.astype(int)).max() > 50  # the face did change


def test_16bit_grayscale_and_cmyk(tmp_path: Path) -> None:
    rgb = load_rgb("facerec_biden.jpg")
    g16 = tmp_path / "g16.png"
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    cv2.imwrite(str(g16), gray)
    rgb16 = tmp_path / "rgb16.png"
    cv2.imwrite(str(rgb16), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(load_rgb("facerec_obama.jpg")).convert("CMYK").save(cmyk, quality=95)
    gray8 = tmp_path / "gray8.jpg"
    Image.fromarray(load_rgb("facerec_obama.jpg")).convert("L").save(gray8)
    for src, dst in [(g16, OBAMA), (rgb16, OBAMA), (BIDEN, cmyk), (cmyk, BIDEN), (BIDEN, gray8)]:
        out = tmp_path / f"{src.stem}_{dst.stem}.png"
        r = run_cli("swap", src, dst, "-o", out)
        assert r.returncode == 0, (src, dst, r.stderr)
        assert read_image(out).shape == read_image(dst).shape
    res = np.asarray(Image.open(tmp_path / "facerec_biden_gray8.png").convert("RGB")).astype(int)
    assert np.abs(res[..., 0] - res[..., 1]).max() == 0  # a grayscale target gives a grayscale result


def test_very_large_photo_is_written_at_full_resolution(tmp_path: Path) -> None:
    rgb = load_rgb("facerec_obama.jpg")
    big = cv2.resize(rgb, (rgb.shape[1] * 6, rgb.shape[0] * 6), interpolation=cv2.INTER_CUBIC)  # ~37 MP
    src = tmp_path / "big.jpg"
    Image.fromarray(big).save(src, quality=90)
    out = tmp_path / "o.jpg"
    r = run_cli("swap", BIDEN, src, "-o", out)
    assert r.returncode == 0, r.stderr
    res = read_image(out).rgb
    assert res.shape == big.shape
    f = faces_of("facerec_obama.jpg")[0]
    x0, y0, x1, y1 = (int(v * 6) for v in f.box)
    assert np.abs(res[y0:y1, x0:x1].astype(int) - big[y0:y1, x0:x1].astype(int)).mean() > 5


def test_video_swap_keeps_audio_and_frames(tmp_path: Path) -> None:
    import av

    clip = ASSETS / "pyfeat_single_face.mp4"
    out = tmp_path / "swapped.mp4"
    before = _sha(clip)
    r = run_cli("swap", BIDEN, clip, "-o", out)
    assert r.returncode == 0, r.stderr
    assert _sha(clip) == before

    def streams(p: Path) -> dict[str, tuple[str, float]]:
        with av.open(str(p)) as c:
            return {s.type: (s.codec_context.name, float(s.duration * s.time_base)) for s in c.streams}

    def frames(p: Path) -> list[np.ndarray]:
        with av.open(str(p)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]

    src_s, out_s = streams(clip), streams(out)
    assert "audio" in out_s and out_s["audio"][1] == pytest.approx(src_s["audio"][1], abs=0.05)
    assert out_s["video"][1] == pytest.approx(src_s["video"][1], abs=0.05)
    a, b = frames(clip), frames(out)
    assert len(a) == len(b)
    mid = len(a) // 2
    from faceweave.analysis import analyze

    f = analyze(a[mid], identity=False)[0]
    x0, y0, x1, y1 = (int(v) for v in f.box)
    inside = np.abs(a[mid][y0:y1, x0:x1].astype(int) - b[mid][y0:y1, x0:x1].astype(int)).mean()
    outside = np.abs(a[mid][:, :40].astype(int) - b[mid][:, :40].astype(int)).mean()  # far left edge: the wall
    assert inside > 4 * max(outside, 0.5)


def test_video_needs_a_video_output(tmp_path: Path) -> None:
    # (a clip without faces is written unchanged with a warning: tests/test_video_stream.py)
    _fails_cleanly(run_cli("swap", BIDEN, ASSETS / "pyfeat_single_face.mp4", "-o", tmp_path / "o.png"),
                   tmp_path / "o.png", "video suffix")
