"""AEI-Net speed: ms per face at inference, FLOPs per step (training samples/s: train_scaling.py).

    .venv/bin/python benchmarks/aei_speed.py infer [--preset small] [--size N] [--repeat 20]
    .venv/bin/python benchmarks/aei_speed.py engine [--repeat 5]          # the shipped demo weights, real photos
    .venv/bin/python benchmarks/aei_speed.py flops [--preset paper] [--batch-size 8]

``infer``: E + G forward of a preset (default ``small``, 128 px; ``--size`` changes only the resolution)
for one face on 1 thread, wall and CPU time; the source's z_id (identity net on its 112×112 crop) is
timed separately because the engine computes it once per source, not per frame.
``engine``: ``AEIEngine.swap_face`` on two real photos
(analysis excluded; alignment, generation, paste-back and blending included). ``flops``: one training
step counted on the meta device with ``torch.utils.flop_counter`` (nothing is computed),
for the GPU-time estimate in docs/aei.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch

from faceweave.models.aei import AEIConfig, AEINet, FrozenIdentity
from faceweave.train.aei import AEITrainer


def _identity() -> torch.nn.Module:
    from faceweave.models.aei.identity import default_identity_net

    return default_identity_net()


def bench_infer(size: int | None, repeat: int, preset: str) -> None:
    """E + G per face (z_id of the source computed once and cached, as the engine does), plus z_id alone."""
    torch.set_num_threads(1)
    cfg = AEIConfig.preset(preset)
    if size is not None and size != cfg.image_size:
        cfg = dataclasses.replace(cfg, image_size=size)
    model = AEINet(cfg, with_discriminator=False).eval()
    ident = FrozenIdentity(_identity())
    x = torch.rand(1, 3, cfg.image_size, cfg.image_size) * 2 - 1
    s112 = torch.rand(1, 3, 112, 112) * 2 - 1
    load0 = os.getloadavg()[0]
    with torch.no_grad():
        z = ident.embed_aligned(s112)
        for _ in range(3):
            model(x, z)
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            model(x, z)
        wall, cpu = (time.perf_counter() - w0) / repeat, (time.process_time() - c0) / repeat
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            ident.embed_aligned(s112)
        id_wall, id_cpu = (time.perf_counter() - w0) / repeat, (time.process_time() - c0) / repeat
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x, z)
    n_par = sum(p.numel() for p in model.parameters()) / 1e6
    load = max(load0, os.getloadavg()[0])
    print(f"infer: preset {preset} at {cfg.image_size} px, E+G per face (z_id cached per source), 1 thread, "
          f"{repeat} runs: wall {1000 * wall:.1f} ms, CPU {1000 * cpu:.1f} ms per face "
          f"({counter.get_total_flops() / 1e9:.2f} GFLOP, {n_par:.2f}M parameters); "
          f"z_id once per source: wall {1000 * id_wall:.1f} ms, CPU {1000 * id_cpu:.1f} ms; "
          f"load average {load:.1f} on {os.cpu_count()} cores")


def bench_engine(repeat: int) -> None:
    from pathlib import Path

    from faceweave.analysis import analyze
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.media import read_image

    torch.set_num_threads(1)
    assets = Path(__file__).resolve().parents[1] / "tests" / "assets"
    src = read_image(assets / "facerec_biden.jpg").rgb
    tgt = read_image(assets / "pyfeat_0-f1-su-ph.jpg").rgb
    fs, ft = analyze(src)[0], analyze(tgt)[0]
    eng = get_engine("aei")
    opts = SwapOptions()
    eng.swap_face(src, fs, tgt, ft, opts)
    gen, comp = [], []
    for _ in range(repeat):
        eng.swap_face(src, fs, tgt, ft, opts)
        gen.append(eng.timings["generate"])
        comp.append(eng.timings["compose"])
    g, c = 1000 * sum(gen) / repeat, 1000 * sum(comp) / repeat
    print(f"engine (demo weights, {tgt.shape[1]}x{tgt.shape[0]} target): generate {g:.1f} ms + compose {c:.1f} ms "
          f"= {g + c:.1f} ms per face")


def _batch(n: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"x_t": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "x_s": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "same": (torch.rand(n, generator=g) < 0.2).float()}


def bench_flops(preset: str, batch: int) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from faceweave.models.aei.identity import UnitRangeInput

    cfg = AEIConfig.preset(preset)
    with torch.device("meta"):
        model = AEINet(cfg)
        try:
            from faceweave.nets.mobilefacenet import IDENTITY_512, MobileFaceNet

            net = UnitRangeInput(MobileFaceNet(IDENTITY_512))
        except ImportError:
            print("faceweave.nets missing: identity net not counted", file=sys.stderr)
            net = torch.nn.Flatten()
        from faceweave.train.distributed import DistContext

        trainer = AEITrainer(model, net, ctx=DistContext(device=torch.device("meta")))
        b = {k: v.to("meta") for k, v in _batch(batch, cfg.image_size).items()}
        counter = FlopCounterMode(display=False)
        with counter:
            terms, y = trainer.compute_g_terms(b)
            sum(terms.values()).backward()
            trainer.compute_d_loss(b["x_t"], y).backward()
    total = counter.get_total_flops()
    params = {k: sum(p.numel() for p in v) / 1e6 for k, v in model.parameter_groups().items()}
    print(f"flops {preset} ({cfg.image_size} px), batch {batch}: {total / 1e12:.2f} TFLOP per training step "
          f"(E {params['E']:.1f}M, G {params['G']:.1f}M, D {params['D']:.1f}M parameters)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("infer", "engine", "flops"))  # training samples/s: train_scaling.py
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--preset", default=None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    if a.what == "infer":
        bench_infer(a.size, a.repeat, a.preset or "small")
    elif a.what == "engine":
        bench_engine(a.repeat)
    else:
        bench_flops(a.preset or "paper", a.batch_size)


if __name__ == "__main__":
    main()
