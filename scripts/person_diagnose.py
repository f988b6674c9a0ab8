"""Short diagnostic trainings of a person (issue 16): does the held-out retrieval move, not only the loss?

Trains the transformation network from scratch on a run folder's cached faces (``OUT/faces.npz`` of
``faceweave train person``) with the given weights / layers / learning rate for a few minutes, and every
``--eval-every`` steps swaps the 8 photos of other people of ``scripts/person_figures.py`` (none used in
training) into the person and asks dlib (a network the training never sees) which sample identity each
output is. Writes one JSON line per evaluation to ``--log``.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/person_diagnose.py --faces runs/wolfgang/faces.npz \
        --alpha 100 --lr 1e-2 --minutes 5 --log runs/diag/a100.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

log = logging.getLogger("person_diagnose")


def _gallery(train_frames: list[int]) -> tuple[list[str], np.ndarray]:
    from person_figures import GALLERY, S, clip_frames

    from faceweave.analysis import analyze
    from faceweave.media import read_image

    gal = {who: np.mean([analyze(read_image(S / f).rgb, mesh=False)[0].embedding for f in files], 0)
           for who, files in GALLERY.items()}
    pick = set(train_frames[:: max(1, len(train_frames) // 6)][:6])
    embs = [analyze(rgb, mesh=False)[0].embedding for name, rgb in clip_frames(0, max(pick) + 1, 1)
            if int(name.split("#")[1]) in pick]
    gal["person"] = np.mean(embs, 0)
    return list(gal), np.stack(list(gal.values()))


def _inputs() -> list[tuple[str, np.ndarray, object]]:
    from person_figures import OTHERS, S

    from faceweave.analysis import analyze
    from faceweave.media import read_image

    out = []
    for n in OTHERS:
        rgb = read_image(S / n).rgb
        out.append((n, rgb, analyze(rgb, mesh=False)[0]))
    return out


def evaluate(net: torch.nn.Module, inputs: list, names: list[str], gmat: np.ndarray) -> dict[str, float]:
    """Share of the other people's swapped photos that dlib retrieves as the person; median distance to her."""
    from faceweave.analysis import analyze
    from faceweave.engines.person import face_region, paste_back, transform_crops
    from faceweave.models.person.frame import align_to_frame

    net.eval()
    hits, dists = [], []
    for _n, rgb, f_in in inputs:
        crop, m = align_to_frame(rgb, f_in.landmarks, 128)
        gen = transform_crops(net, crop[None])[0]
        lms = np.asarray(f_in.landmarks, np.float64) @ m[:, :2].T + m[:, 2]
        out = paste_back(rgb, gen, m, face_region(lms, 128), "multiband")
        fo = analyze(out, mesh=False)
        if not fo:
            hits.append(False)
            continue
        f = min(fo, key=lambda g: np.hypot(g.center[0] - f_in.center[0], g.center[1] - f_in.center[1]))
        d = np.linalg.norm(gmat - f.embedding, axis=1)
        hits.append(names[int(np.argmin(d))] == "person")
        dists.append(float(d[names.index("person")]))
    net.train()
    return {"retrieved": float(np.mean(hits)), "median_dist": float(np.median(dists)) if dists else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", required=True)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--gamma", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--style-layers", default="stem,transition1")
    ap.add_argument("--content-layers", default="block1")
    ap.add_argument("--identity-weight", type=float, default=0.0)
    ap.add_argument("--pseudo-pairs", type=float, default=0.0, help="λ_pair (0 = off)")
    ap.add_argument("--pair-batch", type=int, default=8)
    ap.add_argument("--pair-warmup", type=int, default=0)
    ap.add_argument("--pseudo-per-face", type=int, default=3)
    ap.add_argument("--pseudo-onto-others", type=int, default=3)
    ap.add_argument("--pseudo-jitter", type=int, default=0)
    ap.add_argument("--pairs", type=Path, default=None, help="pseudo_pairs.npz (default next to --faces)")
    ap.add_argument("--output", default="direct", choices=("direct", "residual"))
    ap.add_argument("--width", default="16:96,64,32,16")
    ap.add_argument("--canvas", action="store_true")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--log", type=Path, required=True)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    from faceweave.data.person_pseudo import load_or_build_pseudo_pairs
    from faceweave.models.person.light import load_light_net
    from faceweave.models.person.losses import DenseNetFeatures, LossWeights
    from faceweave.models.person.network import TransformationNet
    from faceweave.train.person import PersonTrainOptions, _losses, init_canvas, net_config
    from faceweave.train.person_data import batch_at, pair_batch_at, train_data
    from faceweave.train.person_options import _width

    with np.load(a.faces, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    o = PersonTrainOptions(photos=str(d["photos"]), name="diag", out="-", batch=a.batch, lr=a.lr, alpha=a.alpha,
                           beta=a.beta, gamma=a.gamma, identity_weight=a.identity_weight,
                           pseudo_pairs=a.pseudo_pairs, pair_batch=a.pair_batch, output=a.output, canvas=a.canvas,
                           **_width(a.width),
                           style_layers=tuple(a.style_layers.split(",")),
                           content_layers=tuple(a.content_layers.split(",")))
    feats = DenseNetFeatures(o.content_layers + o.style_layers)
    light = load_light_net()
    data = train_data(d, feats, o.style_layers, identity=a.identity_weight > 0)
    if a.pseudo_pairs > 0:
        pp = load_or_build_pseudo_pairs(d, a.pairs or Path(a.faces).with_name("pseudo_pairs.npz"), a.pseudo_per_face,
                                        a.pseudo_onto_others, a.pseudo_jitter)
        data.pair_x, data.pair_y = pp["x"], pp["y"]
    w = LossWeights(o.alpha, o.beta, o.gamma, o.content_layers, o.style_layers)
    names, gmat = _gallery([int(f) for f in d["style_frames"]])
    inputs = _inputs()
    net = TransformationNet(net_config(o))
    init_canvas(net, d["style_crops"])
    opt = torch.optim.Adam(net.parameters(), a.lr)
    a.log.parent.mkdir(parents=True, exist_ok=True)
    t0, c0, step = time.time(), time.process_time(), 0
    with a.log.open("w") as fh:
        fh.write(json.dumps({"args": vars(a)}, default=str) + "\n")
        while True:
            if step % a.eval_every == 0:
                r = evaluate(net, inputs, names, gmat) | {"step": step, "wall_s": round(time.time() - t0, 1),
                                                          "cpu_s": round(time.process_time() - c0, 1)}
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                log.info("%s", r)
                torch.save(net.state_dict(), a.log.with_suffix(".pt"))  # the latest evaluated network
                if time.time() - t0 > 60 * a.minutes:
                    break
            x, lms = batch_at(data, a.batch, 0, step)
            pair = pair_batch_at(data, a.pair_batch, 0, step) if data.pair_x is not None else None
            terms = _losses(net, feats, light, x, lms, data, o, w, pair, poster=step >= a.pair_warmup)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
            step += 1
            if step % 5 == 0:
                vals = {k: round(float(v.detach()), 4) for k, v in terms.items()}
                log.info("step %d %s %.0f s", step, vals, time.time() - t0)
                fh.write(json.dumps({"step": step, "losses": vals}) + "\n")
    log.info("max RSS %.0f MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
