"""SIGINT / SIGTERM during ``faceweave build-dataset``: no partial file, and the re-run resumes (finished
shards reused) to the same bytes as an uninterrupted build."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ASSETS, PORTRAITS, run_cli


def _digests(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for name in PORTRAITS[:6]:
        shutil.copy(ASSETS / name, d / name)
    return d


@pytest.fixture(scope="module")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref") / "ds"
    r = run_cli("build-dataset", photos, out, "--size", "32", "--shard-inputs", "1")
    assert r.returncode == 0, r.stderr
    return _digests(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_leaves_no_partial_file_and_resumes(photos: Path, reference: dict[str, str],
                                                              tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "ds"
    before = _digests(photos)
    p = subprocess.Popen([sys.executable, "-m", "faceweave.cli", "build-dataset", str(photos), str(out),
                          "--size", "32", "--shard-inputs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and p.poll() is None and not (out / "shards" / "shard-00001.json").exists():
            time.sleep(0.02)
        assert p.poll() is None, "the build finished before it could be interrupted"
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + sig, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    files = _digests(out)
    assert not [f for f in files if Path(f).name.startswith(".")], files  # no temporary file
    assert "dataset.json" not in files  # the index is written only by a finished build
    done = sorted(f for f in files if f.endswith(".json"))
    assert done and all(f.replace(".json", ".npz") in files for f in done)
    assert all(files[f] == reference[f] for f in files)  # every file there is a finished one

    r = run_cli("build-dataset", photos, out, "--size", "32", "--shard-inputs", "1")
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} reused" in r.stdout, r.stdout
    assert _digests(out) == reference
    assert _digests(photos) == before
