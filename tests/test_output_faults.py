"""A full disk (ENOSPC) or a read-only output folder while a photo or a video is written: one clear line,
the previous file of that name intact, no temporary file left, the inputs unchanged.

Two ways: the write is made to fail in this process (the writer monkeypatched: always runs), and a real
1 MB / 40 KB tmpfs, full or remounted read-only (needs mount rights: root in a container; skipped
otherwise, with the reason).
"""

from __future__ import annotations

import errno
import hashlib
import subprocess
from pathlib import Path

import pytest
from cli_harness import run_case
from conftest import ASSETS, run_cli
from test_video_stream import cut

BIDEN = ASSETS / "facerec_biden.jpg"
OBAMA = ASSETS / "facerec_obama.jpg"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _check(r: dict, out: Path, old: bytes, line: str) -> None:
    assert r["traceback"] is None, r["traceback"]
    assert r["rc"] not in (0, None)
    assert r["stderr"].strip().splitlines() == [f"faceweave: error: {out}: cannot write ({line})"], r["stderr"]
    assert out.read_bytes() == old  # the previous file is intact
    assert r["hidden"] == [], r["hidden"]
    assert r["hashes_before"] == r["hashes_after"]


def test_disk_full_while_saving_a_photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    real_save = Image.Image.save

    def half_then_full(self, fp, *a, **k):  # noqa: ANN001 - PIL's own signature
        real_save(self, fp, *a, **k)
        data = Path(fp).read_bytes()
        Path(fp).write_bytes(data[: len(data) // 2])  # half written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "out.jpg"
    out.write_bytes(b"previous result")
    monkeypatch.setattr(Image.Image, "save", half_then_full)
    r = run_case({"argv": ["swap", str(BIDEN), str(OBAMA), "-o", str(out)], "inputs": [str(BIDEN), str(OBAMA)],
                  "outdir": str(tmp_path)}, 120)
    _check(r, out, b"previous result", "No space left on device")


def test_disk_full_while_encoding_a_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faceweave.media.stream as stream

    clip = cut(tmp_path / "in.mp4", 8, audio=False)
    real_write = stream._write

    def full_after_three(s, q_out, stop, written, progress):  # noqa: ANN001
        def tick(n: int) -> None:
            if n == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_write(s, q_out, stop, written, tick)

    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous clip")
    monkeypatch.setattr(stream, "_write", full_after_three)
    r = run_case({"argv": ["swap", str(BIDEN), str(clip), "-o", str(out), "-q"], "inputs": [str(clip)],
                  "outdir": str(tmp_path)}, 120)
    _check(r, out, b"previous clip", "No space left on device")


@pytest.fixture
def small_fs(tmp_path: Path):
    """A tmpfs of 40 KB at tmp_path/mnt, unmounted afterwards (skipped where mounting is not allowed)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the monkeypatched tests above cover the path")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_and_read_only_folders(small_fs: Path, tmp_path: Path) -> None:
    clip = cut(tmp_path / "in.mp4", 24, audio=False)
    before = {p: _sha(p) for p in (BIDEN, OBAMA, clip)}
    for name in ("out.png", "out.mp4"):
        (small_fs / name).write_bytes(b"previous")
    cases = [(OBAMA, "out.png"), (clip, "out.mp4")]
    for state in ("No space left on device", "Read-only file system"):
        if state.startswith("Read-only"):
            subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
        for target, name in cases:
            out = small_fs / name
            r = run_cli("swap", BIDEN, target, "-o", out, "-q")
            assert r.returncode != 0
            assert r.stderr.strip().splitlines() == [f"faceweave: error: {out}: cannot write ({state})"], r.stderr
            assert out.read_bytes() == b"previous"
            assert sorted(p.name for p in small_fs.iterdir()) == ["out.mp4", "out.png"]  # nothing left behind
    assert {p: _sha(p) for p in before} == before
