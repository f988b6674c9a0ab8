"""Score AEI-Net checkpoints on the same held-out pairs (e.g. with and without --id-mix).

    .venv/bin/python scripts/aei_ablation.py RUN_OR_WEIGHTS [...] --images DIR --pairs N [--seed 0]

Runs faceweave's evaluation (:func:`faceweave.eval.run.run_evaluation`, engine ``aei``) once per
checkpoint with ``checkpoint=`` set, and prints one line per checkpoint: dlib identity distance to
source / to target, the share of pairs nearer their source than their target (dlib, MobileFaceNet-192),
|Δ expression| and swap-twice abs. error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from faceweave.engines import SwapOptions
from faceweave.eval.run import run_evaluation


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--images", required=True)
    p.add_argument("--pairs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for ck in a.checkpoints:
        report, *_ = run_evaluation(a.images, ["aei"], a.pairs, seed=a.seed, progress=False,
                                    options=SwapOptions(extra={"checkpoint": ck}))
        s = report["engines"]["aei"]["summary"]  # type: ignore[index]

        def m(k: str, s: dict = s) -> str:
            v = s[k]["mean"] if isinstance(s.get(k), dict) else s.get(k)
            return "—" if v is None else f"{v:.3f}"

        sys.stdout.write(f"{ck}: id_source {m('id_source')} id_target {m('id_target')} nearer(dlib) "
                         f"{m('nearer_source')} nearer(MFN192) {m('nearer_source_192')} expr {m('expr_diff')} "
                         f"swap2_abs {m('swap2_abs')} pairs {s['succeeded']}/{s['pairs']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
