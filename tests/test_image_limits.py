"""Decompression-bomb guard: the pixel count is checked from the header, before decoding, on every path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import ASSETS, run_cli, write_bomb_png

from faceweave.errors import FaceweaveError
from faceweave.media.image import MAX_PIXELS, image_size, read_image


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bomb_png(tmp_path_factory.mktemp("bomb") / "bomb.png")  # 30000×30000, ~110 KB


def test_bomb_is_refused_before_decoding(bomb: Path) -> None:
    assert bomb.stat().st_size < 200_000
    t0 = time.monotonic()
    with pytest.raises(FaceweaveError, match=r"bomb\.png: .*limit.*decompression-bomb"):
        read_image(bomb)
    assert time.monotonic() - t0 < 1.0  # decoding 900 MP would take far longer (and ~2.7 GB)


def test_just_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    # 10250² = 105 MP: under PIL's own hard limit (2 × MAX_PIXELS), so only our header check refuses it
    p = write_bomb_png(tmp_path / "big.png", side=10250)
    assert MAX_PIXELS < 10250 * 10250 < 2 * MAX_PIXELS
    with pytest.raises(FaceweaveError, match=r"10250×10250 = 105 megapixels, over the 100 MP limit"):
        image_size(p)
    with pytest.raises(FaceweaveError, match=r"105 megapixels"):
        read_image(p)


def test_cli_refuses_a_bomb_in_one_line(bomb: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    r = run_cli("swap", bomb, ASSETS / "facerec_obama.jpg", "-o", out)
    assert r.returncode != 0 and not out.exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "decompression-bomb" in lines[0], r.stderr


def _bomb_gif(path: Path, side: int) -> Path:
    """35 bytes: a GIF whose logical screen and one image are side×side."""
    import struct

    path.write_bytes(b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
                     + b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x44\x01\x00" + b"\x3b")
    return path


def _bomb_tiff(path: Path, side: int) -> Path:
    """~130 bytes: a 1-bit PackBits TIFF whose header says side×side (one strip of two bytes)."""
    import struct

    tags = [(256, 4, side), (257, 4, side), (258, 3, 1), (259, 3, 32773), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, side), (279, 4, 2)]
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHII", t, k, 1, v) if k == 4 else struct.pack("<HHIHH", t, k, 1, v, 0) for t, k, v in tags)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x81\x00")
    return path


@pytest.mark.parametrize("make", [_bomb_gif, _bomb_tiff])
@pytest.mark.parametrize("side", [30000, 10250])  # far over (PIL's own check too) and just over (ours alone)
def test_gif_and_tiff_bombs_are_refused_from_the_header(tmp_path: Path, make, side: int) -> None:
    import resource

    p = make(tmp_path / f"bomb{make.__name__[5:]}", side)
    assert p.stat().st_size < 200
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    with pytest.raises(FaceweaveError, match=r"decompression-bomb"):
        read_image(p)
    assert time.monotonic() - t0 < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 50_000  # KB: nothing was decoded


def test_every_video_reader_checks_the_frame_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clips are refused from the stream header too (probe, read_frames, the streaming swap, the dataset
    builder): a real 640×360 clip against a limit lowered to 0.2 MP."""
    import faceweave.media.image as image
    from faceweave.data.inputs import BuildConfig, Item, process_item
    from faceweave.media.video import probe, read_frames

    clip = ASSETS / "pyfeat_single_face.mp4"
    monkeypatch.setattr(image, "MAX_PIXELS", 200_000)
    for read in (probe, lambda p: next(read_frames(p))):
        with pytest.raises(FaceweaveError, match=r"640×360 = 0 megapixels, over the 0 MP limit"):
            read(clip)
    res = process_item(Item("video", str(clip), clip.name), BuildConfig(32, False, False, 40, 1.0, 0.02, 0, False))
    assert not res.samples and "decompression-bomb" in res.failures[0]["reason"]
    from faceweave import api

    out = tmp_path / "o.mp4"
    with pytest.raises(FaceweaveError, match="decompression-bomb"):
        api.swap_video(ASSETS / "facerec_biden.jpg", clip, out)
    assert list(tmp_path.iterdir()) == []
