"""``faceweave eval``: score engines on random pairs of photos with RSGAN's Table 1 metrics.

Mounted by :mod:`faceweave.cli` through :func:`add_eval_args` and :func:`run_eval`; also runs on its
own: ``python -m faceweave.eval.cli --engine warp,delaunay --images DIR --pairs 30 --out REPORT``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)


def add_eval_args(p: argparse.ArgumentParser) -> None:
    """The options of ``faceweave eval``."""
    from faceweave.choices import BLEND_MODES
    from faceweave.eval.run import SAME_IDENTITY_THRESHOLD

    p.add_argument("--engine", required=True, metavar="NAME[,NAME...]",
                   help="engines to score, comma-separated (see `faceweave engines`)")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of photos; pairs are drawn from it")
    p.add_argument("--pairs", type=int, required=True, metavar="N", help="number of ordered (source, target) pairs")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the pair draw (default 0)")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for report.json, report.md, plots")
    p.add_argument("--blend", default="multiband", choices=BLEND_MODES, help="blending for every engine")
    p.add_argument("--identities", metavar="FILE",
                   help="'file identity' per line (CelebA identity_CelebA.txt); default: cluster embeddings")
    p.add_argument("--identity-threshold", type=float, default=SAME_IDENTITY_THRESHOLD, metavar="D",
                   help=f"without --identities: same person below this distance (default {SAME_IDENTITY_THRESHOLD})")
    p.add_argument("--sheet-pairs", type=int, default=4, metavar="K",
                   help="pairs shown on the contact sheet (default 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and write the report; returns the exit status (0 even if some pairs failed)."""
    from pathlib import Path

    from faceweave.engines.base import SwapOptions, engine_names
    from faceweave.eval.report import markdown_table, write_report
    from faceweave.eval.run import read_identities, run_evaluation

    engines = [e.strip() for e in str(args.engine).split(",") if e.strip()]
    known = engine_names()
    unknown = [e for e in engines if e not in known]
    if not engines or unknown:
        raise FaceweaveError(f"unknown engine {', '.join(unknown) or '(none)'} (available: {', '.join(known)})")
    if args.pairs < 1:
        raise FaceweaveError("--pairs must be at least 1")
    images = Path(args.images)
    if not images.is_dir():
        raise FaceweaveError(f"{images}: not a folder")
    identities = None
    if args.identities:
        try:
            identities = read_identities(args.identities)
        except OSError as e:
            raise FaceweaveError(f"{args.identities}: cannot read ({e.strerror or e})") from None
    try:
        report, photos, pairs, results = run_evaluation(
            images, engines, args.pairs, seed=args.seed, options=SwapOptions(blend=args.blend),
            identities=identities, threshold=args.identity_threshold, sheet_pairs=args.sheet_pairs,
            progress=not args.no_progress,
        )
    except ValueError as e:
        raise FaceweaveError(str(e)) from None
    files = write_report(args.out, report, photos, pairs, results)
    sys.stdout.write(markdown_table(report) + "\n")
    sys.stdout.write(f"report: {files['report.md']}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m faceweave.eval.cli``: the same options as ``faceweave eval``."""
    p = argparse.ArgumentParser(prog="python -m faceweave.eval.cli", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_eval_args(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_eval(args)
    except FaceweaveError as e:
        sys.stderr.write(f"faceweave eval: error: {e}\n")
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
