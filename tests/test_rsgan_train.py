"""RSGAN training: Algorithm A1 gradient routing, exact resume, checkpoints, signals, torchrun, overfitting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from rsgan_fixtures import FaceFixtureDataset, make_dataset

from faceweave.errors import FaceweaveError
from faceweave.models.rsgan import RSGAN, RSGANConfig
from faceweave.models.rsgan.losses import RSGANLossWeights
from faceweave.train import checkpoint as ckpt
from faceweave.train.rsgan import (
    RSGANTrainer,
    TrainOptions,
    backward_a1,
    compute_losses,
    load_config_file,
    prepare_batch,
    train,
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a shared 2-core CPU two contending threads run these small models far slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
ENC = {"enc_xf", "enc_xh", "enc_cf", "enc_ch"}
# Which networks each loss term may reach — transcribed from Algorithm A1 lines 19–29 (L_G = L_adv-g +
# L_adv-p + λ_GC L_GC goes to the four encoders and G; the generator-side adversarial terms are *_gen).
EXPECTED = {
    "rec_face": {"enc_xf", "enc_cf", "dec_f"},
    "rec_hair": {"enc_xh", "enc_ch", "dec_h"},
    "rec": {"composer"},
    "kl_xf": {"enc_xf"},
    "kl_xh": {"enc_xh"},
    "kl_cf": {"enc_cf"},
    "kl_ch": {"enc_ch"},
    "adv_g_gen": ENC | {"composer"},
    "adv_p_gen": ENC | {"composer"},
    "gc": ENC | {"composer"},
    "adv_g": {"d_global"},
    "adv_p": {"d_patch"},
    "cls": {"classifier"},
}


def _batch(ds: FaceFixtureDataset, idx: list[int], size: int) -> dict[str, torch.Tensor]:
    raw = {k: torch.stack([ds[i][k] for i in idx]) for k in ds[0]}
    return prepare_batch(raw, torch.device("cpu"), size)


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


# ---------------------------------------------------------------------- Algorithm A1 routing
@pytest.mark.parametrize("with_attributes", [True, False])
def test_each_loss_reaches_exactly_the_networks_a1_names(with_attributes: bool) -> None:
    ds = FaceFixtureDataset(size=32, with_attributes=with_attributes)
    w = RSGANLossWeights()
    torch.manual_seed(0)
    model = RSGAN(RSGANConfig.tiny(32, ds.attribute_names)).train()
    batch = _batch(ds, list(range(6)), 32)
    groups = model.parameter_groups()
    for name, expected in EXPECTED.items():
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        terms = compute_losses(model, batch, w).terms
        only = {k: (v if k == name else v * 0.0) for k, v in terms.items()}
        backward_a1(model, only, w)
        reached = {net for net, ps in groups.items() if any(p.grad is not None and p.grad.abs().sum() > 0 for p in ps)}
        if not with_attributes:
            expected = expected - {"enc_cf", "enc_ch", "classifier"}
            if name in {"kl_cf", "kl_ch", "cls", "gc"}:
                expected = set()
        assert reached == expected, f"{name}: reached {sorted(reached)}, A1 says {sorted(expected)}"


@pytest.mark.parametrize(("term", "weights"), [("swap", {"swap": 4000.0}), ("edit", {"edit": 50.0})])
def test_faceweave_losses_are_off_by_default_and_train_only_the_composer(term: str, weights: dict) -> None:
    """faceweave's region-swap and attribute-edit terms (not in the paper) reach G alone, and only when on."""
    ds = FaceFixtureDataset(size=32)
    torch.manual_seed(0)
    model = RSGAN(RSGANConfig.tiny(32, ds.attribute_names)).train()
    batch = _batch(ds, list(range(6)), 32)
    assert term not in compute_losses(model, batch, RSGANLossWeights()).terms
    w = RSGANLossWeights(**weights)
    terms = compute_losses(model, batch, w).terms
    assert terms[term].item() > 0
    model.zero_grad(set_to_none=True)
    backward_a1(model, {k: (v if k == term else v * 0.0) for k, v in terms.items()}, w)
    groups = model.parameter_groups()
    reached = {net for net, ps in groups.items() if any(p.grad is not None and p.grad.abs().sum() > 0 for p in ps)}
    assert reached == {"composer"}


