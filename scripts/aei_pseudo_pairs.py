"""Build faceweave's AEI pseudo pairs (warp-engine swaps between training crops; docs/aei.md).

    .venv/bin/python scripts/aei_pseudo_pairs.py FACES OUT [--per-identity 4] [--engine warp] [--seed 0]

FACES is a folder written by ``faceweave build-dataset SRC FACES --aei``; OUT gets ``pairs.json`` and
one PNG per ordered pair of picked crops of different identities. Train with
``faceweave train aei --pseudo-pairs OUT --pseudo-ratio P``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from faceweave.data.aei_pseudo import build_pseudo_pairs
from faceweave.errors import FaceweaveError

log = logging.getLogger("aei_pseudo_pairs")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("faces")
    p.add_argument("out")
    p.add_argument("--per-identity", type=int, default=4)
    p.add_argument("--engine", default="warp")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        n = build_pseudo_pairs(a.faces, a.out, a.per_identity, a.engine, a.seed)
    except (FaceweaveError, OSError, ValueError) as e:
        log.error("error: %s", e)
        return 1
    log.info("%d pseudo pairs in %s", n, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
