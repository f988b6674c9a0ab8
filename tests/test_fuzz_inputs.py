"""Property-based fuzzing of the readers: real JPEG, PNG and MP4 bytes, mutated by hypothesis.

Mutations: bit flips, truncation, splices (a run of bytes copied elsewhere), and header fields
rewritten (PNG IHDR width/height with a valid CRC, JPEG SOF width/height, MP4 box sizes). Every
mutant goes through the command line's ``main`` in this process (tests/cli_harness.py ``run_case``):
``detect`` for photos, ``swap`` for clips. The property: exit status 0 with a readable output, or a
non-zero status with exactly one line on stderr; never a traceback, a hang (SIGALRM), a temporary file
left behind, a change to the input, or a memory blow-up (peak RSS bound).

CI runs a fixed number of examples from a fixed seed (``derandomize``); set
``FACEWEAVE_FUZZ_EXAMPLES=500`` for a longer run.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from conftest import ASSETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FACEWEAVE_FUZZ_EXAMPLES", "20"))
RSS_LIMIT_MB = 3000
CASE_SECONDS = int(os.environ.get("FACEWEAVE_FUZZ_CASE_SECONDS", "60"))  # one mutant: a hang is anything longer


def _settings(n: int):
    return settings(max_examples=n, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def _seed_photo(fmt: str) -> bytes:
    from PIL import Image

    with Image.open(ASSETS / "pyfeat_single_face.jpg") as im:
        im = im.convert("RGB").resize((286, 281))
        buf = io.BytesIO()
        im.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        return buf.getvalue()


SEEDS = {"jpg": _seed_photo("JPEG"), "png": _seed_photo("PNG")}


def _png_resize(data: bytes, w: int, h: int) -> bytes:
    """Rewrite the IHDR width/height (with a correct CRC), as a crafted file would."""
    i = data.find(b"IHDR")
    if i < 4:
        return data
    body = struct.pack(">II", w, h) + data[i + 12 : i + 21]
    return data[: i + 4] + body + struct.pack(">I", zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF) + data[i + 25 :]


def _jpeg_resize(data: bytes, w: int, h: int) -> bytes:
    """Rewrite the frame header (SOF0/SOF2) height and width."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = data.find(marker)
        if i >= 0:
            return data[: i + 5] + struct.pack(">HH", h % 65536, w % 65536) + data[i + 9 :]
    return data


def _mp4_box_size(data: bytes, box: bytes, size: int) -> bytes:
    i = data.find(box)
    if i < 4:
        return data
    return data[: i - 4] + struct.pack(">I", size % 2**32) + data[i:]


@st.composite
def mutations(draw: st.DrawFn, kind: str, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "header"]))
        n = len(data)
        if n < 16:
            break
        if op == "flip":
            for _ in range(draw(st.integers(1, 16))):
                pos = draw(st.integers(0, n - 1))
                data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[draw(st.integers(0, n - 1)) :]
        elif op == "splice":
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(0, n - 1))
            k = draw(st.integers(1, 4096))
            data[b:b] = data[a : a + k]
        else:
            w, h = draw(st.integers(0, 70000)), draw(st.integers(0, 70000))
            if kind == "png":
                data = bytearray(_png_resize(bytes(data), w, h))
            elif kind == "jpg":
                data = bytearray(_jpeg_resize(bytes(data), w, h))
            else:
                box = draw(st.sampled_from([b"moov", b"trak", b"mdat", b"stsz", b"stco", b"avcC"]))
                data = bytearray(_mp4_box_size(bytes(data), box, draw(st.integers(0, 2**32 - 1))))
    return bytes(data)


def _keep(inp: Path, why: str) -> None:
    """FACEWEAVE_FUZZ_SAVE=DIR keeps every failing or slow mutant there, to replay it by hand."""
    import hashlib

    d = os.environ.get("FACEWEAVE_FUZZ_SAVE")
    if d:
        data = inp.read_bytes()
        Path(d).mkdir(parents=True, exist_ok=True)
        (Path(d) / f"{why}-{hashlib.sha1(data).hexdigest()[:10]}{inp.suffix}").write_bytes(data)


