"""Swap speed: median ms per swap on a ~1 MP photo with one face (model warm), by stage, and peak RSS.

    .venv/bin/python benchmarks/swap_speed.py [--runs 20] [--engine warp]

Stages: analysis (detection + 68 landmarks + mesh, source and target), warp, colour, blend.
Wall time and CPU time (process time: every thread of the process, so mediapipe's graph threads too)
are both given; on a shared, loaded machine only the CPU time is comparable between runs. The last
rows repeat the swap with the source analysed once and taken from ``faceweave.analysis.cache`` (what
the API does when one source photo goes onto many targets).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


def one_megapixel(name: str) -> np.ndarray:
    from faceweave.media import read_image

    rgb = read_image(ASSETS / name).rgb
    s = (1_000_000 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
    return cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--engine", default="warp")
    ap.add_argument("--blend", default="multiband")
    a = ap.parse_args()

    from faceweave.analysis import analyze
    from faceweave.analysis.cache import analyze_cached
    from faceweave.engines import SwapOptions, get_engine

    src, dst = one_megapixel("facerec_biden.jpg"), one_megapixel("facerec_obama.jpg")
    eng = get_engine(a.engine)
    opts = SwapOptions(blend=a.blend)  # type: ignore[arg-type]
    rows: dict[str, list[float]] = {"analysis": [], "warp": [], "colour": [], "blend": [], "total": []}
    cpu: dict[str, list[float]] = {"analysis": [], "swap": [], "total": [], "total, source cached": []}
    wall_cached: list[float] = []
    for i in range(a.runs + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        sf = analyze(src, mesh=eng.needs_mesh, identity=False)[0]
        tf = analyze(dst, mesh=eng.needs_mesh, identity=False)[0]
        t1, c1 = time.perf_counter(), time.process_time()
        eng.swap_face(src, sf, dst, tf, opts)
        t2, c2 = time.perf_counter(), time.process_time()
        sf = analyze_cached(src, mesh=eng.needs_mesh, identity=False)[0]  # a hit after the first run
        tf = analyze(dst, mesh=eng.needs_mesh, identity=False)[0]
        eng.swap_face(src, sf, dst, tf, opts)
        t3, c3 = time.perf_counter(), time.process_time()
        if i < 2:
            continue  # warm-up
        rows["analysis"].append(t1 - t0)
        for k, v in eng.timings.items():
            rows.setdefault(k, []).append(v)
        rows["total"].append(t2 - t0)
        cpu["analysis"].append(c1 - c0)
        cpu["swap"].append(c2 - c1)
        cpu["total"].append(c2 - c0)
        cpu["total, source cached"].append(c3 - c2)
        wall_cached.append(t3 - t2)
    rows["total, source cached"] = wall_cached
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(f"engine={a.engine} blend={a.blend} source {src.shape[1]}x{src.shape[0]}, "
                     f"target {dst.shape[1]}x{dst.shape[0]}, {a.runs} runs\n")
    for k, v in rows.items():
        if v:
            sys.stdout.write(f"  {k:21s} wall median {statistics.median(v) * 1000:7.1f} ms\n")
    for k, v in cpu.items():
        sys.stdout.write(f"  {k:21s} CPU  median {statistics.median(v) * 1000:7.1f} ms\n")
    sys.stdout.write(f"  peak RSS {peak_mb:.0f} MB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
