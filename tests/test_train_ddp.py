"""The trainers with one backward per step under torchrun: 2 gloo ranks (DistributedDataParallel) train
the same curve as 1 process with the whole batch, also across an elastic restart after a rank is killed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).parent / "assets"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--max-restarts=1"]


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", **extra)


def _metrics(run: Path) -> dict[int, dict[str, float]]:
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    return {r["step"]: r for r in rows}


def _person_args(photos: Path, out: Path) -> list[str]:
    return ["-m", "faceweave.train.person", "--photos", str(photos), "--name", "tiny", "--out", str(out),
            "--steps", "4", "--batch", "4", "--n-best", "1", "--checkpoint-every", "1", "--device", "cpu",
            "--style-layers", "stem", "--content-layers", "stem"]  # fmt: skip


def test_person_two_ranks_with_a_killed_rank_train_the_one_process_curve(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    photos = tmp_path / "photos"
    photos.mkdir()
    for n in ["facerec_obama.jpg", "facerec_obama2.jpg"]:
        shutil.copy(ASSETS / n, photos / n)
    one, two = tmp_path / "one", tmp_path / "two"
    r = subprocess.run([sys.executable, *_person_args(photos, one)], cwd=REPO, env=_env(), capture_output=True,
                       text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    two.mkdir()
    shutil.copy(one / "faces.npz", two / "faces.npz")  # the same extracted faces, not extracted twice
    r = subprocess.run([*TORCHRUN, *_person_args(photos, two)], cwd=REPO, env=_env(FACEWEAVE_FAULT_KILL="1:2"),
                       capture_output=True, text=True, timeout=400)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rank 1 kills itself after step 2" in r.stderr, r.stderr[-3000:]
    assert "resumed from step 1" in r.stderr  # the kill came before step 2 was saved
    a, b = _metrics(one), _metrics(two)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]
    for step in a:  # rank 0 logs the mean over ranks: the loss of the whole batch
        for k in ("total", "content", "style", "light", "tv"):
            assert b[step][k] == pytest.approx(a[step][k], rel=1e-4, abs=1e-7), (step, k)
    assert a[2]["total"] != pytest.approx(a[4]["total"], rel=1e-6)  # the weights did move
    wa, wb = load_file(str(one / "tiny.safetensors")), load_file(str(two / "tiny.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:  # four Adam steps from averaged gradients equal up to float32 summation order
        torch.testing.assert_close(wb[k], wa[k], rtol=0, atol=2e-4, msg=k)


# ---------------------------------------------------------------------- harmonizer: G and D each in DDP
def _harmonizer_opts(photos: Path, out: Path):  # noqa: ANN202
    from faceweave.models.harmonizer import HarmonizerLossWeights
    from faceweave.train.harmonizer import Schedule, TrainOptions

    # real_pairs 0: every composite has a ground truth, so the H3/H5 weights are the same on every rank;
    # phases of 2 G and 2 D steps cover both networks' DDP; the history buffer is not full yet in 6 steps
    return TrainOptions(photos=photos, out=out, preset="tiny", max_steps=6, batch_size=4, ckpt_every=100,
                        real_pairs=0, reuse=1, progress=False, log_every=1, image_every=1000, device="cpu",
                        weights=HarmonizerLossWeights(), schedule=Schedule(max_phase_g=2, max_phase_d=2))


def _harmonizer_rank(rank: int, world: int, port: int, photos: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    from faceweave.train.harmonizer import train

    train(_harmonizer_opts(Path(photos), Path(out)))


def test_harmonizer_two_ranks_train_the_one_process_curve(tmp_path: Path) -> None:
    import socket

    import torch.multiprocessing as mp

    from faceweave.train.checkpoint import load_checkpoint
    from faceweave.train.harmonizer import train

    photos = tmp_path / "photos"
    photos.mkdir()
    for n in ("pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg"):
        shutil.copy(ASSETS / n, photos / n)
    one, two = tmp_path / "one", tmp_path / "two"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a_res = train(_harmonizer_opts(photos, one))
    finally:
        torch.set_num_threads(threads)
    two.mkdir()
    shutil.copy(one / "data_cache.npz", two / "data_cache.npz")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_harmonizer_rank, args=(2, port, str(photos), str(two)), nprocs=2, join=True)
    a, b = _metrics(one), _metrics(two)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
    assert [a[s]["phase_d"] for s in a] == [b[s]["phase_d"] for s in b] == [0, 0, 1, 1, 0, 0]
    for step in a:
        for k in ("g_total", "gt", "pix", "adv_g", "adv_d"):
            if k in a[step]:
                assert b[step][k] == pytest.approx(a[step][k], rel=1e-4, abs=1e-6), (step, k)
    ca, cb = load_checkpoint(a_res.checkpoint), load_checkpoint(two / "checkpoints")
    assert ca.step == cb.step == 6 and cb.trainer_state["world_size"] == 2
    for k in ca.tensors:  # six Adam steps from averaged gradients: equal up to float32 summation order
        torch.testing.assert_close(cb.tensors[k], ca.tensors[k], rtol=0, atol=2e-4, msg=k)
