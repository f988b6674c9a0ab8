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
