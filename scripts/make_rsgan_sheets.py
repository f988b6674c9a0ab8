"""Contact sheets of RSGAN's applications for docs/rsgan_apps.md (written to docs/images/rsgan_*.jpg).

    .venv/bin/python scripts/make_rsgan_sheets.py [--checkpoint PATH] [--out docs/images]

Uses the shipped demo weights unless ``--checkpoint`` is given, and the sample photos in tests/assets.
Every tile is a result photo (after paste-back) seen through the model's aligned head frame, except
the "raw" columns, which are the generator's own output crops enlarged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "tests" / "assets"
SWAP_PAIRS = [
    ("facerec_obama.jpg", "facerec_biden.jpg"),
    ("facerec_biden.jpg", "facerec_obama.jpg"),
    ("pyfeat_0-f1-su-ph.jpg", "skimage_astronaut.png"),
    ("pyfeat_0-f15-hao-ph.jpg", "pyfeat_15-f13-anc-ph.jpg"),
]
EDIT_PHOTOS = ["facerec_obama.jpg", "pyfeat_0-f15-hao-ph.jpg", "skimage_astronaut.png"]
SAMPLE_PHOTO = "facerec_biden.jpg"
INTERP_PAIR = ("facerec_obama.jpg", "pyfeat_15-f13-anc-ph.jpg")

log = logging.getLogger("make_rsgan_sheets")


def _load(name: str) -> tuple[np.ndarray, object]:
    from faceweave.analysis import analyze
    from faceweave.media import read_image

    rgb = read_image(ASSETS / name).rgb
    faces = analyze(rgb, mesh=False, identity=False)
    if not faces:
        raise SystemExit(f"{name}: no face found")
    return rgb, faces[0]


def swap_sheet(model) -> np.ndarray:  # noqa: ANN001 - RSGAN
    """Rows: A, B, raw G(A face, B hair), RSGAN (multiband paste), RSGAN-GD (Poisson paste)."""
    from faceweave.pipelines import rsgan as ops

    tiles = []
    for a, b in SWAP_PAIRS:
        ra, fa = _load(a)
        rb, fb = _load(b)
        al = ops.prepare(ra, fa, model.config.image_size)
        plain = ops.swap_faces(model, ra, fa, rb, fb)
        gd = ops.swap_faces(model, ra, fa, rb, fb, gd=True)
        bl = plain.aligned
        tiles += [ops.head_view(ra, al), ops.head_view(rb, bl), ops.upscale_crop(plain.crops[0]),
                  plain.tiles()[0], gd.tiles()[0]]
    return ops.make_sheet(tiles, columns=5)


def edit_sheet(model) -> np.ndarray:  # noqa: ANN001
    """Rows: input, then each attribute set to 1 and to 0 (face region, residual paste)."""
    from faceweave.pipelines import rsgan as ops

    names = model.config.attribute_names
    tiles = []
    for name in EDIT_PHOTOS:
        rgb, face = _load(name)
        al = ops.prepare(rgb, face, model.config.image_size)
        tiles.append(ops.head_view(rgb, al))
        for attr in names:
            for v in (1.0, 0.0):
                tiles.append(ops.edit_face(model, rgb, face, {attr: v}, region="face").tiles()[0])
    return ops.make_sheet(tiles, columns=1 + 2 * len(names))


def sample_sheet(model, random: str, seed: int = 1) -> np.ndarray:  # noqa: ANN001
    """Input, then 8 samples pasted back; second row the same samples as raw generator crops."""
    from faceweave.pipelines import rsgan as ops

    rgb, face = _load(SAMPLE_PHOTO)
    res = ops.sample_parts(model, rgb, face, random=random, n=8, seed=seed)
    first = ops.head_view(rgb, res.aligned)
    raw_first = ops.upscale_crop(res.reconstruction)
    return ops.make_sheet([first, *res.tiles(), raw_first, *res.tiles(raw=True)], columns=9)


def interpolate_sheet(model) -> np.ndarray:  # noqa: ANN001
    """One row per part (face, hair, both): A, 6 steps pasted into A, B."""
    from faceweave.pipelines import rsgan as ops

    (ra, fa), (rb, fb) = _load(INTERP_PAIR[0]), _load(INTERP_PAIR[1])
    bl = ops.prepare(rb, fb, model.config.image_size)
    tiles = []
    for part in ("face", "hair", "both"):
        res = ops.interpolate_parts(model, ra, fa, rb, fb, part=part, steps=6)
        tiles += [ops.head_view(ra, res.aligned), *res.tiles(), ops.head_view(rb, bl)]
    return ops.make_sheet(tiles, columns=8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="RSGAN weights (default: the shipped demo weights)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from faceweave.media.image import write_image
    from faceweave.pipelines import rsgan as ops

    model = ops.load_model(a.checkpoint)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sheets = {
        "rsgan_swap.jpg": swap_sheet(model),
        "rsgan_edit.jpg": edit_sheet(model),
        "rsgan_sample_hair.jpg": sample_sheet(model, "hair"),
        "rsgan_sample_face.jpg": sample_sheet(model, "face"),
        "rsgan_interpolate.jpg": interpolate_sheet(model),
    }
    for name, img in sheets.items():
        p = write_image(out / name, img, quality=90)
        log.info("wrote %s (%dx%d)", p, img.shape[1], img.shape[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
