"""AEI-Net's ``small`` preset (128 px, real-time on a CPU) and faceweave's pseudo-pair augmentation.

Real photos: the face folder is built from tests/assets portraits; the pseudo targets are real
warp-engine swaps between its crops.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from faceweave.data.aei_faces import AEIFaceDataset, build_aei_faces
from faceweave.data.aei_pseudo import PseudoPairSampler, PseudoTargets, build_pseudo_pairs, load_pseudo_pairs
from faceweave.models.aei import AEIConfig, AEINet
from faceweave.models.aei import losses as L
from faceweave.train.aei import AEITrainer, TrainOptions, prepare_batch

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from aei_stub import StubIdentity  # noqa: E402

PHOTOS = ["facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> Path:
    src = tmp_path_factory.mktemp("aei_small_src")
    for name in PHOTOS:
        (src / name).symlink_to(assets / name)
    out = tmp_path_factory.mktemp("aei_small_faces")
    build_aei_faces(src, out, size=128)
    return out


@pytest.fixture(scope="module")
def pseudo(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aei_pseudo")
    build_pseudo_pairs(faces, out, per_identity=1)
    return out


def test_small_preset_keeps_the_structure_at_128_px(faces: Path) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    cfg = AEIConfig.small()
    assert cfg.image_size == 128 and cfg.levels == [8, 16, 32, 64, 128] and cfg.separable
    assert AEIConfig().levels[0] == 2 and not AEIConfig().separable  # the paper preset stays the default
    model = AEINet(cfg, with_discriminator=False).eval()
    ds = AEIFaceDataset(faces, size=128)
    x = torch.stack([ds.image(i) for i in range(len(ds))]) * 2 - 1
    att = model.attributes(x)
    assert [tuple(a.shape) for a in att] == [(len(ds), cfg.att_channels(r), r, r) for r in cfg.levels]
    # every AAD ResBlk still has its learned mask; its 3×3 convolutions are depthwise + pointwise
    for blk in model.G.blocks:
        assert blk.aad1.mask.out_channels == 1
        assert blk.conv1[0].groups == blk.conv1[0].in_channels and blk.conv1[1].kernel_size == (1, 1)
    z = F.normalize(torch.randn(len(ds), 512), dim=1)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = model(x, z)
    assert y.shape == x.shape and float(y.abs().max()) <= 1
    assert counter.get_total_flops() / len(ds) < 0.5e9  # ≈ 0.2 GFLOP per face (the cpu preset: 3.2 at 128 px)
    # the identity path still matters: another z_id changes the output
    with torch.no_grad():
        assert float((model(x, -z) - y).abs().mean()) > 1e-4


def test_pseudo_pairs_are_warp_swaps_between_identities(faces: Path, pseudo: Path) -> None:
    meta = json.loads((pseudo / "pairs.json").read_text())
    ds = AEIFaceDataset(faces, size=128)
    ident = dict(zip(ds.files, ds.identities, strict=True))
    assert len(meta["pairs"]) >= 2 and meta["engine"] == "warp"
    for r in meta["pairs"]:
        assert ident[r["source"]] != ident[r["target"]]
        ref = cv2.imread(str(pseudo / r["ref"]))
        tgt = cv2.imread(str(faces / r["target"]))
        assert ref.shape == tgt.shape == (128, 128, 3)
        diff = np.abs(ref.astype(int) - tgt.astype(int)).mean(2)
        assert diff[40:90, 40:90].mean() > 4  # the face changed …
        assert diff[:8].mean() < diff[40:90, 40:90].mean() / 2  # … the top border (background) much less
    idx, refs = load_pseudo_pairs(pseudo, ds.files)
    assert len(idx) == len(refs) == len(meta["pairs"])


def test_pseudo_sampler_is_seeded_and_off_by_default(faces: Path, pseudo: Path) -> None:
    assert TrainOptions(out="x").pseudo_ratio == 0 and TrainOptions(out="x").pseudo_pairs is None
    ds = AEIFaceDataset(faces, size=128)
    idx, _ = load_pseudo_pairs(pseudo, ds.files)
    base = [[(0, 1, 0), (1, 2, 0), (2, 2, 1)]] * 6
    assert all(r == -1 for b in PseudoPairSampler(base, idx, 0.0, 0, 0) for *_, r in b)
    every = list(PseudoPairSampler(base, idx, 1.0, 0, 0))
    assert all(r >= 0 and (t, s) == idx[r] and same == 0 for b in every for t, s, same, r in b)
    assert every == list(PseudoPairSampler(base, idx, 1.0, 0, 0))  # same seed, same pairs (exact resume)
    assert list(PseudoPairSampler(base[2:], idx, 1.0, 0, 0, start_step=2)) == every[2:]


def test_pseudo_term_by_hand_and_only_on_pseudo_pairs(faces: Path, pseudo: Path) -> None:
    ds = AEIFaceDataset(faces, size=128)
    idx, refs = load_pseudo_pairs(pseudo, ds.files)
    wrapped = PseudoTargets(ds, refs, 128)
    (t, s) = idx[0]
    items = [wrapped[(t, s, 0, 0)], wrapped[(1, 2, 0, -1)]]
    raw = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    b = prepare_batch(raw, torch.device("cpu"), 128)
    assert b["has_ref"].tolist() == [1.0, 0.0]
    torch.manual_seed(0)
    trainer = AEITrainer(AEINet(AEIConfig.small()), StubIdentity())
    terms, y = trainer.compute_g_terms(b)
    by_hand = 0.5 * (y[0].detach() - b["y_ref"][0]).pow(2).mean() / 2  # ½‖·‖², batch mean over 2 pairs
    assert torch.allclose(terms["pseudo"].detach(), by_hand, rtol=1e-5)
    assert torch.allclose(terms["pseudo"], L.loss_rec(y, b["y_ref"], b["has_ref"]))
    # a pair whose z_id is blended by --id-mix gets no pseudo target
    trainer.id_mix = 1.0
    terms, _ = trainer.compute_g_terms(b)
    assert float(terms["pseudo"].detach()) == 0.0
