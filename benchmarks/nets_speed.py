"""Speed of the frozen face networks (faceweave.nets): median ms per face at batch 1 and batch 16, CPU.

    .venv/bin/python benchmarks/nets_speed.py [--threads 1] [--runs 10] [--batches 1,16]

Inputs are the real aligned crops of tests/assets/nets_reference.npz (112 px for the identity nets,
224 px for pose and DenseNet). Times the forward pass only (no crop), weights loaded and warm, under
torch.no_grad(); also the crop (grid_sample warp) of 16 faces and a forward+backward of the two losses.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

REF = Path(__file__).resolve().parents[1] / "tests" / "assets" / "nets_reference.npz"


def median_ms(fn, runs: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(1000 * (time.perf_counter() - t0))
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batches", default="1,16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from faceweave.nets import load
    from faceweave.nets.align import arcface_crop, image_to_tensor
    from faceweave.nets.losses import IdentityLoss, PerceptualLoss

    with np.load(REF) as z:
        x112 = torch.from_numpy(z["arcface_uint8"]).permute(0, 3, 1, 2).float() / 255
        x224 = torch.from_numpy(z["face224_uint8"]).permute(0, 3, 1, 2).float() / 255
    batches = [int(b) for b in args.batches.split(",")]
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.runs} runs")
    print("| net | input | " + " | ".join(f"ms/face @ batch {b}" for b in batches) + " |")
    print("|---|---|" + "---:|" * len(batches))
    for name, x in (("identity512", x112), ("mobilefacenet192", x112), ("pose", x224), ("expression", x224)):
        net = load(name)
        cells = []
        for b in batches:
            xb = x[np.arange(b) % len(x)]
            with torch.no_grad():
                cells.append(f"{median_ms(lambda xb=xb, net=net: net(xb), args.runs) / b:.1f}")
        print(f"| {name} | {x.shape[-1]} px | " + " | ".join(cells) + " |")

    img = image_to_tensor(np.ascontiguousarray(np.full((1000, 1000, 3), 128, np.uint8)))
    # the reference file stores crops, not landmarks: a centred 68-point layout is enough to time the warp
    pts = np.stack([np.linspace(400, 600, 68), np.linspace(400, 600, 68)], 1)
    pts[36:42] = [440, 460]
    pts[42:48] = [560, 460]
    pts[30] = [500, 520]
    pts[48] = [455, 570]
    pts[54] = [545, 570]
    lms = np.repeat(pts[None], 16, 0)
    warp_ms = median_ms(lambda: arcface_crop(img, lms), args.runs)
    print(f"\narcface_crop of 16 faces from a 1000×1000 image: {warp_ms:.1f} ms")

    idl, pl = IdentityLoss(), PerceptualLoss()
    for label, loss, x in (("IdentityLoss", idl, x112[:16]), ("PerceptualLoss (block1-3)", pl, x224[:16])):
        def step(loss=loss, x=x) -> None:  # noqa: ANN001
            xi = x.clone().requires_grad_(True)
            loss(xi, x.flip(0)).backward()
        print(f"{label}: forward+backward, batch 16: {median_ms(step, max(3, args.runs // 3)):.0f} ms")


if __name__ == "__main__":
    main()
