"""RSGAN training speed on this machine: samples/s of full Algorithm-A1 steps per preset.

    .venv/bin/python benchmarks/train_speed.py [--batch-size 16] [--steps 4]

Uses the trainer's own step (:class:`faceweave.train.rsgan.RSGANTrainer`) on synthetic batches, so data
loading is not counted. 1 vs 2 processes (gloo) for every trainer: ``benchmarks/train_scaling.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch

from faceweave.models.rsgan import RSGAN, RSGANConfig
from faceweave.models.rsgan.losses import RSGANLossWeights
from faceweave.train.rsgan import RSGANTrainer

ATTRS = ["Male", "Smiling", "Eyeglasses"]


def make_config(preset: str, size: int) -> RSGANConfig:
    return dataclasses.replace(RSGANConfig.preset(preset), image_size=size, attribute_names=list(ATTRS))


def synthetic_batch(batch: int, size: int, n_attr: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "x": torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
        "x_f": torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
        "x_h": torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
        "m_bg": (torch.rand(batch, 1, size, size, generator=g) > 0.5).float(),
        "c": (torch.rand(batch, n_attr, generator=g) > 0.5).float(),
    }


def time_steps(trainer: RSGANTrainer, batch: dict[str, torch.Tensor], steps: int, warmup: int) -> float:
    """Seconds per step (mean over ``steps`` after ``warmup``)."""
    for _ in range(warmup):
        trainer.train_step(batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch)
    return (time.perf_counter() - t0) / steps


def single(preset: str, size: int, batch: int, steps: int, warmup: int, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = make_config(preset, size)
    trainer = RSGANTrainer(RSGAN(cfg), RSGANLossWeights())
    return batch / time_steps(trainer, synthetic_batch(batch, size, cfg.n_attr), steps, warmup)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the single-process rows (1 is fastest on a shared, busy CPU)")  # fmt: skip
    ap.add_argument("--skip-default", action="store_true", help="skip the paper-scale 128-px model")
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    rows = []
    cases = [("demo", 64), ("demo", 128)] + ([] if args.skip_default else [("default", 128)])
    for preset, size in cases:
        params = sum(p.numel() for p in RSGAN(make_config(preset, size)).parameters()) / 1e6
        sps = single(preset, size, args.batch_size, args.steps, args.warmup, threads=args.threads)
        rows.append((f"{preset} {size}px ({params:.1f}M params)", f"1 proc × {args.threads} thr", sps))
        print(f"{rows[-1][0]:<32} {rows[-1][1]:<16} {sps:8.2f} samples/s", file=sys.stderr, flush=True)
    print(f"\nRSGAN training speed, CPU, global batch {args.batch_size}, torch {torch.__version__}, {cores} cores")
    print(f"| {'model':<32} | {'processes':<20} | samples/s |")
    print(f"|{'-' * 34}|{'-' * 22}|-----------|")
    for model, procs, sps in rows:
        print(f"| {model:<32} | {procs:<20} | {sps:9.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
