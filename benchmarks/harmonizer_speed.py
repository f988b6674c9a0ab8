"""Harmonizer speed: median ms per face at 256 px (generator alone, and the whole compose step).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/harmonizer_speed.py [--runs 30] [--threads 1] [--weights W]

"generator": one forward pass of the U-Net on a 256-px crop (RGB + mask), inference mode.
"compose step": :func:`faceweave.compose.harmonize.harmonize_face` on a real swap (warp engine,
~0.5 MP portrait): changed-region mask, crop, generator, paste-back. Warm (first runs discarded).
The goal (issue 17) is ≤ 30 ms per face at 256 px on this CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


def _median_ms(fn, runs: int, warm: int = 3) -> float:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from faceweave.analysis import analyze
    from faceweave.compose.harmonize import composite_mask, crop, crop_box, harmonize_face, load_harmonizer, to_tensor
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.media import read_image

    model = load_harmonizer(a.weights)
    size = model.config.image_size
    src = read_image(ASSETS / "pyfeat_0-f1-su-ph.jpg").rgb
    dst = read_image(ASSETS / "facerec_biden.jpg").rgb
    sf, tf = analyze(src, identity=False)[0], analyze(dst, identity=False)[0]
    swapped = get_engine("warp").swap_face(src, sf, dst, tf, SwapOptions())
    m = composite_mask(dst, swapped)
    box = crop_box(m)
    x = to_tensor(crop(swapped, box, size))
    mt = torch.from_numpy(np.ascontiguousarray(crop(m, box, size)))[None, None]

    def gen() -> None:
        with torch.inference_mode():
            model(x, mt)

    g = _median_ms(gen, a.runs)
    c = _median_ms(lambda: harmonize_face(dst, swapped, model), a.runs)
    sys.stdout.write(f"harmonizer at {size} px, {a.threads} thread(s), median of {a.runs}: generator {g:.1f} ms, "
                     f"compose step (mask + crop + generator + paste on a {dst.shape[1]}x{dst.shape[0]} photo) "
                     f"{c:.1f} ms per face\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
