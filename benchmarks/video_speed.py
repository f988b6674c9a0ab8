"""Video swap speed, end to end (decode → analyse/track → swap → encode, audio muxed), and per stage.

    .venv/bin/python benchmarks/video_speed.py [--engine warp] [--sizes 360,720] [--stage-frames 60]
    .venv/bin/python benchmarks/video_speed.py --live        # live mode fed from the clip only

For each size it runs ``faceweave.api.swap_video`` on the bundled 640×360 clip (472 frames, AAC audio)
and on a 1280×720 upscale of it written to a temporary folder, each in a fresh subprocess so its peak RSS
is its own (parent + worker processes, if any). It reports wall time, fps, CPU time and peak RSS, then the
median CPU cost (process time) of each stage per frame, measured one after another on the first
``--stage-frames`` frames (the engine's own sub-timings are wall clock), and the mean CPU cost per frame of
the two halves of the video path (analyse: tracking, target choice, hands over time; render: the engine
with the tracked occlusion mask, and the watermark):
decode, full analysis (detection + landmarks + mesh, what every frame cost before tracking), tracking
(when the streaming pipeline is present), the engine's swap, and H.264 encoding.

Then (unless ``--no-live``; ``--live`` measures only this) it feeds the clip through ``faceweave live``'s
code path (a file capture source paced like a 30 fps camera, frames dropped under load) and reports the
shown fps, the median / p95 latency from capture to display and the CPU time per shown frame.
Wall-clock figures depend on how busy the machine is (the load average is printed); CPU time per frame
much less so, and "≤ N fps on 2 idle cores" is 2 / (CPU s per frame).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = Path("/work/shared/samples/pyfeat_WolfgangLanger_Pexels.mp4")
if not CLIP.exists():
    CLIP = ROOT / "tests" / "assets" / "pyfeat_single_face.mp4"
SOURCE = ROOT / "tests" / "assets" / "facerec_obama.jpg"
LIVE_FPS = 30.0  # the clip is 23.976 fps; live mode is fed it as a 30 fps camera would deliver frames
WORKERS: dict[str, int] = {}  # {"workers": N} when --workers is given (needs the streaming pipeline)


def upscale(src: Path, dst: Path, width: int, height: int) -> None:
    """Write ``src`` resized to width×height (bicubic), audio copied: the 720p test clip."""
    import av
    import cv2

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.options = {"crf": "18", "preset": "veryfast"}
        vout.time_base = vin.time_base
        aout = out.add_stream_from_template(ain) if ain is not None else None
        for packet in inp.demux(*([vin] + ([ain] if ain is not None else []))):
            if packet.stream.type == "audio":
                if packet.dts is not None and aout is not None:
                    packet.stream = aout
                    out.mux(packet)
                continue
            for fr in packet.decode():
                rgb = cv2.resize(fr.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_CUBIC)
                vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                vf.pts, vf.time_base = fr.pts, fr.time_base
                out.mux(vout.encode(vf))
        out.mux(vout.encode(None))


def run_one(clip: Path, out: Path, engine: str) -> dict[str, float]:
    """Child process: one end-to-end swap through the public API."""
    from faceweave import api

    def cpu_s() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    c0, t0 = cpu_s(), time.perf_counter()
    counts = api.swap_video(str(SOURCE), str(clip), str(out), engine=engine, **WORKERS)
    wall = time.perf_counter() - t0
    cpu = cpu_s() - c0  # the swap call only (model loading included, interpreter start-up not)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": cpu, "frames": counts["frames"], "swapped": counts["swapped"],
            "rss_mb": (me.ru_maxrss + kids.ru_maxrss) / 1024}


def stages(clip: Path, engine: str, n: int) -> dict[str, float]:
    """Median ms per frame of each stage, run one after another on the first ``n`` frames."""
    import av

    from faceweave.analysis import analyze
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.media.image import read_image

    frames: list[np.ndarray] = []
    dec: list[float] = []
    with av.open(str(clip)) as c:
        t = time.process_time()
        for fr in c.decode(video=0):
            frames.append(fr.to_ndarray(format="rgb24"))
            dec.append(time.process_time() - t)
            t = time.process_time()
            if len(frames) >= n:
                break
    eng = get_engine(engine)
    src = read_image(SOURCE).rgb
    sf = analyze(src, mesh=eng.needs_mesh, identity=False)[0]
    opts = SwapOptions()
    rows: dict[str, list[float]] = {"decode": dec, "analysis (full detection)": [], "swap": []}
    faces = []
    for rgb in frames:
        t = time.process_time()
        f = analyze(rgb, mesh=eng.needs_mesh, identity=False)
        rows["analysis (full detection)"].append(time.process_time() - t)
        faces.append(f)
    try:
        from faceweave.analysis.track import FaceTracker
    except ImportError:
        FaceTracker = None  # noqa: N806 - before the streaming pipeline existed
    if FaceTracker is not None:
        tr = FaceTracker(mesh=eng.needs_mesh)
        rows["tracking"] = []
        for rgb in frames:
            t = time.process_time()
            tr.update(rgb)
            rows["tracking"].append(time.process_time() - t)
    video_path_stages(frames, src, engine, rows)
    outs = []
    for rgb, f in zip(frames, faces, strict=True):
        if not f:
            outs.append(rgb)
            continue
        t = time.process_time()
        outs.append(eng.swap_face(src, sf, rgb, f[0], opts))
        rows["swap"].append(time.process_time() - t)
        for k, v in getattr(eng, "timings", {}).items():
            rows.setdefault(f"  swap: {k}", []).append(v)
    with tempfile.TemporaryDirectory() as d, av.open(str(Path(d) / "enc.mp4"), "w") as out:
        try:
            from faceweave.media.stream import ENCODER_OPTIONS
        except ImportError:  # before the streaming pipeline: the old fixed settings
            ENCODER_OPTIONS = {"crf": "18", "preset": "medium"}  # noqa: N806

        v = out.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = outs[0].shape[1], outs[0].shape[0], "yuv420p"
        v.options = dict(ENCODER_OPTIONS)
        rows["encode"] = []
        for o in outs:
            t = time.process_time()
            out.mux(v.encode(av.VideoFrame.from_ndarray(o, format="rgb24")))
            rows["encode"].append(time.process_time() - t)
        out.mux(v.encode(None))
    # The video path's halves vary by design (detection on key frames, the hand model on some frames):
    # their mean is the cost per frame; the other stages are the same every frame, their median is robust.
    return {k: 1000 * (statistics.fmean(v) if k.startswith("video path") else statistics.median(v))
            for k, v in rows.items() if v}


def video_path_stages(frames: list[np.ndarray], src: np.ndarray, engine: str, rows: dict[str, list[float]]) -> None:
    """The two halves of a frame's work in ``swap_video``, built as it builds them: analyse (tracking, the
    target choice, hands over time) and render (the engine with the tracked occlusion mask, the watermark)."""
    try:
        from faceweave import api
        from faceweave.realtime import FrameSwapper, TargetFollower, occlusion_tracker
    except ImportError:  # before the streaming pipeline / the occlusion tracker
        return
    from faceweave.analysis.track import FaceTracker
    from faceweave.engines import SwapOptions, get_engine

    eng = get_engine(engine)
    _, sf = api._source(eng, str(SOURCE), None)
    opts = SwapOptions()
    sw = FrameSwapper(engine=eng, source=src, source_face=sf, options=opts, follower=TargetFollower(),
                      tracker=FaceTracker(), occlusion=occlusion_tracker(eng, opts))
    api._video_finish(sw, False, api._provenance(eng, (), opts))
    rows["video path: analyse"], rows["video path: render"] = [], []
    for i, rgb in enumerate(frames):
        t = time.process_time()
        chosen = sw.analyse(rgb, i)
        t1 = time.process_time()
        sw.render(rgb, chosen, i)
        rows["video path: analyse"].append(t1 - t)
        rows["video path: render"].append(time.process_time() - t1)
    if sw.occlusion is not None:
        rows["  hand model runs (count)"] = [sw.occlusion.runs / 1000]


def live(clip: Path, engine: str) -> dict[str, float]:
    from faceweave.live import FileCapture, NullDisplay, run_live

    c0 = time.process_time()
    stats = run_live(str(SOURCE), FileCapture(clip, realtime=True, fps=LIVE_FPS), NullDisplay(), engine=engine,
                     **WORKERS)
    cpu = time.process_time() - c0  # the whole session: model loading, capture (decoding), swaps
    return {"shown_fps": stats.fps, "latency_median_ms": stats.latency_median_ms,
            "latency_p95_ms": stats.latency_p95_ms, "captured": stats.captured, "shown": stats.shown,
            "dropped": stats.dropped, "cpu_ms_per_shown": 1000 * cpu / max(stats.shown, 1)}


def report_live(engine: str) -> None:
    r = live(CLIP, engine)
    sys.stdout.write(f"live (fed from {CLIP.name} at {LIVE_FPS:.0f} fps): {r['shown_fps']:.1f} fps shown, "
                     f"median latency {r['latency_median_ms']:.0f} ms, p95 {r['latency_p95_ms']:.0f} ms, "
                     f"{r['shown']}/{r['captured']} frames shown, {r['dropped']} dropped; "
                     f"CPU {r['cpu_ms_per_shown']:.0f} ms per shown frame (load average now: "
                     f"{os.getloadavg()[0]:.1f})\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="warp")
    ap.add_argument("--sizes", default="360,720", help="clip heights to run: 360 (bundled) and/or 720 (upscale)")
    ap.add_argument("--stage-frames", type=int, default=60, help="frames for the per-stage costs (0: skip)")
    ap.add_argument("--live", action="store_true", help="measure live mode fed from the clip only")
    ap.add_argument("--no-live", action="store_true", help="skip the live-mode measurement after the clips")
    ap.add_argument("--workers", type=int, default=None, help="frames swapped at once (default: the API's)")
    ap.add_argument("--opencv-threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's own)")
    ap.add_argument("--_child", nargs=3, metavar=("CLIP", "OUT", "ENGINE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.workers is not None:
        WORKERS["workers"] = a.workers
    if a.opencv_threads is not None:
        import cv2

        cv2.setNumThreads(a.opencv_threads)
    if a._child:
        sys.stdout.write(json.dumps(run_one(Path(a._child[0]), Path(a._child[1]), a._child[2])) + "\n")
        return 0
    load = os.getloadavg()[0]
    sys.stdout.write(f"engine={a.engine} source={SOURCE.name} clip={CLIP.name} cpus={os.cpu_count()} "
                     f"load(1 min)={load:.1f}\n")
    if a.live:
        report_live(a.engine)
        return 0
    with tempfile.TemporaryDirectory(prefix="fw-bench-") as d:
        for size in (int(s) for s in a.sizes.split(",")):
            clip = CLIP
            if size != 360:
                clip = Path(d) / f"clip{size}.mp4"
                upscale(CLIP, clip, size * 16 // 9 // 2 * 2, size)
            out = Path(d) / f"out{size}.mp4"
            env = dict(os.environ, PYTHONWARNINGS="ignore")
            extra = ["--workers", str(a.workers)] if a.workers is not None else []
            extra += ["--opencv-threads", str(a.opencv_threads)] if a.opencv_threads is not None else []
            res = subprocess.run([sys.executable, __file__, "--_child", str(clip), str(out), a.engine, *extra],
                                 capture_output=True, text=True, env=env, check=False)
            if res.returncode != 0:
                sys.stdout.write(f"{size}p: failed: {res.stderr.strip().splitlines()[-1:]}\n")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            sys.stdout.write(f"{size}p end to end: {r['frames']} frames ({r['swapped']} swapped) in {r['wall']:.1f} s "
                             f"= {r['frames'] / r['wall']:.1f} fps, peak RSS {r['rss_mb']:.0f} MB; "
                             f"CPU {r['cpu']:.1f} s = {1000 * r['cpu'] / r['frames']:.0f} ms/frame "
                             f"(≤ {2 * r['frames'] / r['cpu']:.0f} fps on 2 idle cores)\n")
            if a.stage_frames > 0:
                st = stages(clip, a.engine, a.stage_frames)
                sys.stdout.write(f"{size}p per-stage CPU ms/frame (median; video path: mean) "
                                 f"(sequential, first {a.stage_frames} frames):\n")
                for k, v in st.items():
                    sys.stdout.write(f"    {k:<28} {v:7.1f}\n")
            sys.stdout.write(f"    (load average now: {os.getloadavg()[0]:.1f})\n")
    if not a.no_live:
        report_live(a.engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