def test_region_swap_loss_needs_face_masks() -> None:
    ds = FaceFixtureDataset(size=32)
    model = RSGAN(RSGANConfig.tiny(32, ds.attribute_names)).train()
    batch = {k: v for k, v in _batch(ds, list(range(4)), 32).items() if k != "m_face"}
    with pytest.raises(FaceweaveError, match="m_face"):
        compute_losses(model, batch, RSGANLossWeights(swap=1.0))


def test_gradients_equal_each_networks_a1_objective() -> None:
    """After one backward, each network's .grad equals ∇ of its own A1 objective (weights included)."""
    ds = FaceFixtureDataset(size=32)
    w = RSGANLossWeights()
    torch.manual_seed(0)
    model = RSGAN(RSGANConfig.tiny(32, ds.attribute_names)).train()
    batch = _batch(ds, list(range(6)), 32)
    torch.manual_seed(1)
    t = compute_losses(model, batch, w).terms
    l_g = t["adv_g_gen"] + t["adv_p_gen"] + w.gc * t["gc"]  # line 19
    objective = {
        "enc_xf": w.rec * t["rec_face"] + w.kl * t["kl_xf"] + l_g,  # line 20
        "enc_xh": w.rec * t["rec_hair"] + w.kl * t["kl_xh"] + l_g,  # line 21
        "enc_cf": w.rec * t["rec_face"] + w.kl * t["kl_cf"] + l_g,  # line 22
        "enc_ch": w.rec * t["rec_hair"] + w.kl * t["kl_ch"] + l_g,  # line 23
        "dec_f": w.rec * t["rec_face"],  # line 24
        "dec_h": w.rec * t["rec_hair"],  # line 25
        "composer": w.rec * t["rec"] + l_g,  # line 26
        "d_global": w.adv_g * t["adv_g"],  # line 27
        "d_patch": w.adv_p * t["adv_p"],  # line 28
        "classifier": w.cls * t["cls"],  # line 29
    }
    groups = model.parameter_groups()
    want = {
        net: torch.autograd.grad(objective[net], groups[net], retain_graph=True, allow_unused=True) for net in groups
    }
    model.zero_grad(set_to_none=True)
    backward_a1(model, t, w)
    for net, ps in groups.items():
        for p, g in zip(ps, want[net], strict=True):
            ref = torch.zeros_like(p) if g is None else g
            got = torch.zeros_like(p) if p.grad is None else p.grad
            assert torch.allclose(got, ref, rtol=1e-3, atol=1e-5 * (1 + ref.abs().max().item())), net


def test_one_step_updates_every_network() -> None:
    ds = FaceFixtureDataset(size=32)
    torch.manual_seed(0)
    model = RSGAN(RSGANConfig.tiny(32, ds.attribute_names))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = RSGANTrainer(model, RSGANLossWeights())
    values = trainer.train_step(_batch(ds, list(range(8)), 32))
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    for net in model.parameter_groups():
        names = [n for n, _ in getattr(model, net).named_parameters()]
        changed = any(not torch.equal(before[f"{net}.{n}"], getattr(model, net).get_parameter(n)) for n in names)
        assert changed, net


# ---------------------------------------------------------------------- checkpoints and resume
def _opts(out: Path, **kw) -> TrainOptions:
    base = dict(
        out=str(out),
        preset="tiny",
        batch_size=8,
        ckpt_every=3,
        image_every=2,
        log_every=1,
        seed=3,
        progress=False,
        tensorboard=True,
        device="cpu",
    )
    base.update(kw)
    return TrainOptions(**base)


def test_resume_continues_exactly(tmp_path: Path) -> None:
    ds = FaceFixtureDataset(size=32)
    full = train(_opts(tmp_path / "full", max_steps=6), dataset=ds)
    part = train(_opts(tmp_path / "part", max_steps=4), dataset=ds)  # checkpoints at 3 and 4
    assert part.step == 4
    # drop step 4 so the resume starts from step 3, mid-way through the data order
    (tmp_path / "part" / "checkpoints" / "latest").write_text("step_00000003\n")
    again = train(_opts(tmp_path / "part", max_steps=6, resume=True), dataset=ds)
    assert again.resumed_from == 3
    by_step = {h["step"]: h for h in full.history}
    assert [h["step"] for h in again.history] == [4, 5, 6]
    for h in again.history:
        assert h == by_step[h["step"]], f"step {h['step']} differs after resume"
    a = full.model.export_state()
    b = again.model.export_state()
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # the dead run's step-4 record was replaced, not duplicated
    assert any((tmp_path / "part" / "tb").iterdir())


