"""Speed of the person engine: ms per face for the transformation network at 128 px (goal ≤ 30 ms),
and for the whole per-face step (align + transform + paste back) on a real photo.

    .venv/bin/python benchmarks/person_speed.py [--threads 1] [--runs 30] [--person NAME_OR_PATH]

Forward under torch.no_grad(), weights loaded and warm; the median of ``--runs``. Face analysis
(detection, landmarks) is not included: it is shared by every engine. On a shared machine the wall
time includes waiting for a core; the process CPU time printed next to it is what one idle core takes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


CPU_MS: list[float] = []


def median_ms(fn, runs: int) -> float:  # noqa: ANN001
    """Median wall-clock ms; also appends the median CPU ms of this process to CPU_MS (what an idle core takes)."""
    fn()
    ts, cs = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append(1000 * (time.perf_counter() - t0))
        cs.append(1000 * (time.process_time() - c0))
    CPU_MS.append(statistics.median(cs))
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--person", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from faceweave.analysis import analyze
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.engines.person import load, transform_crops
    from faceweave.media import read_image
    from faceweave.models.person.frame import align_to_frame

    net, card = load(a.person)
    rgb = read_image(ASSETS / "facerec_biden.jpg").rgb
    face = analyze(rgb, mesh=False, identity=False)[0]
    crop = align_to_frame(rgb, face.landmarks, int(net.config.size))[0]
    params = sum(p.numel() for p in net.parameters())
    t_net = median_ms(lambda: transform_crops(net, crop[None]), a.runs)
    batch = np.repeat(crop[None], 8, 0)
    t_b8 = median_ms(lambda: transform_crops(net, batch), max(a.runs // 4, 3)) / 8
    eng = get_engine("person")
    opts = SwapOptions(extra={"person": a.person})
    t_face = median_ms(lambda: eng.swap_face(None, None, rgb, face, opts), max(a.runs // 3, 3))
    print(f"person {card.get('name')}: {params} parameters, {net.config.size} px, {a.threads} thread(s)")
    print(f"transformation net, batch 1: {t_net:.1f} ms per face (CPU time {CPU_MS[0]:.1f} ms)")
    print(f"transformation net, batch 8: {t_b8:.1f} ms per face (CPU time {CPU_MS[1] / 8:.1f} ms)")
    print(f"whole face step (align + net + paste back, multiband) on facerec_biden.jpg: {t_face:.1f} ms "
          f"(CPU time {CPU_MS[2]:.1f} ms)")


if __name__ == "__main__":
    main()
