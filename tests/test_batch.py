"""Batch swaps (faceweave/batch.py): a folder or a list of clips; failures reported, the rest done,
a summary, finished outputs skipped on a re-run, exit status non-zero when a file failed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import ASSETS, run_cli
from test_video_stream import cut

BIDEN = ASSETS / "facerec_biden.jpg"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _folder(tmp: Path) -> Path:
    d = tmp / "in"
    (d / "sub").mkdir(parents=True)
    shutil.copy(ASSETS / "facerec_obama.jpg", d / "obama.jpg")
    shutil.copy(ASSETS / "pyfeat_single_face.jpg", d / "sub" / "single face.jpg")
    shutil.copy(ASSETS / "pyfeat_mountain_vector.jpg", d / "mountain.jpg")  # no face: fails
    (d / "notes.jpg").write_text("not a photo\n")  # not an image: fails
    (d / ".hidden.jpg").write_text("a hidden file is not an input\n")
    (d / "readme.md").write_text("neither is a file of another kind\n")
    cut(d / "clip.mp4", 3, audio=False)
    return d


def test_folder_batch_reports_failures_continues_and_resumes(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    out = tmp_path / "out"
    before = {p: _sha(p) for p in d.rglob("*") if p.is_file()}
    r = run_cli("swap", BIDEN, d, "-o", out, "-q")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    err = r.stderr.strip().splitlines()
    assert err[-1].endswith("3 done, 0 skipped (already there), 2 failed, of 5 files"), err
    failed = [line for line in err if line.startswith("faceweave: error: ")]
    assert len(failed) == 2
    assert any("mountain.jpg" in line and "no face" in line.lower() for line in failed), failed
    assert any("notes.jpg" in line and "not an image" in line for line in failed), failed
    done = {out / "obama.jpg", out / "sub" / "single face.jpg", out / "clip.mp4"}
    assert set(map(Path, r.stdout.split("\n")[:-1])) == done
    assert all(p.stat().st_size > 0 for p in done)
    assert not (out / "mountain.jpg").exists() and not (out / "notes.jpg").exists()
    assert sorted(p.name for p in out.rglob(".*")) == []  # no temporary file anywhere
    assert {p: _sha(p) for p in d.rglob("*") if p.is_file()} == before  # inputs untouched

    # Re-run: the finished outputs are skipped (not rewritten), the failed files are tried again.
    stamps = {p: p.stat().st_mtime_ns for p in done}
    (d / "notes.jpg").unlink()
    shutil.copy(ASSETS / "facerec_obama2.jpg", d / "notes.jpg")  # the user fixed that file
    r = run_cli("swap", BIDEN, d, "-o", out, "-q")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].endswith("1 done, 3 skipped (already there), 1 failed, of 5 files")
    assert {p: p.stat().st_mtime_ns for p in done} == stamps
    assert (out / "notes.jpg").exists()
    (d / "mountain.jpg").unlink()
    r = run_cli("swap", BIDEN, d, "-o", out, "-q")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [f"faceweave: swap {d}: 0 done, 4 skipped (already there), 0 failed, "
                                             "of 4 files"]


def test_bad_source_fails_the_batch_once(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(ASSETS / "facerec_obama.jpg", d / "a.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    r = run_cli("swap", bad, d, "-o", tmp_path / "out")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"faceweave: error: {bad}: file is empty (0 bytes)"]
    r = run_cli("swap", BIDEN, d, "-o", d)
    assert r.returncode == 2 and "is the input folder" in r.stderr


def test_video_list_through_the_api_resumes_after_an_interruption(tmp_path: Path) -> None:
    from faceweave.batch import swap_batch

    clips = [cut(tmp_path / f"c{i}.mp4", 2, audio=False) for i in range(2)]
    lst = tmp_path / "clips.txt"
    lst.write_text("# clips to swap\nc0.mp4\n\n" + str(clips[1]) + "\nmissing.mp4\n")
    out = tmp_path / "out"
    seen: list[str] = []

    def stop_after_first(item) -> None:
        seen.append(item.status)
        raise KeyboardInterrupt  # Ctrl-C between two files

    with pytest.raises(KeyboardInterrupt):
        swap_batch(BIDEN, lst, out, on_item=stop_after_first)
    assert seen == ["done"] and (out / "c0.mp4").exists() and not (out / "c1.mp4").exists()
    s = swap_batch(BIDEN, lst, out)
    assert [it.status for it in s.items] == ["skipped", "done", "failed"]
    assert "missing.mp4: no such file" in s.items[2].reason
    assert s.line() == "1 done, 1 skipped (already there), 1 failed, of 3 files"
    assert not list(out.glob(".*"))
