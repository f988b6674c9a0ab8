"""Which identity embedding separates people best on the shared sample photos?

For every net (dlib 128-D, faceweave.nets identity512, mobilefacenet192) prints the lowest
same-person cosine, the highest different-person cosine and how many pairs overlap (a different-person
pair at or above the lowest same-person pair). Identities: the four Obama photos are one person,
pyfeat_single_face.jpg and frames of pyfeat_single_face.mp4 are one person, the Wolfgang Langer
clip is one person; every other portrait is its own person. Group photos are left out (no labels).

    .venv/bin/python scripts/identity_separation.py [--samples /work/shared/samples] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("identity_separation")

IDENTITIES = {
    "facerec_obama.jpg": "obama", "facerec_obama2.jpg": "obama", "facerec_obama3.jpg": "obama",
    "facerec_obama_partial_face.jpg": "obama", "facerec_biden.jpg": "biden",
    "pyfeat_0-f1-su-ph.jpg": "pyfeat_f1", "pyfeat_0-f15-hao-ph.jpg": "pyfeat_f15",
    "pyfeat_15-f13-anc-ph.jpg": "pyfeat_f13", "skimage_astronaut.png": "astronaut",
    "skimage_camera.png": "cameraman", "pyfeat_single_face.jpg": "pyfeat_single",
}
CLIPS = {"pyfeat_single_face.mp4": ("pyfeat_single", (10, 50)),
         "pyfeat_WolfgangLanger_Pexels.mp4": ("langer", (30, 150, 240, 330, 450))}
NETS = ("dlib128", "identity512", "mobilefacenet192")


def collect(samples: Path) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """(label, identity, rgb, landmarks, dlib embedding) of the largest face of each image."""
    from faceweave.analysis import analyze
    from faceweave.media import read_image
    from faceweave.media.video import read_frames

    items = [(name, ident, read_image(samples / name).rgb) for name, ident in IDENTITIES.items()]
    for clip, (ident, frames) in CLIPS.items():
        for i, frame in enumerate(read_frames(samples / clip)):
            if i in frames:
                items.append((f"{clip}#{i}", ident, frame))
            if i > max(frames):
                break
    out = []
    for label, ident, rgb in items:
        faces = analyze(rgb, mesh=False, identity=True, max_faces=1)
        if not faces:
            log.info("%s: no face found, skipped", label)
            continue
        out.append((label, ident, rgb, faces[0].landmarks, faces[0].embedding))
    return out


def separation(labels: list[str], idents: list[str], emb: np.ndarray) -> dict[str, object]:
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    same, diff = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        (same if idents[i] == idents[j] else diff).append((float(e[i] @ e[j]), labels[i], labels[j]))
    lo, hi = min(same), max(diff)
    overlap = sum(1 for d in diff if d[0] >= lo[0]) + sum(1 for s in same if s[0] <= hi[0])
    sd = float(np.std([d[0] for d in diff]))
    return {"pairs_same": len(same), "pairs_diff": len(diff), "min_same": lo, "max_diff": hi,
            "margin": lo[0] - hi[0], "overlapping_pairs": overlap,
            "mean_same": float(np.mean([x[0] for x in same])), "mean_diff": float(np.mean([d[0] for d in diff])),
            # the gap in units of the different-person spread: comparable across nets whose cosines
            # live on different scales (dlib's rarely fall below 0.8)
            "margin_in_diff_std": (lo[0] - hi[0]) / sd if sd > 0 else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=Path, default=Path("/work/shared/samples"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from faceweave.nets.infer import identity_embeddings

    faces = collect(args.samples)
    labels = [f[0] for f in faces]
    idents = [f[1] for f in faces]
    embs = {"dlib128": np.stack([f[4] for f in faces])}
    for net in NETS[1:]:
        embs[net] = np.concatenate([identity_embeddings(f[2], f[3], net) for f in faces])
    result = {net: separation(labels, idents, embs[net]) for net in NETS}
    log.info("%d faces, %d identities", len(labels), len(set(idents)))
    for net, r in result.items():
        log.info("%-17s min same %.3f (%s ~ %s)  max diff %.3f (%s ~ %s)  margin %+.3f (%.2f σ_diff)  "
                 "means same %.3f diff %.3f  overlapping pairs %d", net, *r["min_same"], *r["max_diff"], r["margin"],
                 r["margin_in_diff_std"], r["mean_same"], r["mean_diff"], r["overlapping_pairs"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
