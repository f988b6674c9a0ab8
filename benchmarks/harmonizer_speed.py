"""Harmonizer speed: ms per face at 256 px — the generator alone, each stage, and the whole compose step.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/harmonizer_speed.py [--runs 30] [--threads 1] [--weights W]

Input: a real swap (warp engine, ``pyfeat_0-f1-su-ph.jpg`` onto ``facerec_biden.jpg``, a 970×2204
photo). Stages of :func:`faceweave.compose.harmonize.harmonize_face`: ``crop_mask`` (the changed
region, its crop box and the mask in crop space), ``crop`` (the 256-px RGB crop), ``gate``, the
``generator`` (U-Net + the affine map applied at 256 px; inference mode) and ``paste`` (the change
mapped back into a copy of the photo). Each figure is the median over ``--runs`` warm runs of wall
time and of this process's CPU time (``time.process_time``); the load average is printed with them,
since on a shared machine wall time grows with the load. The goal (issue 17) is ≤ 30 ms per face at
256 px on this CPU, for the whole step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


def _median_ms(fn: Callable[[], object], runs: int, warm: int = 3) -> tuple[float, float]:
    """(wall, CPU) medians in ms."""
    for _ in range(warm):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(1000 * (time.perf_counter() - t))
        cpu.append(1000 * (time.process_time() - c))
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from faceweave.analysis import analyze
    from faceweave.compose.harmonize import crop, crop_mask, harmonize_face, load_harmonizer, paste_delta, to_tensor
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.media import read_image
    from faceweave.models.harmonizer import mask_gate

    model = load_harmonizer(a.weights)
    size = model.config.image_size
    src = read_image(ASSETS / "pyfeat_0-f1-su-ph.jpg").rgb
    dst = read_image(ASSETS / "facerec_biden.jpg").rgb
    sf, tf = analyze(src, identity=False)[0], analyze(dst, identity=False)[0]
    swapped = get_engine("warp").swap_face(src, sf, dst, tf, SwapOptions())
    box, mc = crop_mask(dst, swapped, size)
    x = to_tensor(crop(swapped, box, size))
    mt = torch.from_numpy(mc)[None, None]
    gate = mask_gate(mt)
    with torch.inference_mode():
        delta = (model(x, mt, gate, transferred=1.0) - x)[0].permute(1, 2, 0).numpy() * 255.0
    g2 = gate[0, 0].numpy()

    def gen() -> None:
        with torch.inference_mode():
            model(x, mt, gate, transferred=1.0)

    stages = {
        "crop_mask": lambda: crop_mask(dst, swapped, size),
        "crop": lambda: crop(swapped, box, size),
        "gate": lambda: mask_gate(mt),
        "generator": gen,
        "paste": lambda: paste_delta(swapped, delta, g2, box),
        "whole compose step": lambda: harmonize_face(dst, swapped, model, colour_transferred=True),
    }
    res = {k: _median_ms(f, a.runs) for k, f in stages.items()}
    load = os.getloadavg()
    out = [f"harmonizer at {size} px on a {dst.shape[1]}x{dst.shape[0]} photo, {a.threads} thread(s), "
           f"median of {a.runs} warm runs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    out += [f"  {k:<20} {w:7.1f} ms wall  {c:7.1f} ms CPU" for k, (w, c) in res.items()]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
