"""RSGAN applications' speed: median ms per face (model warm, faces already analysed) on ~1 MP photos.

    .venv/bin/python benchmarks/rsgan_ops_speed.py [--runs 10] [--checkpoint PATH] [--threads N]

Operations: swap (multiband), swap --gd (Poisson), edit (one attribute, face region, residual),
sample (-n 8, per call and per sample), interpolate (--steps 5, per call and per step). Stages:
prepare (align + crop + face mask), person mask (hair/both regions only), model (encode + compose of
one face), paste back (warp back + blend, per result). Analysis (detection + 68 landmarks, no mesh)
is timed once per photo, apart, since every operation needs it whatever the engine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


def one_megapixel(name: str) -> np.ndarray:
    from faceweave.media import read_image

    rgb = read_image(ASSETS / name).rgb
    s = (1_000_000 / (rgb.shape[0] * rgb.shape[1])) ** 0.5
    return cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped demo weights")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    a = ap.parse_args()

    import torch

    from faceweave.analysis import analyze
    from faceweave.pipelines import rsgan as ops

    if a.threads:
        torch.set_num_threads(a.threads)
    model = ops.load_model(a.checkpoint)
    attr = model.config.attribute_names[-1] if model.config.attribute_names else None
    src, dst = one_megapixel("facerec_biden.jpg"), one_megapixel("facerec_obama.jpg")
    t0 = time.perf_counter()
    sf = analyze(src, mesh=False, identity=False)[0]
    tf = analyze(dst, mesh=False, identity=False)[0]
    analysis_ms = (time.perf_counter() - t0) * 1000 / 2

    s = model.config.image_size
    al = ops.prepare(dst, tf, s)
    al.person()
    lat = ops.encode(model, [al.crop])
    crop = ops.generate(model, lat.z)[0]
    face_region = ops.region_mask(al, "face")
    rows: list[tuple[str, float]] = [
        ("analysis (per photo, once)", analysis_ms),
        ("stage: prepare", median_ms(lambda: ops.prepare(dst, tf, s), a.runs)),
        ("stage: person mask", median_ms(lambda: ops.prepare(dst, tf, s).person(), a.runs)),
        ("stage: model encode+compose", median_ms(lambda: ops.generate(model, ops.encode(model, [al.crop]).z), a.runs)),
        ("stage: paste back multiband", median_ms(lambda: ops.paste_back(dst, crop, al, face_region), a.runs)),
        ("stage: paste back poisson (GD)", median_ms(lambda: ops.paste_back(dst, crop, al, face_region, gd=True),
                                                      a.runs)),
        ("swap", median_ms(lambda: ops.swap_faces(model, src, sf, dst, tf), a.runs)),
        ("swap --gd", median_ms(lambda: ops.swap_faces(model, src, sf, dst, tf, gd=True), a.runs)),
    ]
    if attr:
        rows.append(("edit (face)", median_ms(lambda: ops.edit_face(model, dst, tf, {attr: 1.0}), a.runs)))
        rows.append(("edit (both)", median_ms(lambda: ops.edit_face(model, dst, tf, {attr: 1.0}, region="both"),
                                              a.runs)))
    n = 8
    ms = median_ms(lambda: ops.sample_parts(model, dst, tf, random="hair", n=n, seed=0), a.runs)
    rows += [(f"sample hair -n {n}", ms), ("  per sample", ms / n)]
    steps = 5
    ms = median_ms(lambda: ops.interpolate_parts(model, dst, tf, src, sf, part="face", steps=steps), a.runs)
    rows += [(f"interpolate face --steps {steps}", ms), ("  per step", ms / steps)]

    sys.stdout.write(f"RSGAN {s} px, torch threads {torch.get_num_threads()}, photos {dst.shape[1]}x{dst.shape[0]} "
                     f"and {src.shape[1]}x{src.shape[0]}, median of {a.runs} runs (ms)\n")
    for name, v in rows:
        sys.stdout.write(f"  {name:34s} {v:8.1f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
