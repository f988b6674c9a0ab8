"""Which DenseNet-121 stages work for the person engine's style loss (VGG-19 stand-in, seed 003)?

Short runs of ``faceweave train person`` that differ only in ``--style-layers`` (same faces, seed,
steps), scored on held-out inputs (other people's photos, aligned) by two judges the training never
sees: the 192-D MobileFaceNet (cosine of the raw output to the person's mean embedding, minus the
input's: "identity gain") and Hopenet (|Δ yaw/pitch/roll|, input vs output). Writes
docs/person_ablation.json.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/person_layer_ablation.py --faces runs/wolfgang/faces.npz --steps 60
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from faceweave.analysis.align import ARCFACE_5PT, similarity_transform
from faceweave.models.person.frame import FRAME_SIZE, TEMPLATE
from faceweave.nets import load
from faceweave.nets.align import warp_affine
from faceweave.nets.infer import head_pose
from faceweave.train.person import PersonTrainOptions, train

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [("stem",), ("block1",), ("transition1",), ("stem", "transition1"), ("block2",)]
EVAL = ["facerec_obama.jpg", "facerec_biden.jpg", "pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg",
        "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png"]


def embed(crops: np.ndarray) -> np.ndarray:
    m = similarity_transform(TEMPLATE * FRAME_SIZE / 178.0, ARCFACE_5PT)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        a = warp_affine(x, torch.tensor(m, dtype=torch.float32)[None].expand(len(x), 2, 3), 112)
        e = load("mobilefacenet192")(a).numpy()
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, required=True, help="faces.npz of a person run")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from faceweave.analysis import analyze
    from faceweave.engines.person import transform_crops
    from faceweave.media import read_image
    from faceweave.models.person.frame import align_to_frame
    from faceweave.models.person.person_file import load_person

    photos = str(np.load(a.faces)["photos"])
    style = np.load(a.faces)["style_crops"]
    person = embed(style).mean(0)
    person /= np.linalg.norm(person)
    crops, lms = [], []
    for n in EVAL:
        rgb = read_image(Path("/work/shared/samples") / n).rgb
        f = analyze(rgb, mesh=False, identity=False)[0]
        c, m = align_to_frame(rgb, f.landmarks)
        crops.append(c)
        lms.append(f.landmarks @ m[:, :2].T + m[:, 2])
    crops_a = np.stack(crops)
    before = embed(crops_a) @ person
    pose_in = np.stack([head_pose(c, lm)[0] for c, lm in zip(crops, lms, strict=True)])
    results = []
    for layers in CONFIGS:
        out = ROOT / "runs" / "ablation" / "_".join(layers)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(a.faces, out / "faces.npz")
        t0 = time.time()
        path = train(PersonTrainOptions(photos=photos, name="ablation", out=str(out), steps=a.steps, batch=a.batch,
                                        style_layers=layers, checkpoint_every=a.steps))
        net, card = load_person(path)
        raw = transform_crops(net, crops_a)
        gain = embed(raw) @ person - before
        pose_out = np.stack([head_pose(c, lm)[0] for c, lm in zip(raw, lms, strict=True)])
        r = {"style_layers": list(layers), "steps": a.steps, "seconds": round(time.time() - t0),
             "identity_gain_mean": float(gain.mean()), "identity_gain_min": float(gain.min()),
             "pose_abs_delta_median": float(np.median(np.abs(pose_out - pose_in))),
             "final_losses": card["losses_final_ema"]}
        logging.info("%s", r)
        results.append(r)
    (ROOT / "docs" / "person_ablation.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
