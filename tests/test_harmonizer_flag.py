"""The harmonizer's colour-transfer flag (ours): the generator reads whether the engine already
colour-transferred the face; training sets it per composite, every compose step passes the engine's
``colour_transfer`` option. Real photos from tests/assets where trained behaviour matters."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import faces_of, load_rgb

from faceweave.compose import harmonize as H
from faceweave.data.harmonizer import (
    HarmonizerDataset,
    RealComposite,
    face_patch,
    self_composite,
    self_composite_flagged,
)
from faceweave.eval.metrics import mean_ciede2000
from faceweave.models.harmonizer import CONFIG_METADATA_KEY, HarmonizerConfig, UNetGenerator
from faceweave.train.harmonizer_step import warm_start

HELD_OUT = ("facerec_biden.jpg", "skimage_astronaut.png")  # not in the demo weights' training


def _xm(b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(b, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    m = torch.zeros(b, 1, 64, 64)
    m[:, :, 16:48, 20:44] = 1
    return x, m


def _randomised(config: HarmonizerConfig, seed: int = 0) -> UNetGenerator:
    torch.manual_seed(seed)
    g = UNetGenerator(config)
    for p in g.parameters():  # a "trained" generator: every weight non-zero
        torch.nn.init.normal_(p, std=0.1)
    return g.eval()


def test_flag_reaches_the_output_through_the_input_channel_and_the_context() -> None:
    g = _randomised(HarmonizerConfig.tiny())
    x, m = _xm()
    with torch.no_grad():
        y0, y1 = g(x, m, transferred=0.0), g(x, m, transferred=1.0)
        assert (y0 - y1).abs().mean() > 1e-3
        mixed = g(x, m, transferred=torch.tensor([0.0, 1.0]))  # per sample
        assert torch.allclose(mixed[0], y0[0]) and torch.allclose(mixed[1], y1[1])
        g.down[0][0].weight[:, 4] = 0  # cut the constant 5th input channel: the context still carries it
        assert (g(x, m, transferred=0.0) - g(x, m, transferred=1.0)).abs().mean() > 1e-4
        g.context[0].weight[:, -1] = 0  # and the 40th context feature: now nothing does
        assert torch.equal(g(x, m, transferred=0.0), g(x, m, transferred=1.0))
    with pytest.raises(ValueError, match="colour-transferred"):
        g(x, m)  # a flag-reading generator must be told


def test_flagless_layout_ignores_the_flag_and_warm_starts_function_preservingly() -> None:
    old_cfg = HarmonizerConfig(**{**HarmonizerConfig.tiny().to_dict(), "colour_input": False})
    old = _randomised(old_cfg, seed=1)
    x, m = _xm()
    with torch.no_grad():
        assert torch.equal(old(x, m), old(x, m, transferred=1.0))
        new = UNetGenerator(HarmonizerConfig.tiny())
        assert warm_start(new, old.state_dict()) == len(old.state_dict())
        for t in (0.0, 1.0):  # the new input starts at zero weight: the old function, either flag
            assert torch.allclose(new(x, m, transferred=t), old(x, m), atol=1e-6)
    assert new.down[0][0].weight.shape[1] == 5 and new.context[0].weight.shape[1] == old.context[0].weight.shape[1] + 1


def test_weights_files_from_before_the_flag_load_without_it(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    d = HarmonizerConfig.tiny().to_dict()
    del d["colour_input"]  # what older files' metadata says
    assert HarmonizerConfig.from_dict(d).colour_input is False
    g = UNetGenerator(HarmonizerConfig.from_dict(d))
    save_file(dict(g.state_dict()), str(tmp_path / "old.safetensors"), metadata={CONFIG_METADATA_KEY: json.dumps(d)})
    assert H.load_harmonizer(tmp_path / "old.safetensors").config.colour_input is False


def test_self_composites_carry_whether_they_were_colour_transferred() -> None:
    name = "pyfeat_0-f1-su-ph.jpg"
    p = face_patch(load_rgb(name), faces_of(name, mesh=False, identity=False)[0], name)
    for share, want in ((0.0, False), (1.0, True)):
        comp, truth, t = self_composite_flagged(p, np.random.default_rng(5), colour_transfer=share)
        assert t is want
        c2, _ = self_composite(p, np.random.default_rng(5), colour_transfer=share)  # the same draws
        assert np.array_equal(comp, c2)
    s = 32
    real = RealComposite(x=np.zeros((s, s, 3), np.uint8), m=np.ones((s, s), np.float32),
                         y=np.zeros((s, s, 3), np.uint8), engine="warp", colour_transfer=False)
    ds = HarmonizerDataset([p], [real], size=s, real_fraction=0.3, seed=0)
    items = [ds[i] for i in range(16)]
    flags = {float(it["ct"]) for it in items if float(it["has_gt"]) == 1}
    assert flags == {0.0, 1.0}  # half the self-composites are colour-transferred
    assert all(float(it["ct"]) == 0.0 for it in items if float(it["has_gt"]) == 0)  # the real one's own flag


def test_compose_steps_pass_the_engines_colour_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceweave import api

    seen: list[bool] = []

    def spy(before: np.ndarray, after: np.ndarray, model: object, mask: object = None,
            colour_transferred: bool = True) -> np.ndarray:
        seen.append(colour_transferred)
        return after

    monkeypatch.setattr(H, "harmonize_face", spy)
    src, dst = load_rgb("pyfeat_0-f1-su-ph.jpg"), load_rgb("facerec_biden.jpg")
    for ct in (False, True):
        api.swap_picture(src, dst, engine="warp", colour_transfer=ct, harmonize=True)
    assert seen == [False, True]
    for ct in (False, True):  # the video path: the per-frame finish hook
        sw = SimpleNamespace(finish=None)
        api._video_finish(sw, True, None, colour_transferred=ct)  # type: ignore[arg-type]
        sw.finish(dst, dst)
    assert seen == [False, True, False, True]


def test_trained_weights_apply_the_correction_the_flag_calls_for() -> None:
    """Held-out faces: a multiband-alone composite is corrected best when told "not transferred", a
    colour-transferred one is damaged least when told "transferred". Equal errors (a generator that
    ignored the flag, like the weights before it) fail both comparisons."""
    from faceweave.compose.harmonize import composite_mask, harmonize_face, load_harmonizer

    model = load_harmonizer()
    assert model.config.colour_input
    err = {(ct, told): [] for ct in (False, True) for told in (False, True)}
    for name in HELD_OUT:
        p = face_patch(load_rgb(name), faces_of(name, mesh=False, identity=False)[0], name)
        for seed in (1000, 1001):
            for ct in (False, True):
                comp, truth = self_composite(p, np.random.default_rng(seed), colour_transfer=float(ct), multiband=1.0)
                m = composite_mask(truth, comp)
                for told in (False, True):
                    out = harmonize_face(truth, comp, model, colour_transferred=told)
                    err[ct, told].append(mean_ciede2000(out, truth, m))
    mean = {k: float(np.mean(v)) for k, v in err.items()}
    assert mean[False, False] < 0.9 * mean[False, True], mean
    assert mean[True, True] < 0.9 * mean[True, False], mean
