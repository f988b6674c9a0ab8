"""``faceweave build-dataset SRC OUT``: the RSGAN dataset builder's command line.

``faceweave/cli.py`` mounts it with :func:`add_build_dataset_args` and :func:`run_build_dataset`;
``python -m faceweave.data.cli SRC OUT ...`` (or ``python -m faceweave.data.cli``) runs it alone.
"""

from __future__ import annotations

import argparse
import logging
import sys

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)


def add_build_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Add the ``build-dataset`` arguments to ``parser``."""
    parser.add_argument("src", metavar="SRC", help="folder of photos (recursive), or a CelebA folder with --celeba")
    parser.add_argument("out", metavar="OUT", help="output folder (shards, manifest, failure report); resumable")
    parser.add_argument(
        "--celeba",
        action="store_true",
        help="SRC holds img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt: "
        "use the 40 labels as c and the official split",
    )
    parser.add_argument("--size", type=int, default=128, help="side of x, x_f, x_h and M_BG (default 128)")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--preview", type=int, default=0, metavar="K", help="write OUT/preview.png for K samples")
    parser.add_argument("--flip", action="store_true", help="also store a mirrored copy of every sample")
    parser.add_argument(
        "--min-face",
        type=int,
        default=40,
        metavar="PX",
        help="skip faces whose detected box is smaller than PX pixels (default 40; listed as failures)",
    )
    parser.add_argument(
        "--video-every",
        type=float,
        default=0.0,
        metavar="SEC",
        help="also read video clips in SRC, one frame every SEC seconds (default 0: videos are ignored)",
    )
    parser.add_argument(
        "--video-min-diff",
        type=float,
        default=0.02,
        metavar="D",
        help="keep a video face only if its aligned crop differs from the last kept one by a mean "
        "absolute difference >= D in [0, 1] (default 0.02)",
    )
    parser.add_argument(
        "--shard-inputs", type=int, default=500, metavar="N", help="input photos per shard (default 500)"
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="use only the first N inputs")
    parser.add_argument(
        "--landmark-attributes",
        action="store_true",
        help="plain folders: label c with Mouth_Slightly_Open and Smiling measured from the landmarks",
    )
    parser.add_argument(
        "--aei",
        action="store_true",
        help="write AEI-Net training crops instead (OUT/<identity>/*.png + faces.json, ArcFace-centred frame; "
        "sub-folders of SRC are identities, see docs/aei.md)",
    )
    parser.add_argument(
        "--identities", metavar="FILE", help="with --aei: 'file identity' lines (CelebA identity_CelebA.txt format)"
    )


def run_build_dataset(args: argparse.Namespace) -> int:
    """Run a build from parsed arguments; returns the exit code. Bad input raises :class:`FaceweaveError`."""
    from faceweave.data.builder import build_dataset

    if args.workers < 1:
        raise FaceweaveError("--workers must be at least 1")
    if args.preview < 0:
        raise FaceweaveError("--preview must be 0 or more")
    if getattr(args, "aei", False):
        from faceweave.data.aei_faces import build_aei_faces

        res = build_aei_faces(
            args.src, args.out, size=args.size, min_face=args.min_face, video_every=args.video_every,
            video_min_diff=args.video_min_diff, identities=args.identities, limit=args.limit,
        )
        sys.stdout.write(f"{res['out']}: {res['faces']} faces of {res['identities']} identities; "
                         f"{res['failures']} failure(s) in faces.json\n")
        return 0
    summary = build_dataset(
        args.src,
        args.out,
        celeba=args.celeba,
        size=args.size,
        workers=args.workers,
        preview=args.preview,
        flip=args.flip,
        min_face=args.min_face,
        video_every=args.video_every,
        video_min_diff=args.video_min_diff,
        shard_inputs=args.shard_inputs,
        limit=args.limit,
        landmark_attributes=args.landmark_attributes,
    )
    # the result is the command's output (stdout), whatever the log level
    sys.stdout.write(
        f"{summary.out}: {summary.samples} samples (train {summary.counts['train']}, val {summary.counts['val']}, "
        f"test {summary.counts['test']}) in {summary.shards} shard(s) ({summary.shards_built} built, "
        f"{summary.shards_skipped} reused); {summary.failures} failure(s) in failures.jsonl\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m faceweave.data.cli``)."""
    parser = argparse.ArgumentParser(prog="faceweave build-dataset", description=__doc__.splitlines()[0])
    add_build_dataset_args(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return run_build_dataset(args)
    except FaceweaveError as e:
        logging.getLogger("faceweave").error("error: %s", e)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