def test_existing_run_needs_resume(tmp_path: Path) -> None:
    ds = FaceFixtureDataset(size=32)
    train(_opts(tmp_path / "r", max_steps=1), dataset=ds)
    with pytest.raises(FaceweaveError):
        train(_opts(tmp_path / "r", max_steps=2), dataset=ds)


def test_checkpoint_load_gives_identical_outputs(tmp_path: Path) -> None:
    ds = FaceFixtureDataset(size=32)
    res = train(_opts(tmp_path / "r", max_steps=2), dataset=ds)
    assert res.checkpoint is not None and res.checkpoint.name == "step_00000002.safetensors"
    loaded = RSGAN.from_pretrained(res.checkpoint)
    trained = res.model.eval()
    x = _batch(ds, [0, 3, 5], 32)["x"]
    assert torch.equal(trained.reconstruct(x), loaded.reconstruct(x))
    assert torch.equal(trained.swap(x, x.flip(0)), loaded.swap(x, x.flip(0)))
    assert loaded.config.attribute_names == ds.attribute_names


def test_checkpoint_files_pointer_pruning_and_rng(tmp_path: Path) -> None:
    d = tmp_path / "ck"
    torch.manual_seed(5)
    rng = ckpt.capture_rng_state()
    a = torch.rand(3)
    for step in (1, 2, 3, 4):
        ckpt.save_checkpoint(d, step, {"w": torch.full((2,), float(step))}, {"rng": rng}, keep=2)
    assert ckpt.list_checkpoints(d) == [3, 4]
    assert (d / "latest").read_text().strip() == "step_00000004"
    assert not list(d.glob(".*tmp"))
    c = ckpt.load_checkpoint(d)
    assert c.step == 4 and torch.equal(c.tensors["w"], torch.full((2,), 4.0))
    ckpt.restore_rng_state(c.trainer_state["rng"])
    assert torch.equal(torch.rand(3), a)
    (d / "step_00000004.pt").unlink()  # an incomplete newest checkpoint is never chosen
    assert ckpt.latest_checkpoint(d).name == "step_00000003.safetensors"


def test_config_files_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[model]\npreset = "demo"\nz_face = 64\n[loss]\nrec = 100\n')
    (tmp_path / "c.json").write_text(json.dumps({"model": {"image_size": 64}, "loss": {"gc": 5}}))
    model, loss = load_config_file(tmp_path / "c.toml")
    cfg = RSGANConfig.from_dict(model)
    assert cfg.z_face == 64 and cfg.image_size == 64 and RSGANLossWeights.from_dict(loss).rec == 100
    model, loss = load_config_file(tmp_path / "c.json")
    assert RSGANConfig.from_dict(model).image_size == 64 and RSGANLossWeights.from_dict(loss).gc == 5
    (tmp_path / "bad.json").write_text(json.dumps({"model": {"nope": 1}}))
    with pytest.raises(FaceweaveError):
        RSGANConfig.from_dict(load_config_file(tmp_path / "bad.json")[0])


# ---------------------------------------------------------------------- processes: signals, torchrun
def _cli(out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "--data", str(cache), "--dataset-factory", "tests.rsgan_fixtures:make_dataset", "--out", str(out),
        "--preset", "tiny", "--batch-size", "8", "--seed", "1", "--no-progress", "--log-every", "1",
        "--image-every", "0", "--device", "cpu", *extra,
    ]  # fmt: skip


def _wait_for(pred, timeout: float, proc: subprocess.Popen) -> None:
    t0 = time.time()
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"trainer exited early: {proc.communicate()[1][-2000:]}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the trainer")
        time.sleep(0.2)


def _metric_steps(run: Path) -> list[int]:
    f = run / "metrics.jsonl"
    if not f.is_file():
        return []
    return [json.loads(ln)["step"] for ln in f.read_text().splitlines() if ln.strip()]


