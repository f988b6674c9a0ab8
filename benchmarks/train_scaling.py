"""Training on 1 and 2 processes (gloo, this CPU) for every trainer: samples/s and the 2-rank update check.

    .venv/bin/python benchmarks/train_scaling.py [--trainers rsgan,aei,person,harmonizer] [--batch 8]
                                                 [--steps 3] [--skip-check]

Each trainer's own step (the code ``faceweave train MODEL`` runs: RSGAN's bucketed gradient averaging,
DistributedDataParallel for AEI-Net, the person net and the harmonizer) on fixed batches — synthetic
images for RSGAN, AEI-Net and the harmonizer, the aligned faces of two sample photos for the person net
— so data loading is not counted. Processes join through ``init_distributed`` exactly as under
``torchrun --nproc_per_node=2``; each process uses one thread (one core each: the way ranks share a
machine). Rows:

- ``1 proc``: one process, per-step batch ``--batch``;
- ``2 ranks, weak``: two ranks with ``--batch`` each (the global batch doubles: how DDP is used);
- ``2 ranks, strong``: two ranks with ``--batch / 2`` each (the same global batch as ``1 proc``).

The check (unless ``--skip-check``): one step on 2 ranks × B/2 from the same initial weights and the
same samples (sampling noise set to 0) against (a) the mean of two 1-process steps on the two halves —
what the averaging must give, equal to float32 rounding — and (b) 1 process × B. (b) also differs
where float32 kernels round differently for another batch size (instance norms over small, nearly
flat maps amplify it); (a) = (b) means it is that and not the averaging. Printed: the worst deviation
over tensors relative to the tensor's largest gradient.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[1]
PHOTOS = [REPO / "tests" / "assets" / n for n in ("facerec_obama.jpg", "facerec_obama2.jpg")]
Step = Callable[[int], None]  # step(i): one training step on share r of w of batch i (r, w: rank, world)


def _images(n: int, size: int, seed: int, r: int, w: int, channels: int = 3) -> torch.Tensor:
    """Items r, r + w, … of a batch of ``n`` random images; each item drawn from a seed of its own, so a rank
    makes only its share (the same pixels however the batch is split)."""
    return torch.stack([torch.rand(channels, size, size, generator=torch.Generator().manual_seed(seed * 100_003 + k))
                        for k in range(r, n, w)])  # fmt: skip


def _share(t: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    return t[rank::world]


def _rsgan(ctx, batch: int, r: int, w: int) -> tuple[torch.nn.Module, Step]:  # noqa: ANN001
    import dataclasses

    from faceweave.models.rsgan import RSGAN, RSGANConfig
    from faceweave.models.rsgan.losses import RSGANLossWeights
    from faceweave.train.rsgan import RSGANTrainer

    cfg = dataclasses.replace(RSGANConfig.preset("demo"), image_size=64, norm="instance",
                              attribute_names=["Male", "Smiling", "Eyeglasses"])  # fmt: skip
    trainer = RSGANTrainer(RSGAN(cfg), RSGANLossWeights(), ctx)

    def step(i: int) -> None:
        b = {k: _images(batch, 64, 10 * i + j, r, w) * 2 - 1
             for j, k in enumerate(("x", "x_f", "x_h"))}  # fmt: skip
        b["m_bg"] = (_images(batch, 64, 10 * i + 3, r, w, channels=1) > 0.5).float()
        b["c"] = (_share(torch.rand(batch, 3, generator=torch.Generator().manual_seed(i)), r,
                         w) > 0.5).float()  # fmt: skip
        trainer.train_step(b)

    return trainer.model, step


def _aei(ctx, batch: int, r: int, w: int) -> tuple[torch.nn.Module, Step]:  # noqa: ANN001
    from faceweave.models.aei import AEIConfig, AEINet
    from faceweave.models.aei.identity import default_identity_net
    from faceweave.train.aei import AEITrainer

    cfg = AEIConfig.preset("small")
    trainer = AEITrainer(AEINet(cfg), default_identity_net(), ctx=ctx)
    s = cfg.image_size

    def step(i: int) -> None:
        same = (torch.rand(batch, generator=torch.Generator().manual_seed(i)) < 0.2).float()
        trainer.train_step({"x_t": _images(batch, s, 2 * i, r, w) * 2 - 1,
                            "x_s": _images(batch, s, 2 * i + 1, r, w) * 2 - 1,
                            "same": _share(same, r, w)})  # fmt: skip

    return trainer.model, step


def _person(ctx, batch: int, r: int, w: int) -> tuple[torch.nn.Module, Step]:  # noqa: ANN001
    import tempfile

    from faceweave.models.person.frame import FRAME_SIZE
    from faceweave.models.person.light import load_light_net
    from faceweave.models.person.losses import DenseNetFeatures, LossWeights
    from faceweave.models.person.network import TransformationConfig, TransformationNet
    from faceweave.train.distributed import wrap_ddp
    from faceweave.train.person import PersonTrainOptions, _losses
    from faceweave.train.person_data import batch_at, load_or_extract_faces, train_data

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for p in PHOTOS:
            (folder / p.name).write_bytes(p.read_bytes())
        d = load_or_extract_faces(str(folder), [], Path(tmp) / "faces.npz")
    o = PersonTrainOptions(photos="-", name="bench", out="-")
    feats = DenseNetFeatures(tuple(o.content_layers) + tuple(o.style_layers))
    data = train_data(d, feats, tuple(o.style_layers))
    net = TransformationNet(TransformationConfig(size=FRAME_SIZE))
    ddp, light = wrap_ddp(net, ctx), load_light_net()
    opt = torch.optim.Adam(net.parameters(), o.lr)
    weights = LossWeights(o.alpha, o.beta, o.gamma, tuple(o.content_layers), tuple(o.style_layers))

    def step(i: int) -> None:
        x, lms = batch_at(data, batch, 0, i, r, w)
        terms = _losses(ddp, feats, light, x, lms, data, o, weights)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()

    return net, step


def _harmonizer(ctx, batch: int, r: int, w: int) -> tuple[torch.nn.Module, Step]:  # noqa: ANN001
    from faceweave.models.harmonizer import HarmonizerConfig
    from faceweave.train.harmonizer import HarmonizerTrainer, TrainOptions

    cfg = HarmonizerConfig.preset("demo")
    trainer = HarmonizerTrainer(cfg, TrainOptions(photos=Path("-"), out=Path("-")), None, ctx)
    s = cfg.image_size

    def step(i: int) -> None:
        m = torch.zeros(batch, 1, s, s)
        m[:, :, s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = 1.0
        trainer.train_step({"x": _images(batch, s, 2 * i, r, w),
                            "y": _images(batch, s, 2 * i + 1, r, w),
                            "m": _share(m, r, w),
                            "has_gt": torch.ones(batch // w)})  # fmt: skip

    return torch.nn.ModuleList([trainer.G, trainer.D]), step


def _zeros(*size, generator=None, device=None, dtype=None, **kw) -> torch.Tensor:  # noqa: ANN001, ANN002, ANN003
    shape = size[0] if len(size) == 1 and isinstance(size[0], tuple | list | torch.Size) else size
    return torch.zeros(shape, device=device, dtype=dtype or torch.float32)


TRAINERS = {"rsgan": _rsgan, "aei": _aei, "person": _person, "harmonizer": _harmonizer}


def _run(rank: int, world: int, port: int, name: str, batch: int, steps: int, out: str, q,  # noqa: ANN001
         part: tuple[int, int] | None = None) -> None:
    """One process: ``steps`` timed steps (after one warm-up) on its share of ``batch``; or, with ``out``,
    one step whose gradients are saved (on share ``part`` = (r, w) of the batch if given, one process)."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    from faceweave.train.distributed import cleanup_distributed, init_distributed

    ctx = init_distributed("cpu")
    try:
        torch.manual_seed(0)
        r, w = part or (ctx.rank, ctx.world_size)
        model, step = TRAINERS[name](ctx, batch, r, w)
        if out:  # the check: ε = 0 wherever a step samples noise (the RSGAN prior and reparameterisation), so
            torch.randn = _zeros  # ... the two runs differ only in how the batch is split
            step(0)
            if rank == 0:
                torch.save({k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}, out)
            return
        step(0)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(1, steps + 1):
            step(i)
        if rank == 0:
            q.put(((time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps))
    finally:
        cleanup_distributed(ctx)


def launch(name: str, world: int, batch: int, steps: int, out: str = "",
           part: tuple[int, int] | None = None) -> tuple[float, float]:
    """(wall s, CPU s of rank 0) per step with ``world`` processes sharing the global ``batch``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    q = mp.get_context("spawn").SimpleQueue()
    os.environ.pop("WORLD_SIZE", None)
    mp.start_processes(_run, args=(world, port, name, batch, steps, out, q, part), nprocs=world,
                       start_method="spawn")  # fmt: skip
    return (0.0, 0.0) if out else q.get()


def check(name: str, batch: int, tmp: Path) -> tuple[float, float]:
    """(2 ranks × batch/2 against the mean of two 1-process steps on the halves, 2 ranks against 1 process ×
    batch): the largest |Δgrad| over tensors relative to the tensor's largest gradient (floored at 1e-4 of
    the network's: a conv bias before an instance norm has a gradient of float noise only)."""
    launch(name, 1, batch, 0, str(tmp / "whole.pt"))
    launch(name, 2, batch, 0, str(tmp / "ranks.pt"))
    launch(name, 1, batch, 0, str(tmp / "half0.pt"), part=(0, 2))
    launch(name, 1, batch, 0, str(tmp / "half1.pt"), part=(1, 2))
    whole, ranks, h0, h1 = (torch.load(tmp / f"{n}.pt") for n in ("whole", "ranks", "half0", "half1"))
    if not whole.keys() == ranks.keys() == h0.keys():
        raise SystemExit(f"{name}: different parameters hold gradients on 1 and 2 ranks")
    top = max(float(g.abs().max()) for g in whole.values())

    def dev(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
        return max(float((a[k] - b[k]).abs().max()) / max(float(b[k].abs().max()), 1e-4 * top, 1e-30) for k in b)

    return dev(ranks, {k: (h0[k] + h1[k]) / 2 for k in h0}), dev(ranks, whole)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trainers", default=",".join(TRAINERS))
    ap.add_argument("--batch", type=int, default=8, help="per-process batch of the 1-process row (even)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--skip-check", action="store_true")
    a = ap.parse_args(argv)
    names = [n.strip() for n in a.trainers.split(",") if n.strip()]
    if bad := [n for n in names if n not in TRAINERS]:
        raise SystemExit(f"unknown trainer(s) {bad}; choose from {', '.join(TRAINERS)}")
    rows = []
    for n in names:
        one = launch(n, 1, a.batch, a.steps)
        weak = launch(n, 2, 2 * a.batch, a.steps)
        strong = launch(n, 2, a.batch, a.steps)
        sps = (a.batch / one[0], 2 * a.batch / weak[0], a.batch / strong[0])
        dev = (float("nan"), float("nan"))
        if not a.skip_check:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                dev = check(n, a.batch, Path(tmp))
        rows.append((n, sps, one[1] / one[0], dev))
        print(f"{n}: {sps[0]:.2f} / {sps[1]:.2f} / {sps[2]:.2f} samples/s, check {dev[0]:.1e} {dev[1]:.1e}",
              file=sys.stderr, flush=True)  # fmt: skip
    print(f"\ntraining samples/s, gloo on this CPU ({os.cpu_count()} cores), torch {torch.__version__}, 1 thread per "
          f"process, per-process batch {a.batch} (weak) / {a.batch // 2} (strong), {a.steps} steps after a warm-up")
    print("| trainer | 1 proc | 2 ranks, weak | speed-up | 2 ranks, strong | speed-up | 1-proc CPU/wall "
          "| 2-rank grads vs mean of halves | vs whole batch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, (s1, sw, ss), util, (dh, dw) in rows:
        print(f"| {n} | {s1:.2f} | {sw:.2f} | {sw / s1:.2f}× | {ss:.2f} | {ss / s1:.2f}× | {util:.2f} | {dh:.1e} "
              f"| {dw:.1e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
