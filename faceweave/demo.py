"""``make demo``: face swaps between the bundled sample photos, written under ``out/``.

Run: ``python -m faceweave.demo --photos tests/assets --out out``. Prints each output's path.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

# (source, target, options, output name): portraits both ways, a group photo, the blends.
DEMO_SWAPS: list[tuple[str, str, dict[str, object], str]] = [
    ("facerec_biden.jpg", "facerec_obama.jpg", {}, "biden_onto_obama.png"),
    ("facerec_obama.jpg", "facerec_biden.jpg", {}, "obama_onto_biden.png"),
    ("pyfeat_single_face.jpg", "skimage_astronaut.png", {}, "pyfeat_onto_astronaut.png"),
    ("skimage_astronaut.png", "faceapi_sample3.jpg", {"target_face": "all"}, "astronaut_onto_group.jpg"),
    ("facerec_biden.jpg", "facerec_obama.jpg", {"blend": "poisson"}, "biden_onto_obama_poisson.png"),
    ("facerec_biden.jpg", "facerec_obama.jpg", {"blend": "alpha"}, "biden_onto_obama_alpha.png"),
]


def run(photos: Path, out: Path) -> list[Path]:
    from faceweave import api

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src, dst, opts, name in DEMO_SWAPS:
        res = api.swap_picture(photos / src, photos / dst, **opts)  # type: ignore[arg-type]
        written.append(Path(api.save(res.picture, out / name, (photos / src, photos / dst))))
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="faceweave-demo", description=__doc__)
    p.add_argument("--photos", type=Path, default=Path("tests/assets"))
    p.add_argument("--out", type=Path, default=Path("out"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        for path in run(a.photos, a.out):
            sys.stdout.write(f"{path}\n")
    except FaceweaveError as e:
        sys.stderr.write(f"faceweave demo: error: {e}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
