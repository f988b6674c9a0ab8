"""Which DenseNet-121 stages work for the person engine's style loss (VGG-19 stand-in, seed 003)?

Forward-only test of Eq. (2): a stage is useful for the style loss when the patch-based style
distance to the person's style images is *lower for the person's own unseen frames than for other
people* (then lowering it moves a face toward the person). For each stage l we compute
L_style(x, Y, l) — N_best = 8 style images chosen by landmarks, as in training — for

- held-out frames of the person's clip (not among the style images), and
- faces of other people (the portraits of the sample set and the faces of the group photos),

and report the AUC of separating the two (1 = every own frame below every other face; 0.5 = chance)
and the mean distances. Writes docs/person_ablation.json.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/person_layer_ablation.py --faces runs/NAME/faces.npz
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from faceweave.data.person_faces import faces_from_photo, faces_from_video
from faceweave.models.person.frame import nearest_style_images, pose_expression_descriptor
from faceweave.models.person.losses import style_loss
from faceweave.nets import load

ROOT = Path(__file__).resolve().parents[1]
S = Path("/work/shared/samples")
LAYERS = ("stem", "block1", "transition1", "block2", "transition2")
OTHERS = ["facerec_obama.jpg", "facerec_obama2.jpg", "facerec_obama3.jpg", "facerec_biden.jpg",
          "pyfeat_0-f1-su-ph.jpg", "pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg", "skimage_astronaut.png"]


def auc(own: np.ndarray, other: np.ndarray) -> float:
    """P(own distance < other distance), ties count half."""
    d = own[:, None] - other[None, :]
    return float((d < 0).mean() + 0.5 * (d == 0).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, required=True, help="faces.npz of a person run (its style images)")
    ap.add_argument("--heldout", default="377:472", help="clip frames of the person not used in training")
    ap.add_argument("--n-best", type=int, default=8)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    z = np.load(a.faces)
    s, e = (int(v) for v in a.heldout.split(":"))
    own = faces_from_video(str(z["photos"]), every=6, frames=range(s, e))
    other = [f for n in OTHERS for f in faces_from_photo(S / n)]
    other += [f for i in range(1, 7) for f in faces_from_photo(S / f"faceapi_sample{i}.jpg", all_faces=True)]
    net = load("expression")

    def feats(crops: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            out = [net.features(x[i : i + 16], LAYERS) for i in range(0, len(x), 16)]
        return {k: torch.cat([o[k] for o in out]) for k in LAYERS}

    fy = feats(z["style_crops"])
    desc = pose_expression_descriptor(z["style_lms"])
    rows = []
    dist: dict[str, dict[str, np.ndarray]] = {}
    for group, faces in (("own", own), ("other", other)):
        fx = feats(np.stack([f.crop for f in faces]))
        fdesc = pose_expression_descriptor(np.stack([f.landmarks for f in faces]))
        nn_idx = torch.from_numpy(nearest_style_images(fdesc, desc, a.n_best))
        dist[group] = {}
        for layer in LAYERS:
            with torch.no_grad():
                dist[group][layer] = np.array([float(style_loss(fx[layer][i : i + 1], fy[layer][nn_idx[i]][None]))
                                               for i in range(len(faces))])
    for layer in LAYERS:
        o, t = dist["own"][layer], dist["other"][layer]
        rows.append({"layer": layer, "auc_own_below_other": auc(o, t), "mean_style_distance_own": float(o.mean()),
                     "mean_style_distance_other": float(t.mean()), "own_faces": len(o), "other_faces": len(t)})
        logging.info("%s", rows[-1])
    (ROOT / "docs" / "person_ablation.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
