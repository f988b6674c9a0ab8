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
