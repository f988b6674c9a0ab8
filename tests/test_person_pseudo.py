"""The person trainer's departures (issue 16): direct network output, pseudo pairs made with the warp engine."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ASSETS, faces_of, load_rgb, run_cli

from faceweave.models.person.losses import pair_loss
from faceweave.models.person.network import TransformationConfig, TransformationNet

WOMAN = "pyfeat_wolfganglanger_frame150.jpg"  # the demo person's clip, one frame
OTHERS = ["facerec_obama.jpg", "facerec_biden.jpg"]


def _aligned(name: str) -> tuple[np.ndarray, np.ndarray]:
    from faceweave.models.person.frame import align_to_frame, frame_landmarks

    lm = faces_of(name)[0].landmarks
    crop, m = align_to_frame(load_rgb(name), lm)
    return crop, frame_landmarks(lm, m)


@cache
def _pairs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from faceweave.data.person_pseudo import build_person_pseudo_pairs

    woman, others = _aligned(WOMAN), [_aligned(n) for n in OTHERS]
    d = {"style_crops": woman[0][None], "style_lms": woman[1][None],
         "content_crops": np.stack([c for c, _ in others]), "content_lms": np.stack([lm for _, lm in others])}
    return d, build_person_pseudo_pairs(d, per_face=1)


def test_pair_loss_by_hand() -> None:
    out = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    y = torch.tensor([[[[0.5, 0.5], [0.0, 0.75]]]])
    assert float(pair_loss(out, y)) == pytest.approx((0.5 + 0.0 + 1.0 + 0.5) / 4)


def test_direct_output_does_not_start_at_identity_and_old_files_stay_residual() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 128, 128)
    residual = TransformationNet(TransformationConfig(output="residual"))
    direct = TransformationNet(TransformationConfig())
    assert torch.equal(residual(x), x)  # the trap of the first demo person: x̂ = x at step 0
    assert (direct(x) - x).abs().mean() > 0.1
    assert TransformationConfig.from_dict({"size": 128}).output == "residual"  # files written before the field
    with pytest.raises(ValueError, match="output"):
        TransformationNet(TransformationConfig(output="gated"))


def test_canvas_starts_at_the_persons_mean_face() -> None:
    from faceweave.train.person import init_canvas

    crops = np.stack([_aligned(WOMAN)[0], _aligned(WOMAN)[0][:, ::-1]])
    net = TransformationNet(TransformationConfig(branch_channels=4, join_channels=(4, 4, 4, 4), canvas=True))
    init_canvas(net, crops)
    torch.nn.init.zeros_(net.to_rgb.weight)
    torch.nn.init.zeros_(net.to_rgb.bias)
    x = torch.rand(1, 3, 128, 128)
    mean = crops.astype(np.float32).mean(0) / 255
    out = net(x)[0].permute(1, 2, 0).detach().numpy()
    assert np.abs(out - np.clip(mean, 0.02, 0.98)).max() < 1e-4  # her mean face whatever the input
    plain = TransformationNet(TransformationConfig(branch_channels=4, join_channels=(4, 4, 4, 4)))
    assert plain.canvas is None and "canvas" not in plain.state_dict()


def test_pseudo_pairs_on_real_faces_change_the_face_and_keep_the_frame() -> None:
    d, p = _pairs()
    assert p["x"].shape == p["y"].shape == (3, 128, 128, 3)
    assert list(p["kind"]) == [0, 1, 1]  # one into the woman's frame, the woman onto each other face
    inner = (slice(50, 90), slice(44, 84))  # eyes to mouth in the reference frame
    corner = (slice(0, 12), slice(0, 12))
    # into_person: x = another face in her frame, y = her frame itself
    assert np.array_equal(p["y"][0], d["style_crops"][0])
    # person_into_other: x = the other person's real crop, y = her face warped onto it
    assert np.array_equal(p["x"][1], d["content_crops"][0]) and np.array_equal(p["x"][2], d["content_crops"][1])
    for i in range(3):
        x, y = p["x"][i].astype(float), p["y"][i].astype(float)
        assert np.abs(x[inner] - y[inner]).mean() > 6, i  # the face differs ...
        assert np.abs(x[corner] - y[corner]).mean() < 2, i  # ... the background does not


def test_pair_batch_mirrors_x_and_y_together_and_is_a_function_of_the_step() -> None:
    from faceweave.train.person_data import TrainData, pair_batch_at

    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    data = TrainData(xs, np.zeros((5, 68, 2)), 0, {}, np.zeros((5, 136)), pair_x=xs, pair_y=255 - xs)
    x, y = pair_batch_at(data, 8, 0, 3)
    assert torch.allclose(y, 1 - x, atol=1e-6)  # y belongs to x, mirrored or not
    flipped = [any(torch.equal(x[k], torch.from_numpy(c[:, ::-1].copy()).permute(2, 0, 1).float() / 255)
                   for c in xs) for k in range(8)]
    assert any(flipped) and not all(flipped)
    x2, _ = pair_batch_at(data, 8, 0, 3)
    assert torch.equal(x, x2)
    halves = [pair_batch_at(data, 8, 0, 3, rank, 2)[0] for rank in (0, 1)]
    assert torch.equal(halves[0], x[0::2]) and torch.equal(halves[1], x[1::2])


def test_the_pair_term_teaches_the_network_its_pairs() -> None:
    from faceweave.train.person_data import to_tensor

    _, p = _pairs()
    torch.manual_seed(0)
    net = TransformationNet(TransformationConfig(branch_channels=8, join_channels=(16, 16, 16, 8)))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    x, y = to_tensor(p["x"]), to_tensor(p["y"])
    first = float(pair_loss(net(x), y).detach())
    for _ in range(40):
        opt.zero_grad()
        pair_loss(net(x), y).backward()
        opt.step()
    assert float(pair_loss(net(x), y).detach()) < 0.5 * first


def test_train_person_with_pseudo_pairs_builds_caches_and_labels_them(tmp_path: Path) -> None:
    content = tmp_path / "others"
    content.mkdir()
    (content / OTHERS[0]).write_bytes((ASSETS / OTHERS[0]).read_bytes())
    photos = tmp_path / "woman"
    photos.mkdir()
    (photos / WOMAN).write_bytes((ASSETS / WOMAN).read_bytes())
    out = tmp_path / "run"
    args = ["train", "person", "--photos", str(photos), "--content", str(content), "--name", "tiny", "--out", str(out),
            "--steps", "2", "--batch", "1", "--n-best", "1", "--style-layers", "stem", "--content-layers", "stem",
            "--pseudo-pairs", "10", "--pair-batch", "2", "--pseudo-per-face", "1", "--pseudo-onto-others", "1",
            "--pair-warmup", "1", "--canvas", "--width", "8:16,16,8,8"]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    with np.load(out / "pseudo_pairs.npz") as z:
        assert len(z["x"]) == 2  # Obama into her frame, her onto Obama
    from faceweave.models.person.person_file import read_card

    card = read_card(out / "tiny.safetensors")
    assert card["network"]["canvas"] and card["pair_warmup"] == 1
    assert card["pseudo_pairs"]["pairs"] == 2 and card["loss_weights"]["pseudo_pairs (ours, not in the poster)"] == 10
    logged = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [("pair" in r, "style" in r) for r in logged] == [(True, False), (True, True)]  # warm-up: pairs alone
    bad = run_cli(*args[:-2], "--width", "8:16")
    assert bad.returncode != 0 and "--width" in bad.stderr and "Traceback" not in bad.stderr