@pytest.mark.slow
def test_sigkill_then_resume_from_last_checkpoint(tmp_path: Path) -> None:
    cache = tmp_path / "data"
    make_dataset(str(cache))  # build the cached fixture once, outside the trainer
    run = tmp_path / "run"
    cmd = [PY, "-m", "faceweave.train.rsgan", *_cli(run, cache, "--max-steps", "100000", "--ckpt-every", "4")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    ckdir = run / "checkpoints"
    _wait_for(lambda: (ckpt.list_checkpoints(ckdir) or [0])[-1] >= 8 and max(_metric_steps(run)) >= 10, 120, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    last = int((ckdir / "latest").read_text().strip().split("_")[1])
    assert last >= 8 and last % 4 == 0
    target = last + 5
    done = subprocess.run([PY, "-m", "faceweave.train.rsgan", *_cli(run, cache, "--max-steps", str(target),
                          "--ckpt-every", "4", "--resume")], cwd=REPO, env=_subprocess_env(),
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resumed from {ckdir / f'step_{last:08d}.safetensors'} (step {last})" in done.stderr
    assert ckpt.list_checkpoints(ckdir)[-1] == target
    assert _metric_steps(run) == list(range(1, target + 1))
    # the resumed losses are those of an uninterrupted run with the same seed
    ref = train(_opts(tmp_path / "ref", max_steps=target, seed=1, ckpt_every=1000, image_every=0, tensorboard=False),
                dataset=make_dataset(str(cache)))  # fmt: skip
    logged = {r["step"]: r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}
    for h in ref.history[last:]:
        for k in ("rec", "rec_face", "adv_g", "kl_xf", "cls"):
            assert abs(logged[h["step"]][k] - h[k]) <= 1e-4 * (1 + abs(h[k])), (h["step"], k)


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_cleanly(tmp_path: Path) -> None:
    cache = tmp_path / "data"
    make_dataset(str(cache))
    run = tmp_path / "run"
    cmd = [PY, "-m", "faceweave.train.rsgan", *_cli(run, cache, "--max-steps", "100000", "--ckpt-every", "1000")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    _wait_for(lambda: len(_metric_steps(run)) >= 3, 120, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    steps = _metric_steps(run)
    assert ckpt.list_checkpoints(run / "checkpoints") == [steps[-1]]
    assert "SIGTERM" in err


@pytest.mark.slow
def test_torchrun_two_ranks_gloo(tmp_path: Path) -> None:
    cache = tmp_path / "data"
    make_dataset(str(cache))
    run = tmp_path / "run"
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "faceweave.train.rsgan",
           *_cli(run, cache, "--max-steps", "3", "--ckpt-every", "1000")]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ckpt.list_checkpoints(run / "checkpoints") == [3]
    state = ckpt.load_checkpoint(run / "checkpoints").trainer_state
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # each rank kept its own RNG
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    assert RSGAN.from_pretrained(run / "checkpoints" / "step_00000003.safetensors").config.image_size == 32


# ---------------------------------------------------------------------- learning
@pytest.mark.slow
def test_overfit_16_real_faces_halves_reconstruction_l1(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core box one thread is much faster than two contending ones
    try:
        _overfit(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _overfit(tmp_path: Path) -> None:
    ds = FaceFixtureDataset(size=64)
    model_cfg = dict(preset="tiny", image_size=64, z_face=32, z_hair=32, enc_channels=8, enc_max_channels=32,
                     dec_channels=8, dec_max_channels=32, gen_channels=16, gen_max_channels=64,
                     disc_channels=8, disc_max_channels=16, patch_levels=2)  # fmt: skip
    (tmp_path / "cfg.json").write_text(json.dumps({"model": model_cfg}))
    x = _batch(ds, list(range(16)), 64)["x"]

    def l1(m: RSGAN) -> float:
        m.eval()
        return (RSGAN.from_model_range(m.reconstruct(x)) - RSGAN.from_model_range(x)).abs().mean().item()

    torch.manual_seed(0)  # the trainer seeds the same way before building the model
    before = l1(RSGAN(RSGANConfig.from_dict(dict(model_cfg, attribute_names=ds.attribute_names))))
    opts = _opts(tmp_path / "run", config=str(tmp_path / "cfg.json"), preset=None, max_steps=200, batch_size=16,
                 ckpt_every=1000, image_every=0, log_every=50, seed=0, tensorboard=False)  # fmt: skip
    res = train(opts, dataset=ds)
    after = l1(res.model)
    assert after <= 0.5 * before, f"reconstruction L1 {before:.4f} → {after:.4f}"
