"""Streaming video swap and live mode: audio kept, frames in order, edge-case clips, interruption.

Clips are cut from tests/assets/pyfeat_single_face.mp4 (a real face, with mp3 audio) into tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ASSETS, load_rgb, run_cli

CLIP = ASSETS / "pyfeat_single_face.mp4"
BIDEN = ASSETS / "facerec_biden.jpg"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def cut(dst: Path, frames: int, *, audio: bool = True, src: Path = CLIP) -> Path:
    """The first ``frames`` frames of ``src`` (re-encoded), with the audio packets of that span copied."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio and audio else None
        v = out.add_stream("libx264", rate=vin.average_rate)
        v.width, v.height, v.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "12"}
        v.time_base = vin.time_base
        a = out.add_stream_from_template(ain) if ain is not None else None
        end = frames / float(vin.average_rate)
        n = 0
        for packet in inp.demux(*([vin] + ([ain] if ain is not None else []))):
            if packet.stream.type == "audio":
                if packet.dts is not None and packet.pts is not None and packet.pts * packet.time_base < end:
                    packet.stream = a
                    out.mux(packet)
                continue
            for fr in packet.decode():
                if n < frames:
                    vf = av.VideoFrame.from_ndarray(fr.to_ndarray(format="rgb24"), format="rgb24")
                    vf.pts, vf.time_base = fr.pts, fr.time_base
                    out.mux(v.encode(vf))
                n += 1
        out.mux(v.encode(None))
    return dst


