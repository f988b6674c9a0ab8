"""Training fault injection: checkpoint integrity (sha256 sidecar, fallback), ENOSPC / read-only folders,
SIGKILL at random steps (several times) with an exact resume, 2-rank bucketed averaging = 1 rank × 2 batch.

ENOSPC is simulated by monkeypatching the writer (no tmpfs can be mounted without root): the fake
writes half a file, then raises ``OSError(ENOSPC)``. A read-only folder is a real ``chmod 0555`` when
the tests run as a normal user; as root (where chmod does not stop writes) it is simulated by an
``OSError(EROFS)`` from the temporary-file creation.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from rsgan_fixtures import FaceFixtureDataset, make_dataset

from faceweave.errors import FaceweaveError
from faceweave.train import checkpoint as ckpt
from faceweave.train.rsgan import TrainOptions, train

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
PY = sys.executable


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def _save(d: Path, step: int, **kw) -> Path:
    return ckpt.save_checkpoint(d, step, {"w": torch.full((4,), float(step))}, {"rng": ckpt.capture_rng_state()}, **kw)


# ---------------------------------------------------------------------- integrity and fallback
def test_sidecar_is_sha256sum_format_and_keeps_the_last_two(tmp_path: Path) -> None:
    d = tmp_path / "ck"
    for step in (1, 2, 3):
        _save(d, step)
    assert ckpt.list_checkpoints(d) == [2, 3]
    assert sorted(p.name for p in d.iterdir()) == [
        "latest", "step_00000002.pt", "step_00000002.safetensors", "step_00000002.sha256",
        "step_00000003.pt", "step_00000003.safetensors", "step_00000003.sha256",
    ]  # fmt: skip
    done = subprocess.run(["sha256sum", "-c", "step_00000003.sha256"], cwd=d, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ckpt.verify_checkpoint(d / "step_00000003.safetensors") is None


@pytest.mark.parametrize("damage", ["truncate_weights", "flip_state_byte", "delete_state"])
def test_corrupt_newest_checkpoint_falls_back_with_one_line(tmp_path: Path, damage: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    d = tmp_path / "ck"
    for step in (1, 2):
        _save(d, step)
    w, pt = d / "step_00000002.safetensors", d / "step_00000002.pt"
    if damage == "truncate_weights":
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    elif damage == "flip_state_byte":
        b = bytearray(pt.read_bytes())
        b[len(b) // 2] ^= 0xFF
        pt.write_bytes(bytes(b))
    else:
        pt.unlink()
    with caplog.at_level(logging.WARNING, logger="faceweave"):
        c = ckpt.load_checkpoint(d / "step_00000002.safetensors")
    assert c.step == 1 and torch.equal(c.tensors["w"], torch.full((4,), 1.0))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "step_00000002" in warnings[0] and "falling back to step_00000001" in warnings[0]
    assert "\n" not in warnings[0]


def test_all_checkpoints_corrupt_is_a_clear_error(tmp_path: Path) -> None:
    d = tmp_path / "ck"
    _save(d, 1)
    (d / "step_00000001.pt").write_bytes(b"\0" * 10)
    with pytest.raises(FaceweaveError, match="sha256"):
        ckpt.load_checkpoint(d)


def test_checkpoint_without_sidecar_still_loads_and_a_truncated_one_falls_back(tmp_path: Path) -> None:
    d = tmp_path / "ck"
    for step in (1, 2):
        _save(d, step)
    for step in (1, 2):
        (d / f"step_0000000{step}.sha256").unlink()  # written before sidecars existed
    assert ckpt.load_checkpoint(d).step == 2
    pt = d / "step_00000002.pt"
    pt.write_bytes(pt.read_bytes()[:100])
    assert ckpt.load_checkpoint(d).step == 1


def test_stale_temporaries_of_a_killed_save_are_removed(tmp_path: Path) -> None:
    d = tmp_path / "ck"
    _save(d, 1)
    (d / ".step_00000002.safetensors.abc123.part").write_bytes(b"half")
    (d / ".latest.xyz.part").write_text("step_")
    _save(d, 2)
    assert not list(d.glob(".*"))


# ---------------------------------------------------------------------- ENOSPC / read-only
def _fail_half_written(err: int):
    def write(_tensors, path, metadata=None) -> None:  # noqa: ANN001
        Path(path).write_bytes(b"\0" * 1000)
        raise OSError(err, os.strerror(err))

    return write


@pytest.mark.parametrize("stage", ["weights", "state"])
def test_enospc_during_a_save_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "ck"
    _save(d, 1)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    if stage == "weights":
        monkeypatch.setattr(ckpt, "save_file", _fail_half_written(errno.ENOSPC))
    else:  # the weights are in place when the trainer state fails: they must go too
        monkeypatch.setattr(ckpt.torch, "save", lambda obj, path: _fail_half_written(errno.ENOSPC)(obj, path))
    with pytest.raises(FaceweaveError) as e:
        _save(d, 2)
    msg = str(e.value)
    assert "No space left on device" in msg and "step_00000001 is intact" in msg and "\n" not in msg
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # nothing new, nothing changed
    monkeypatch.undo()
    assert ckpt.load_checkpoint(d).step == 1


def test_read_only_checkpoint_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "ck"
    _save(d, 1)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    if os.geteuid() == 0:  # root writes through chmod: simulate the read-only file system
        import faceweave.atomic

        def erofs(*a, **k):  # noqa: ANN002, ANN003
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(faceweave.atomic.tempfile, "mkstemp", erofs)
        expected = "Read-only file system"
    else:
        d.chmod(0o555)
        expected = "Permission denied"
    try:
        with pytest.raises(FaceweaveError, match=expected):
            _save(d, 2)
    finally:
        d.chmod(0o755)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


def _opts(out: Path, **kw) -> TrainOptions:
    base = dict(out=str(out), preset="tiny", batch_size=8, ckpt_every=2, image_every=0, log_every=1, seed=3,
                progress=False, tensorboard=False, device="cpu")  # fmt: skip
    base.update(kw)
    return TrainOptions(**base)


def test_trainer_enospc_is_one_line_then_resume_and_corrupt_fallback_match_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ds = FaceFixtureDataset(size=32)
    full = train(_opts(tmp_path / "full", max_steps=6), dataset=ds)
    run = tmp_path / "run"
    real_save_file = ckpt.save_file
    calls = {"n": 0}

    def full_disk_at_step_4(tensors, path, metadata=None) -> None:  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] >= 2:
            _fail_half_written(errno.ENOSPC)(tensors, path)
        real_save_file(tensors, path, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", full_disk_at_step_4)
    with pytest.raises(FaceweaveError, match="No space left on device.*step_00000002 is intact"):
        train(_opts(run, max_steps=6), dataset=ds)
    monkeypatch.undo()
    assert ckpt.list_checkpoints(run / "checkpoints") == [2]
    assert not list((run / "checkpoints").glob(".*"))
    # the disk has room again: resume, then damage the newest checkpoint and resume once more
    part = train(_opts(run, max_steps=4, resume=True), dataset=ds)
    assert part.resumed_from == 2
    pt = run / "checkpoints" / "step_00000004.pt"
    pt.write_bytes(pt.read_bytes()[:-50])  # truncated
    with caplog.at_level(logging.WARNING, logger="faceweave"):
        again = train(_opts(run, max_steps=6, resume=True), dataset=ds)
    assert again.resumed_from == 2
    assert sum("falling back to step_00000002" in r.getMessage() for r in caplog.records) == 1
    by_step = {h["step"]: h for h in full.history}
    assert [h["step"] for h in again.history] == [3, 4, 5, 6]
    for h in again.history:
        assert h == by_step[h["step"]], h["step"]
    assert ckpt.list_checkpoints(run / "checkpoints") == [4, 6]
    assert ckpt.verify_checkpoint(run / "checkpoints" / "step_00000004.safetensors") is None  # rewritten whole


# ---------------------------------------------------------------------- SIGKILL at random steps, several times
def _metrics(run: Path) -> dict[int, dict[str, float]]:
    f = run / "metrics.jsonl"
    rows = [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()] if f.is_file() else []
    return {r["step"]: r for r in rows}


def _kill_resume_cycles(cmd, run: Path, env: dict[str, str], seed: int, kills: int = 3) -> int:  # noqa: ANN001
    """Start ``cmd(max_steps)`` with --resume, SIGKILL it at a random step (plus a random delay), ``kills``
    times; returns the highest step a killed run logged."""
    rng = random.Random(seed)
    reached = 0
    for _ in range(kills):
        kill_at = reached + rng.randint(2, 4)
        proc = subprocess.Popen(cmd(100_000), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t0 = time.time()
        while max(_metrics(run) or [0]) < kill_at:
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()[1][-2000:])
            assert time.time() - t0 < 120, "trainer too slow"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL
        reached = max(_metrics(run))
        latest = ckpt.latest_checkpoint(run / "checkpoints")
        assert latest is None or ckpt.verify_checkpoint(latest) is None  # never a broken newest checkpoint
    return reached


def _assert_same_curve(run: Path, ref: Path, target: int, keys: tuple[str, ...]) -> None:
    got, want = _metrics(run), _metrics(ref)
    assert sorted(got) == sorted(want) == list(range(1, target + 1))  # killed runs' extra lines dropped
    for step, w in want.items():
        for k in keys:
            assert got[step][k] == pytest.approx(w[k], rel=1e-6, abs=1e-7), (step, k)


def test_rsgan_sigkill_at_random_steps_three_times_resumes_the_same_loss_curve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_dataset(str(data))

    def cmd(max_steps: int, out: Path = tmp_path / "run") -> list[str]:
        return [PY, "-m", "faceweave.train.rsgan", "--data", str(data), "--dataset-factory",
                "tests.rsgan_fixtures:make_dataset", "--out", str(out), "--preset", "tiny", "--batch-size", "8",
                "--seed", "1", "--no-progress", "--no-tensorboard", "--log-every", "1", "--image-every", "0",
                "--device", "cpu", "--ckpt-every", "2", "--resume", "--max-steps", str(max_steps)]  # fmt: skip

    env = _env()
    reached = _kill_resume_cycles(cmd, tmp_path / "run", env, seed=20)
    target = reached + 2
    for out in (tmp_path / "run", tmp_path / "ref"):
        done = subprocess.run(cmd(target, out), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    _assert_same_curve(tmp_path / "run", tmp_path / "ref", target, ("rec", "rec_face", "kl_xf", "adv_g", "cls", "gc"))
    assert not list((tmp_path / "run" / "checkpoints").glob(".*"))


def test_aei_sigkill_at_random_steps_three_times_resumes_the_same_loss_curve(tmp_path: Path, assets: Path) -> None:
    from faceweave.data.aei_faces import build_aei_faces

    src = tmp_path / "src"
    src.mkdir()
    for name in ("facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg"):
        (src / name).symlink_to(assets / name)
    faces = tmp_path / "faces"
    build_aei_faces(src, faces, size=32)

    def cmd(max_steps: int, out: Path = tmp_path / "run") -> list[str]:
        return [PY, "-m", "faceweave.train.aei", "--data", str(faces), "--out", str(out), "--preset", "tiny",
                "--identity", "aei_stub:stub", "--batch-size", "2", "--log-every", "1", "--image-every", "0",
                "--no-progress", "--no-tensorboard", "--seed", "3", "--ckpt-every", "2", "--resume",
                "--max-steps", str(max_steps)]  # fmt: skip

    reached = _kill_resume_cycles(cmd, tmp_path / "run", _env(AEI_STUB_SLEEP="0.03"), seed=21)
    target = reached + 2
    for out in (tmp_path / "run", tmp_path / "ref"):
        done = subprocess.run(cmd(target, out), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    _assert_same_curve(tmp_path / "run", tmp_path / "ref", target, ("adv_g", "id", "att", "rec", "adv_d"))


# ---------------------------------------------------------------------- torchrun: elastic restart, bucketed averaging
def test_torchrun_restarts_after_a_rank_is_killed_and_the_run_completes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_dataset(str(data))
    run = tmp_path / "run"
    cmd = [str(Path(PY).with_name("torchrun")), "--standalone", "--nproc_per_node=2", "--max-restarts=1",
           "-m", "faceweave.train.rsgan", "--data", str(data), "--dataset-factory",
           "tests.rsgan_fixtures:make_dataset", "--out", str(run), "--preset", "tiny", "--batch-size", "8",
           "--seed", "1", "--no-progress", "--no-tensorboard", "--log-every", "1", "--image-every", "0",
           "--device", "cpu", "--ckpt-every", "2", "--max-steps", "6"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=_env(FACEWEAVE_FAULT_KILL="1:3"), capture_output=True, text=True,
                          timeout=400)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 1 kills itself after step 3" in done.stderr
    assert "resumed from" in done.stderr and "(step 2)" in done.stderr  # no --resume given: the restart resumed
    assert sorted(_metrics(run)) == [1, 2, 3, 4, 5, 6]
    c = ckpt.load_checkpoint(run / "checkpoints")
    assert c.step == 6 and c.trainer_state["world_size"] == 2 and c.trainer_state["sampler"]["num_replicas"] == 2


def _zero_noise(monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    """ε = 0 in the reparameterisation and the prior: the same 'noise' however the batch is split."""

    def zeros(*size, generator=None, device=None, dtype=None, **kw):  # noqa: ANN001, ANN002, ANN003
        shape = size[0] if len(size) == 1 and isinstance(size[0], tuple | list | torch.Size) else size
        return torch.zeros(shape, device=device, dtype=dtype or torch.float32)

    if monkeypatch is None:
        torch.randn = zeros  # a spawned worker of its own
    else:
        monkeypatch.setattr(torch, "randn", zeros)


def _rsgan_one_step(ctx, out: str) -> None:  # noqa: ANN001
    import dataclasses

    from faceweave.models.rsgan import RSGAN, RSGANConfig
    from faceweave.models.rsgan.losses import RSGANLossWeights
    from faceweave.train.rsgan import RSGANTrainer, prepare_batch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ds = FaceFixtureDataset(size=32)
    idx = list(range(8))
    n = len(idx) // ctx.world_size
    mine = idx[ctx.rank * n : (ctx.rank + 1) * n]
    raw = {k: torch.stack([ds[i][k] for i in mine]) for k in ds[0]}
    # per-sample normalisation (BatchNorm statistics differ between half and whole batches, as under plain DDP)
    cfg = dataclasses.replace(RSGANConfig.preset("tiny"), image_size=32, norm="instance",
                              attribute_names=list(ds.attribute_names))  # fmt: skip
    trainer = RSGANTrainer(RSGAN(cfg), RSGANLossWeights(), ctx, bucket_mb=0.05)  # several buckets
    trainer.train_step(prepare_batch(raw, torch.device("cpu"), 32))
    if ctx.rank == 0:
        m = trainer.model
        torch.save({"grads": {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None},
                    "params": {k: p.detach().clone() for k, p in m.named_parameters()}}, out)  # fmt: skip


def _rsgan_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from faceweave.train.distributed import DistContext

    _zero_noise()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        _rsgan_one_step(DistContext(rank=rank, world_size=world), out)
    finally:
        dist.destroy_process_group()


def test_rsgan_two_rank_bucketed_update_equals_one_rank_with_the_doubled_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import torch.multiprocessing as mp

    from faceweave.train.distributed import DistContext

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    two = tmp_path / "two.pt"
    mp.spawn(_rsgan_worker, args=(2, port, str(two)), nprocs=2, join=True)
    _zero_noise(monkeypatch)
    one = tmp_path / "one.pt"
    _rsgan_one_step(DistContext(), str(one))
    a, b = torch.load(two), torch.load(one)
    assert a["grads"].keys() == b["grads"].keys() and len(b["grads"]) > 20
    # Equal up to float32 summation order (8 samples summed at once vs 4 + 4 across ranks): the tolerance
    # scales with each tensor's largest gradient; an element-wise rtol fails on near-zero elements of big sums.
    for k in b["grads"]:
        scale = b["grads"][k].abs().max().item()
        torch.testing.assert_close(a["grads"][k], b["grads"][k], rtol=0, atol=1e-5 * scale + 1e-8, msg=k)
    for k in b["params"]:  # Adam's first step from the same averaged gradients: the same new weights
        torch.testing.assert_close(a["params"][k], b["params"][k], rtol=0, atol=1e-5, msg=k)
