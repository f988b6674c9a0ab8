"""Cut every face of the held-out photos into its own image, for ``faceweave eval --engine aei,...``.

    .venv/bin/python scripts/aei_heldout_faces.py PHOTOS_DIR OUT_DIR [--margin 1.0] [--min-face 40]

``faceweave eval`` scores the largest face of each photo; the AEI demo's held-out group photos hold
several people each, so each face (its detector box grown by ``margin`` box sizes on every side,
clipped to the photo) becomes one image ``<photo>_f<k>.png``. None of these photos is in the AEI
demo training set (docs/aei.md lists both sets).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from faceweave.analysis import analyze
from faceweave.media import read_image
from faceweave.media.image import write_image

log = logging.getLogger("aei_heldout_faces")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos")
    p.add_argument("out")
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--min-face", type=int, default=40)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for f in sorted(Path(a.photos).iterdir()):
        if f.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        rgb = read_image(f).rgb
        h, w = rgb.shape[:2]
        for face in analyze(rgb, mesh=False, identity=False):
            if min(face.width, face.height) < a.min_face:
                continue
            x0, y0, x1, y1 = face.box
            mx, my = a.margin * face.width, a.margin * face.height
            box = [max(int(x0 - mx), 0), max(int(y0 - my), 0), min(int(x1 + mx), w), min(int(y1 + my), h)]
            write_image(out / f"{f.stem}_f{face.index}.png", rgb[box[1] : box[3], box[0] : box[2]], synthetic=False)
            n += 1
    log.info("%d faces written to %s", n, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