def frames_of(p: Path) -> list[np.ndarray]:
    import av

    with av.open(str(p)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def no_leftovers(out: Path) -> bool:
    return not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_audio_stream_and_frames_are_kept(tmp_path: Path) -> None:
    import av

    clip = cut(tmp_path / "in.mp4", 24)
    out = tmp_path / "out.mp4"
    before = _sha(clip)
    r = run_cli("swap", BIDEN, clip, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert _sha(clip) == before
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        aa, ba = a.streams.audio[0], b.streams.audio[0]
        assert (ba.codec_context.name, ba.codec_context.sample_rate, ba.codec_context.layout.name) == (
            aa.codec_context.name, aa.codec_context.sample_rate, aa.codec_context.layout.name)
        assert ba.codec_context.extradata == aa.codec_context.extradata
        pa = [bytes(p) for p in a.demux(aa) if p.size]
        pb = [bytes(p) for p in b.demux(ba) if p.size]
        assert pa == pb  # copied packet for packet: the same sound, the same duration
        one_frame = 1 / float(a.streams.video[0].average_rate)
        va, vb = a.streams.video[0], b.streams.video[0]
        assert abs(float(vb.duration * vb.time_base) - float(va.duration * va.time_base)) <= one_frame + 1e-6
    fa, fb = frames_of(clip), frames_of(out)
    assert len(fa) == len(fb) == 24
    # the face was swapped, the rest of the picture kept
    from faceweave.analysis import analyze

    f = analyze(fa[12], identity=False)[0]
    x0, y0, x1, y1 = (int(v) for v in f.box)
    assert np.abs(fa[12][y0:y1, x0:x1].astype(int) - fb[12][y0:y1, x0:x1].astype(int)).mean() > 4


def test_frames_come_out_in_order_when_renders_finish_out_of_order(tmp_path: Path) -> None:
    import random

    from faceweave.media.stream import stream_video

    clip = cut(tmp_path / "in.mp4", 30, audio=False)
    rnd = random.Random(0)
    seen: list[int] = []

    def analyse(rgb: np.ndarray, i: int) -> int:
        seen.append(i)
        return i

    def render(rgb: np.ndarray, i: int, n: int) -> np.ndarray:
        time.sleep(rnd.random() * 0.02)  # later frames often finish first
        return np.full((64, 64, 3), (n * 8) % 250, np.uint8)

    n = stream_video(clip, tmp_path / "o.mp4", analyse, render, workers=4)
    assert n == 30 and seen == list(range(30))
    means = [float(f.mean()) for f in frames_of(tmp_path / "o.mp4")]
    assert np.allclose(means, [(i * 8) % 250 for i in range(30)], atol=3)


def test_one_frame_clip_and_clip_without_audio(tmp_path: Path) -> None:
    import av

    from faceweave import api

    one = cut(tmp_path / "one.mp4", 1)
    counts = api.swap_video(BIDEN, one, tmp_path / "one_out.mp4")
    assert counts == {"frames": 1, "swapped": 1, "with_faces": 1}
    assert len(frames_of(tmp_path / "one_out.mp4")) == 1

    silent = cut(tmp_path / "silent.mp4", 6, audio=False)
    counts = api.swap_video(BIDEN, silent, tmp_path / "silent_out.mp4")
    assert counts["frames"] == 6 and counts["swapped"] == 6
    with av.open(str(tmp_path / "silent_out.mp4")) as c:
        assert not c.streams.audio and len(list(c.decode(video=0))) == 6


def test_clip_without_faces_keeps_its_frames(tmp_path: Path) -> None:
    import av

    # A real scene without a face: the wall and shelf left of the person in the sample clip.
    src = frames_of(cut(tmp_path / "c.mp4", 5))
    blank = tmp_path / "noface.mp4"
    with av.open(str(blank), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 320, "yuv420p"
        s.options = {"crf": "10"}
        for fr in src:
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(fr[:320, :160]), format="rgb24")))
        c.mux(s.encode(None))
    out = tmp_path / "o.mp4"
    r = run_cli("swap", BIDEN, blank, "-o", out, "-q")
    assert r.returncode == 0, r.stderr
    assert "no face found in any frame" in r.stderr and "unchanged" in r.stderr
    assert "Traceback" not in r.stderr
    a, b = frames_of(blank), frames_of(out)
    assert len(a) == len(b) == 5
    assert max(np.abs(x.astype(int) - y.astype(int)).mean() for x, y in zip(a, b, strict=True)) < 2.0


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_corrupt_clip_is_a_clean_error(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.mp4"
    data = CLIP.read_bytes()
    bad.write_bytes(os.urandom(4096) if kind == "garbage" else data[: len(data) // 3])
    before = _sha(bad)
    out = tmp_path / "o.mp4"
    r = run_cli("swap", BIDEN, bad, "-o", out)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert str(bad) in r.stderr
    assert no_leftovers(out)
    assert _sha(bad) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_mid_file_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    clip = tmp_path / "long.mp4"
    cut(clip, 72)
    before = _sha(clip)
    out = tmp_path / "o.mp4"
    p = subprocess.Popen([sys.executable, "-m", "faceweave.cli", "swap", str(BIDEN), str(clip), "-o", str(out), "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        tmp: list[Path] = []
        while time.monotonic() < deadline and p.poll() is None:
            tmp = [q for q in tmp_path.iterdir() if q.name.startswith(".o.mp4.") and q.stat().st_size > 0]
            if tmp:
                break
            time.sleep(0.02)
        assert tmp, "the swap never started writing"
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + sig, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert no_leftovers(out)
    assert _sha(clip) == before


def test_live_mode_from_a_file(tmp_path: Path) -> None:
    from faceweave.live import FileCapture, NullDisplay, run_live

    clip = cut(tmp_path / "in.mp4", 12, audio=False)
    disp = NullDisplay()
    stats = run_live(BIDEN, FileCapture(clip, realtime=False), disp)
    assert stats.captured == 12 and stats.shown == 12 and stats.dropped == 0
    assert stats.swapped == 12 and len(stats.latencies) == 12
    assert disp.last is not None and disp.last.shape == frames_of(clip)[0].shape

    # The CLI, recording to a file through the same path (no window here).
    out = tmp_path / "rec.mp4"
    r = run_cli("live", "--source", BIDEN, "--input", clip, "--no-window", "-o", out)
    assert r.returncode == 0, r.stderr
    rec = frames_of(out)
    assert 1 <= len(rec) <= 12
    r = run_cli("live", "--source", BIDEN, "--input", clip, "--no-window")
    assert r.returncode != 0 and "nothing to show" in r.stderr


def test_tracker_keeps_identities_on_a_moving_group(tmp_path: Path) -> None:
    """A pan across a real group photo: each face keeps its track id, and face N is followed."""
    from faceweave.analysis import analyze
    from faceweave.analysis.track import FaceTracker
    from faceweave.realtime import TargetFollower

    group = load_rgb("faceapi_sample1.jpg")
    h, w = group.shape[:2]
    cw, ch = int(w * 0.8) // 2 * 2, int(h * 0.8) // 2 * 2
    tracker = FaceTracker(detect_every=5)
    follow = TargetFollower(selection=1)
    where: dict[int, list[tuple[float, float]]] = {}  # track id -> face centres in photo coordinates
    size: dict[int, float] = {}
    chosen_ids = set()
    for i in range(12):
        x, y = int((w - cw) * i / 11), (h - ch) // 2
        frame = np.ascontiguousarray(group[y : y + ch, x : x + cw])
        faces = tracker.update(frame)
        if i == 0:
            assert len(faces) == len(analyze(frame, identity=False)) >= 2
        for f in faces:
            where.setdefault(f.track_id, []).append((f.center[0] + x, f.center[1] + y))
            size[f.track_id] = max(size.get(f.track_id, 0.0), f.width)
        chosen_ids |= {f.track_id for f in follow(faces)}
    # A track is one person: in the photo's coordinates its face stays put while the view pans
    # (within a fifth of its width: a face entering at the edge has a clipped box at first).
    assert len(where) >= 2
    for tid, c in where.items():
        c = np.array(c)
        assert np.abs(c - c[0]).max() < 0.2 * size[tid], (tid, c)
    assert len(chosen_ids) == 1
    assert tracker.detections < 12  # detection ran on key frames, not every frame


def test_one_euro_filter_smooths_still_points_and_follows_fast_ones() -> None:
    from faceweave.analysis.track import OneEuroFilter

    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    still = [np.array([[100.0, 100.0]]) + rng.normal(0, 1.0, (1, 2)) for _ in range(60)]
    out = np.array([f(x, 1 / 30, 200.0) for x in still])[10:, 0]
    raw = np.array(still)[10:, 0]
    assert np.std(np.diff(out, axis=0)) < 0.5 * np.std(np.diff(raw, axis=0))  # less jitter
    g = OneEuroFilter()
    for _ in range(10):
        g(np.array([[0.0, 0.0]]), 1 / 30, 200.0)
    moved = [g(np.array([[10.0 * k, 0.0]]), 1 / 30, 200.0)[0, 0] for k in range(1, 11)]  # 300 px/s
    assert 100.0 - moved[-1] < 15.0  # lags less than 1.5 frames' motion after a third of a second


def test_live_window_needs_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceweave.errors import FaceweaveError
    from faceweave.live import WindowDisplay, window_available

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    if sys.platform.startswith("linux"):
        assert not window_available()
        with pytest.raises(FaceweaveError, match="no desktop display"):
            WindowDisplay()



def test_reference_follows_the_same_person(tmp_path: Path) -> None:
    """Two real people side by side, swapping places over the clip: --reference keeps choosing Obama."""
    import cv2

    from faceweave import api
    from faceweave.analysis.track import FaceTracker
    from faceweave.realtime import TargetFollower

    def fit(name: str) -> np.ndarray:
        im = load_rgb(name)
        s = 300 / im.shape[0]
        return cv2.resize(im, (int(im.shape[1] * s) // 2 * 2, 300), interpolation=cv2.INTER_AREA)

    obama, biden = fit("facerec_obama.jpg"), fit("facerec_biden.jpg")
    width = obama.shape[1] + biden.shape[1] + 200
    tracker = FaceTracker(identity=True, detect_every=3)
    follow = TargetFollower(reference=api._reference_face(ASSETS / "facerec_obama2.jpg"))
    for i in range(8):
        frame = np.zeros((300, width, 3), np.uint8)
        ox = int(200 * i / 7)  # Obama slides right, Biden sits at the right edge
        bx = width - biden.shape[1]
        frame[:, bx:] = biden
        frame[:, ox : ox + obama.shape[1]] = obama
        chosen = follow(tracker.update(frame))
        assert len(chosen) == 1, i
        cx = chosen[0].center[0]
        assert ox <= cx <= ox + obama.shape[1], (i, cx)