def _run(argv: list[str], inp: Path, outdir: Path, output: Path) -> int:
    """Run one mutant, check the property, return the exit status."""
    from cli_harness import run_case

    r = run_case({"argv": argv, "inputs": [str(inp)], "outdir": str(outdir)}, CASE_SECONDS)
    if r["traceback"] or r["seconds"] > 10:
        _keep(inp, "hang" if r["traceback"] == "hang" else "slow" if not r["traceback"] else "traceback")
    assert r["traceback"] is None, r["traceback"]
    assert r["hashes_before"] == r["hashes_after"], "the input changed"
    assert not r["hidden"], f"temporary files left: {r['hidden']}"
    assert r["maxrss_mb"] < RSS_LIMIT_MB, f"peak RSS {r['maxrss_mb']:.0f} MB"
    if r["rc"] == 0:
        if output.suffix == ".png":
            from faceweave.media.image import read_image

            read_image(output)
        else:
            from faceweave.media.video import probe

            assert probe(output).frames >= 1
    else:
        lines = r["stderr"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("faceweave: error: "), r["stderr"]
    output.unlink(missing_ok=True)
    return int(r["rc"])


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Import the networks once, outside any mutant's time limit (a limit that fired inside ``import torch``
    would leave torch half-imported for every later case)."""
    from cli_harness import run_case

    d = tmp_path_factory.mktemp("warm")
    (d / "in.jpg").write_bytes(SEEDS["jpg"])
    r = run_case({"argv": ["detect", str(d / "in.jpg")]}, 600)
    assert r["rc"] == 0, r


@pytest.mark.parametrize("kind", ["jpg", "png"])
def test_fuzzed_photos(tmp_path: Path, kind: str) -> None:
    inp, out = tmp_path / f"in.{kind}", tmp_path / "out" / "draw.png"
    out.parent.mkdir()

    @_settings(EXAMPLES)
    @given(data=mutations(kind, SEEDS[kind]))
    def prop(data: bytes) -> None:
        inp.write_bytes(data)
        _run(["detect", str(inp), "--draw", str(out)], inp, out.parent, out)

    prop()


@pytest.fixture(scope="module")
def seed_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from test_video_stream import cut

    return cut(tmp_path_factory.mktemp("clip") / "seed.mp4", 3).read_bytes()


def test_fuzzed_clips(tmp_path: Path, seed_clip: bytes) -> None:
    inp, out = tmp_path / "in.mp4", tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    source = ASSETS / "facerec_biden.jpg"

    @_settings(max(EXAMPLES // 3, 3))
    @given(data=mutations("mp4", seed_clip))
    def prop(data: bytes) -> None:
        inp.write_bytes(data)
        _run(["swap", str(source), str(inp), "-o", str(out), "-q"], inp, out.parent, out)

    prop()


def test_what_the_fuzzer_found(tmp_path: Path, seed_clip: bytes) -> None:
    """Regressions, each from a shrunk failing example (docs/reliability.md lists them)."""
    out = tmp_path / "out"
    out.mkdir()
    # 1. A JPEG whose frame header says 8×10923: the detector's downscaled copy rounded to 0 px wide
    #    (cv2.resize assertion → "internal error"). Now: analysed, no face, a valid drawing.
    thin = tmp_path / "thin.jpg"
    thin.write_bytes(_jpeg_resize(SEEDS["jpg"], 8, 10923))
    assert _run(["detect", str(thin), "--draw", str(out / "d.png")], thin, out, out / "d.png") == 0
    # 2. An MP4 whose ftyp brand is not UTF-8: PyAV raised UnicodeDecodeError reading the tags.
    i = seed_clip.find(b"ftyp") + 4
    odd = tmp_path / "brand.mp4"
    odd.write_bytes(seed_clip[:i] + b"\xe9" + seed_clip[i + 1 :])
    from faceweave.media.video import probe

    assert probe(odd).frames == 3
    source = str(ASSETS / "facerec_biden.jpg")
    assert _run(["swap", source, str(odd), "-o", str(out / "o.mp4"), "-q"], odd, out, out / "o.mp4") == 0
