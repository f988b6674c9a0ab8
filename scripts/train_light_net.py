"""Train the light network Γ of the person engine (seed 003, "Light loss") on re-lit pairs.

Faces with their mediapipe meshes come from the Wolfgang Langer clip's training part (frames before
80 %), the pyfeat single-face clip and the faceapi group photos; held-out faces for the ranking check
come from other people (Obama, Biden, the three pyfeat head shots, the astronaut). Pairs:
:mod:`faceweave.data.relight`. Writes faceweave/weights/person_light.safetensors and prints the
held-out ranking accuracy (same-light distance < different-light distance).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_light_net.py --steps 1500
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from faceweave.data.person_faces import faces_from_photo, faces_from_video
from faceweave.data.relight import make_pair, normal_map
from faceweave.media.atomic import atomic_write
from faceweave.models.person.light import LIGHT_SIZE, LightNet, contrastive_loss

S = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[1]
TRAIN_PHOTOS = [S / f"faceapi_sample{i}.jpg" for i in range(1, 7)]
TEST_PHOTOS = [S / n for n in ("facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg",
                               "pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png")]


def _triples(samples: list) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for s in samples:
        if s.mesh is None:
            continue
        n, m = normal_map(s.mesh * (LIGHT_SIZE / s.crop.shape[0]) * np.array([1, 1, 1], np.float32), LIGHT_SIZE)
        import cv2

        out.append((cv2.resize(s.crop, (LIGHT_SIZE, LIGHT_SIZE), interpolation=cv2.INTER_AREA), n, m))
    return out


def load_faces(cache: Path) -> tuple[list, list]:
    if cache.is_file():
        d = torch.load(cache, weights_only=False)
        return d["train"], d["test"]
    train = faces_from_video(S / "pyfeat_WolfgangLanger_Pexels.mp4", every=12, mesh=True, frames=range(0, 377))
    train += faces_from_video(S / "pyfeat_single_face.mp4", every=6, mesh=True)
    for p in TRAIN_PHOTOS:
        train += faces_from_photo(p, all_faces=True, mesh=True)
    test = [s for p in TEST_PHOTOS for s in faces_from_photo(p, mesh=True)]
    tr, te = _triples(train), _triples(test)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"train": tr, "test": te}, cache)
    return tr, te


def to_tensor(imgs: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0


def batch(faces: list, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    same = np.arange(n) % 2 == 0
    pairs = [make_pair(faces, rng, bool(s)) for s in same]
    return to_tensor([p[0] for p in pairs]), to_tensor([p[1] for p in pairs]), torch.from_numpy(same.astype(np.float32))


def ranking_accuracy(net: LightNet, faces: list, seed: int, n: int = 200) -> float:
    """Share of (anchor, same-light, different-light) triplets where d(same) < d(different)."""
    rng = np.random.default_rng(seed)
    from faceweave.data.relight import angle_deg, random_light, relight

    wins = 0
    with torch.no_grad():
        for _ in range(n):
            i, j = rng.choice(len(faces), 2, replace=False)
            l1, l2 = random_light(rng), random_light(rng)
            while angle_deg(l1, l2) < 35:
                l2 = random_light(rng)
            a, p, q = relight(*faces[i], l1), relight(*faces[j], l1), relight(*faces[i], l2)
            g = net(to_tensor([a, p, q]))
            wins += float((g[0] - g[1]).norm()) < float((g[0] - g[2]).norm())
    return wins / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "light_faces.pt")
    ap.add_argument("--out", type=Path, default=ROOT / "faceweave" / "weights" / "person_light.safetensors")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    train, test = load_faces(a.cache)
    logging.info("faces: %d train, %d test (%.0f s)", len(train), len(test), time.time() - t0)
    net = LightNet()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    t1 = time.time()
    for step in range(1, a.steps + 1):
        x, y, same = batch(train, rng, a.batch)
        loss = contrastive_loss(net(x), net(y), same)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            logging.info("step %d loss %.4f", step, loss.item())
    net.eval()
    acc_train = ranking_accuracy(net, train, 1)
    acc_test = ranking_accuracy(net, test, 2)
    secs = time.time() - t1
    logging.info("ranking accuracy: train faces %.3f, held-out faces %.3f; %.0f s", acc_train, acc_test, secs)
    card = {"steps": a.steps, "batch": a.batch, "seed": a.seed, "train_faces": len(train), "test_faces": len(test),
            "ranking_accuracy_train_faces": acc_train, "ranking_accuracy_heldout_faces": acc_test,
            "train_seconds": round(secs)}
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    atomic_write(a.out, lambda p: save_file(tensors, p, metadata={"faceweave.light.card": json.dumps(card)}))
    logging.info("wrote %s %s", a.out, json.dumps(card))


if __name__ == "__main__":
    main()
