"""The person engine (seed 003, Korshunova et al.): losses by hand, patch matching, light net, training resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ASSETS, faces_of, load_rgb, run_cli

from faceweave.models.person.losses import (
    content_loss,
    identity_loss,
    light_loss,
    nearest_style,
    neural_patches,
    patch_cosine_distances,
    style_loss,
    tv_loss,
)


def _frame(name: str) -> np.ndarray:
    from faceweave.models.person.frame import align_to_frame

    return align_to_frame(load_rgb(name), faces_of(name)[0].landmarks)[0]


def _t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0


# ------------------------------------------------------------------ losses by hand
def test_content_loss_by_hand() -> None:
    out = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert content_loss(out, torch.zeros_like(out)).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    assert content_loss(out, out).item() == 0.0


def test_tv_loss_by_hand() -> None:
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    # vertical differences 2, 2 → mean square 4; horizontal 1, 1 → 1
    assert tv_loss(x).item() == pytest.approx(5.0)
    assert tv_loss(torch.ones(1, 3, 4, 4)).item() == 0.0


def test_light_loss_by_hand() -> None:
    a, b = torch.tensor([[1.0, 0.0, 2.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    assert light_loss(a, b).item() == pytest.approx(5 / 4)


def test_identity_loss_by_hand() -> None:
    # our departure from the poster: 1 − cos to the person's mean embedding, averaged over the batch
    person = torch.tensor([1.0, 0.0])
    out = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])  # cos 1, 0, 1/√2
    assert identity_loss(out, person).item() == pytest.approx((0 + 1 + (1 - 1 / math.sqrt(2))) / 3)


def test_style_loss_by_hand_takes_the_best_style_image_per_location() -> None:
    # one location, 2 channels; a 3×3 patch of a 1×1 map is its centre plus zero padding
    out = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1)
    styles = torch.tensor([[0.0, 1.0], [1.0, 1.0]]).reshape(1, 2, 2, 1, 1)  # (B, N_best, C, H, W)
    assert style_loss(out, styles).item() == pytest.approx(1 - 1 / math.sqrt(2))  # cos 0 vs cos 45°
    assert style_loss(out, styles[:, :1]).item() == pytest.approx(1.0)


def test_patch_matching_picks_the_nearest_patch_on_real_faces() -> None:
    from faceweave.nets import load

    names = ["facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg"]
    x = torch.cat([_t(_frame(n)) for n in names])
    with torch.no_grad():
        phi = load("expression").features(x, ("stem",))["stem"][:, :8, ::4, ::4]  # 8 channels, 8×8 locations
    out, styles = phi[:1], phi[1:][None]
    d = patch_cosine_distances(neural_patches(out), neural_patches(styles))[0]  # (N, M)
    nn_idx = nearest_style(d[None])[0]
    # brute force: every location, every style image, cosine of flattened 3×3×C neighbourhoods
    pad = torch.nn.functional.pad(phi, (1, 1, 1, 1))
    m = 0
    for i in range(8):
        for j in range(8):
            q = pad[0, :, i : i + 3, j : j + 3].flatten()
            cands = [pad[k, :, i : i + 3, j : j + 3].flatten() for k in (1, 2)]
            dist = [1 - float(torch.dot(q, c) / (q.norm() * c.norm() + 1e-12)) for c in cands]
            assert int(nn_idx[m]) == int(np.argmin(dist))
            assert float(d[nn_idx[m], m]) == pytest.approx(min(dist), abs=1e-5)
            m += 1
    # the face itself among the style images is everyone's nearest patch, at distance 0
    both = torch.stack([phi[1], phi[0]])[None]
    assert (nearest_style(patch_cosine_distances(neural_patches(out), neural_patches(both))) == 1).all()
    assert style_loss(out, both).item() == pytest.approx(0.0, abs=1e-5)


def test_style_images_are_chosen_by_landmarks() -> None:
    from faceweave.data.person_faces import mirror_landmarks
    from faceweave.models.person.frame import (
        align_to_frame,
        frame_landmarks,
        nearest_style_images,
        pose_expression_descriptor,
    )

    lms = []
    for n in ["facerec_obama.jpg", "pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg"]:
        f = faces_of(n)[0]
        lms.append(frame_landmarks(f.landmarks, align_to_frame(load_rgb(n), f.landmarks)[1]))
    style = pose_expression_descriptor(np.stack(lms))
    # a slightly perturbed copy of face 2's landmarks picks face 2 first
    q = pose_expression_descriptor(lms[2][None] + 0.002)
    assert nearest_style_images(q, style, 2)[0, 0] == 2
    # mirrored landmarks (for flip augmentation) match the landmarks found on the mirrored photo
    from faceweave.analysis import analyze

    flipped = np.ascontiguousarray(load_rgb("facerec_obama.jpg")[:, ::-1])
    ff = analyze(flipped, mesh=False, identity=False)[0]
    found = frame_landmarks(ff.landmarks, align_to_frame(flipped, ff.landmarks)[1])
    assert np.abs(mirror_landmarks(lms[0]) - found).mean() < 0.02
    naive = lms[0].copy()
    naive[:, 0] = 1.0 - naive[:, 0]  # mirrored coordinates without swapping left and right indices
    assert np.abs(naive - found).mean() > 0.05


# ------------------------------------------------------------------ light network
def test_light_net_ranks_same_light_above_different_light() -> None:
    from faceweave.data.relight import normal_map, relight
    from faceweave.models.person.frame import align_to_frame
    from faceweave.models.person.light import LIGHT_SIZE, load_light_net

    net = load_light_net()
    triples = []
    for n in ["facerec_biden.jpg", "pyfeat_0-f15-hao-ph.jpg"]:
        f = faces_of(n)[0]
        crop, m = align_to_frame(load_rgb(n), f.landmarks, LIGHT_SIZE)
        s = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        mesh = np.concatenate([f.mesh[:, :2] @ m[:, :2].T + m[:, 2], f.mesh[:, 2:3] * s], 1)
        triples.append((crop, *normal_map(mesh, LIGHT_SIZE)))
    left, right = np.array([-0.7, -0.2, 0.7]), np.array([0.7, -0.2, 0.7])
    a, same = relight(*triples[0], left), relight(*triples[1], left)  # two people, one light
    other = relight(*triples[0], right)  # one person, another light
    assert not np.array_equal(a, other)
    with torch.no_grad():
        g = net(torch.cat([_t(a), _t(same), _t(other)]))
    assert (g[0] - g[1]).norm() < (g[0] - g[2]).norm()


# ------------------------------------------------------------------ training
def _train_cmd(photos: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "faceweave.cli", "-v", "train", "person", "--photos", str(photos), "--name", "tiny",
            "--out", str(out), "--steps", "6", "--batch", "1", "--n-best", "1", "--checkpoint-every", "1",
            "--style-layers", "stem", "--content-layers", "stem"]


def test_training_resumes_after_sigkill(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in ["facerec_obama.jpg", "facerec_obama2.jpg"]:
        (photos / n).write_bytes((ASSETS / n).read_bytes())
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_train_cmd(photos, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            latest = out / "checkpoints" / "latest"
            if latest.is_file() and int(latest.read_text().strip().split("_")[1]) >= 2:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint within 240 s")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = int((out / "checkpoints" / "latest").read_text().strip().split("_")[1])
    assert not (out / "tiny.safetensors").exists()
    r = subprocess.run(_train_cmd(photos, out), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resumed from step {killed_at}" in r.stderr
    from faceweave.models.person.person_file import read_card

    card = read_card(out / "tiny.safetensors")
    assert card["steps"] == 6 and card["style_images"] == 2
    steps = [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # what the killed run logged after its checkpoint was dropped


# ------------------------------------------------------------------ engine and CLI
def test_person_engine_changes_only_the_face(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    r = run_cli("swap", "--engine", "person", ASSETS / "facerec_biden.jpg", "-o", out)
    assert r.returncode == 0, r.stderr
    from faceweave.media import read_image

    a, b = load_rgb("facerec_biden.jpg").astype(int), read_image(out).rgb.astype(int)
    f = faces_of("facerec_biden.jpg")[0]
    x0, y0, x1, y1 = (int(v) for v in f.box)
    inner = np.abs(a[y0:y1, x0:x1] - b[y0:y1, x0:x1]).mean()
    assert inner > 2.0
    assert np.array_equal(a[:, : max(x0 - 60, 1)], b[:, : max(x0 - 60, 1)])  # far left of the face: untouched


def test_person_engine_cli_errors(tmp_path: Path) -> None:
    photo = ASSETS / "facerec_biden.jpg"
    r = run_cli("swap", "--engine", "person", photo, photo, "-o", tmp_path / "o.png")
    assert r.returncode != 0 and "takes only TARGET" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("swap", photo, "-o", tmp_path / "o.png")
    assert r.returncode != 0 and "missing SOURCE" in r.stderr
    missing = tmp_path / "nope.safetensors"
    r = run_cli("swap", "--engine", "person", "--person", missing, photo, "-o", tmp_path / "o.png")
    assert r.returncode != 0 and "nope.safetensors" in r.stderr and "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())
