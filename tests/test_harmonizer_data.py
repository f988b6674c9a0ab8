"""Harmonizer training data and warm start: the re-lit scene (jitter_scene), the seam features the
context branch reads, the function-preserving --init, and the trained weights on already-matched
composites. Real photos from tests/assets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import faces_of, load_rgb

from faceweave.compose.harmonize import composite_mask, crop, crop_box, harmonize_face, load_harmonizer, to_tensor
from faceweave.data.harmonizer import HarmonizerDataset, face_patch, jitter_scene, self_composite
from faceweave.eval.metrics import mean_ciede2000
from faceweave.models.harmonizer import HarmonizerConfig, UNetGenerator, mask_gate
from faceweave.models.harmonizer.networks import CONTEXT_FEATURES, context_stats
from faceweave.train.harmonizer_step import init_from, warm_start

HELD_OUT = ("facerec_biden.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png")  # not in the demo's training


def _patch(name: str):
    return face_patch(load_rgb(name), faces_of(name, mesh=False, identity=False)[0], name)


def test_jitter_scene_relights_face_and_surroundings_alike() -> None:
    p = _patch("pyfeat_0-f1-su-ph.jpg")
    j = jitter_scene(p.image, np.random.default_rng(3))
    assert j.shape == p.image.shape and j.dtype == np.uint8
    assert np.abs(j.astype(int) - p.image.astype(int)).mean() > 3  # it changed the photo
    # one global per-channel curve: the same input level maps to (nearly) one output level everywhere
    for c in range(3):
        src, dst = p.image[..., c].ravel(), j[..., c].astype(float).ravel()
        for level in (60, 120, 180):
            sel = src == level
            if sel.sum() > 50:
                assert dst[sel].std() < 12  # saturation mixes in the grey level a little
    # in the dataset: the composite is pasted onto the re-lit photo, which is its ground truth
    ds = HarmonizerDataset([p], [], 64, real_fraction=0.0, seed=0, scene_jitter=1.0)
    plain = HarmonizerDataset([p], [], 64, real_fraction=0.0, seed=0, scene_jitter=0.0)
    it, it0 = ds[5], plain[5]
    out = it["m"].expand_as(it["x"]) < 1e-3
    far = out & (mask_gate(it["m"][None])[0].expand_as(it["x"]) == 0)
    assert (it["x"] - it["y"]).abs()[far].max() < 0.05  # multiband: only low frequencies leak out
    assert (it["y"] - it0["y"]).abs().mean() > 0.01  # the truth itself was re-lit


def test_context_stats_see_the_colour_step_across_the_seam() -> None:
    """On a real crop, the wide- and thin-band log ratios are near 0 for the photo and move by the gain
    put on the face only; the 0.1 release's 27 features come first."""
    from faceweave.analysis.masks import polygon_mask

    name = "facerec_obama.jpg"
    rgb, face = load_rgb(name), faces_of(name, mesh=False, identity=False)[0]
    hull = polygon_mask(rgb.shape[:2], face.landmarks, convex=True)
    box = crop_box(hull)
    x = to_tensor(crop(rgb, box, 128))
    m = torch.from_numpy(crop(hull, box, 128))[None, None]
    gain = torch.tensor([1.3, 1.0, 0.8])[None, :, None, None]
    xg = x * (1 - m) + (x * gain).clamp(0, 1) * m
    s, sg = context_stats(x, m, mask_gate(m)), context_stats(xg, m, mask_gate(m))
    assert s.shape == (1, CONTEXT_FEATURES)
    wide = slice(33, 36)  # log(μ inner wide band / μ outer wide band)
    assert s[0, wide].abs().max() < 0.25
    moved = sg[0, wide] - s[0, wide]
    assert moved[0] > 0.15 and moved[2] < -0.12 and moved[1].abs() < 0.05  # ≈ log 1.3, 0, log 0.8


def test_warm_start_keeps_the_old_generator_and_grows_the_context_branch() -> None:
    torch.manual_seed(0)
    small = UNetGenerator(HarmonizerConfig(**{**HarmonizerConfig.tiny().to_dict(), "context_hidden": 8}))
    for p in small.parameters():  # a "trained" generator: every head non-zero
        torch.nn.init.normal_(p, std=0.05)
    big = UNetGenerator(HarmonizerConfig.tiny())  # context_hidden 16
    assert warm_start(big, small.state_dict()) == len(small.state_dict())
    x, m = torch.rand(2, 3, 64, 64), torch.zeros(2, 1, 64, 64)
    m[:, :, 16:48, 20:44] = 1
    assert torch.allclose(big(x, m, transferred=1.0), small(x, m, transferred=1.0), atol=1e-6)
    # more inputs: old rows ignore the new columns; new rows start live (they can learn)
    old = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LeakyReLU(0.2), torch.nn.Linear(4, 2))
    new = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.LeakyReLU(0.2), torch.nn.Linear(6, 2))
    torch.nn.init.zeros_(new[2].weight)
    warm_start(new, old.state_dict())
    a = torch.randn(7, 5)
    assert torch.allclose(new(a), old(a[:, :3]), atol=1e-6)
    assert new[0].weight[4:].abs().sum() > 0


def test_init_from_bad_files(tmp_path: Path) -> None:
    g = UNetGenerator(HarmonizerConfig.tiny())
    with pytest.raises(Exception, match="no such file"):
        init_from(g, tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(Exception, match="not a weights file"):
        init_from(g, tmp_path / "bad.safetensors")


def test_demo_weights_damage_an_already_matched_composite_by_under_half() -> None:
    """Held-out faces, disturbed then colour-transferred back as the engines do (error already small),
    harmonized with the flag the engines pass (1). Issue 17 asks for no damage; the demo weights still make
    these a little worse (measured 2.51 → 3.03 on these 3 faces × 3, +16 % on all 13 held-out faces; the
    flagless weights 2.51 → 4.51, +43 %; the 0.1 weights +98 %): a regression guard, not the goal."""
    model = load_harmonizer()
    before, after = [], []
    for name in HELD_OUT:
        p = _patch(name)
        for seed in range(1000, 1003):
            comp, truth = self_composite(p, np.random.default_rng(seed), colour_transfer=1.0, multiband=1.0)
            m = composite_mask(truth, comp)
            before.append(mean_ciede2000(comp, truth, m))
            after.append(mean_ciede2000(harmonize_face(truth, comp, model, colour_transferred=True), truth, m))
    assert np.mean(after) < 1.5 * np.mean(before), (before, after)


def test_relative_ground_truth_weight_by_hand() -> None:
    """H5 weighted by 1 / (e₀ + c): a composite that is nearly right counts more per unit of error."""
    from faceweave.models.harmonizer import losses as L

    y = torch.full((2, 3, 4, 4), 0.5)
    x = y.clone()
    x[0] += 0.2  # e₀ = 0.04
    x[1] += 0.02  # e₀ = 0.0004
    region = torch.ones(2, 1, 4, 4)
    w = L.relative_weight(x, y, region, 0.001)
    assert torch.allclose(w, torch.tensor([1 / 0.041, 1 / 0.0014]), rtol=1e-4)
    out = y + 0.01  # the same absolute error on both: the second sample dominates the weighted H5
    assert float(L.ground_truth_loss(out, y, region, w)) == pytest.approx(1e-4, rel=1e-4)
