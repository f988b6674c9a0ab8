"""Does an RSGAN checkpoint separate face from hair? Counts over every ordered pair of portraits.

    .venv/bin/python scripts/rsgan_region_check.py [--checkpoint PATH] [PHOTO ...]

For each ordered pair (A, B) of different photos, the two latent swaps of
:func:`faceweave.pipelines.rsgan.region_swap_distances` are drawn and four questions are counted:
after a hair-only swap, is the rest nearer B and the face nearer A; after a face-only swap, is the
rest nearer A and the face nearer B. Default photos: the seven single-person portraits of different
people in tests/assets (the largest face of each).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = [
    "facerec_obama.jpg",
    "facerec_biden.jpg",
    "pyfeat_0-f1-su-ph.jpg",
    "pyfeat_0-f15-hao-ph.jpg",
    "pyfeat_15-f13-anc-ph.jpg",
    "skimage_astronaut.png",
    "pyfeat_single_face.jpg",
]
LABELS = {  # keys of faceweave.pipelines.rsgan.SEPARATION_QUESTIONS → how the counts are printed
    "hair_rest": "hair swap: rest from B",
    "hair_face": "hair swap: face from A",
    "face_rest": "face swap: rest from A",
    "face_face": "face swap: face from B",
}


def region_counts(model, photos: list[Path]) -> dict[str, int]:
    """``{"pairs": n, question: count, ...}`` over every ordered pair of ``photos`` (largest face each)."""
    from faceweave.analysis import analyze
    from faceweave.media import read_image
    from faceweave.pipelines import rsgan as ops

    aligned = {}  # file name → AlignedFace (largest face)
    for p in photos:
        rgb = read_image(p).rgb
        faces = analyze(rgb, mesh=False, identity=False)
        if not faces:
            logging.warning("%s: no face, skipped", p)
            continue
        face = max(faces, key=lambda f: f.area)
        aligned[p.name] = ops.prepare(rgb, face, model.config.image_size)
    votes = ops.region_separation_votes(model, list(aligned.values()))
    n = len(aligned) * (len(aligned) - 1)
    return {"pairs": n, **{LABELS[q]: sum(v) for q, v in votes.items()}}


def default_photos() -> list[Path]:
    return [ROOT / "tests" / "assets" / n for n in PORTRAITS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="*", help="portraits (default: seven from tests/assets)")
    parser.add_argument("--checkpoint", help="RSGAN weights (default: the shipped demo weights)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from faceweave.errors import FaceweaveError
    from faceweave.pipelines import rsgan as ops

    try:
        model = ops.load_model(args.checkpoint)
        counts = region_counts(model, [Path(p) for p in args.photos] or default_photos())
    except FaceweaveError as e:
        logging.error("%s", e)
        return 2
    json.dump(counts, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
