"""``faceweave edit``, ``faceweave sample`` and ``faceweave interpolate``: RSGAN's applications on the command line.

Mounted lazily by :mod:`faceweave.cli` (they import torch). Each ``add_X_args(parser)`` fills the
subcommand's parser and ``run_X(args)`` runs it, returning the exit status; user errors are raised
as :class:`~faceweave.errors.FaceweaveError` and reported by ``faceweave.cli.main`` in one line.
"""

from __future__ import annotations

import argparse
import logging
import sys

from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)

REGION_CHOICES = ("face", "hair", "both")
BLEND_CHOICES = ("alpha", "multiband", "poisson")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _positive(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {v!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _common(p: argparse.ArgumentParser, face_option: bool = True) -> None:
    p.add_argument("--checkpoint", metavar="PATH",
                   help="RSGAN weights: a .safetensors file, a save_pretrained folder or a training run "
                        "(default: the shipped demo weights faceweave/weights/rsgan_demo.safetensors)")
    if face_option:
        p.add_argument("--face", type=int, default=None, metavar="N", help="face index (default: the largest)")
    p.add_argument("--blend", default="multiband", choices=BLEND_CHOICES,
                   help="how results are blended into the photo (default multiband)")


def _write(path: str, rgb, alpha, inputs: tuple[str, ...]) -> str:  # noqa: ANN001 - arrays
    from faceweave.media.image import write_image

    return str(write_image(path, rgb, alpha, inputs=inputs))


# ---------------------------------------------------------------- edit
def add_edit_args(p: argparse.ArgumentParser) -> None:
    """``faceweave edit PHOTO --set ATTR=VALUE ... --region face|hair|both -o OUT``."""
    p.description = ("Change attributes of a face with RSGAN (paper Fig. 6): the chosen region's attribute "
                     "latent is re-encoded with the new values and the change is pasted back into the photo.")
    p.add_argument("photo", nargs="?", help="photo to edit (optional with --list-attributes)")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="ATTR=VALUE",
                   help="attribute to set, value between 0 and 1 (repeatable), e.g. --set Smiling=1")
    p.add_argument("--region", default="face", choices=REGION_CHOICES,
                   help="which attribute latent takes the new values (default face)")
    p.add_argument("-o", "--output", help="output image")
    p.add_argument("--list-attributes", action="store_true",
                   help="list the checkpoint's attributes (and, with PHOTO, the classifier's values for its face)")
    p.add_argument("--no-residual", action="store_true",
                   help="paste the generator's pixels instead of adding its change to the photo")
    _common(p)


def run_edit(a: argparse.Namespace) -> int:
    from faceweave import apps
    from faceweave.apps import rsgan_ops as ops
    from faceweave.media.image import check_output_path

    if a.list_attributes:
        attrs = apps.attributes(a.checkpoint, a.photo, a.face)
        if not attrs:
            _out("(this checkpoint has no attributes)")
        for name, v in attrs.items():
            _out(name if v is None else f"{name}\t{v:.3f}")
        return 0
    if not a.photo:
        raise FaceweaveError("edit needs a PHOTO (or --list-attributes)")
    if not a.output:
        raise FaceweaveError("edit needs -o/--output")
    if not a.assignments:
        raise FaceweaveError("nothing to edit: give at least one --set ATTR=VALUE (see --list-attributes)")
    values = ops.parse_assignments(a.assignments)
    check_output_path(a.output, (a.photo,))
    pic, res = apps.edit_result(a.photo, values, region=a.region, face=a.face, checkpoint=a.checkpoint,
                                residual=not a.no_residual, blend=a.blend)
    out = apps._as_output(pic, res.photos[0])
    rgb, alpha = (out[..., :3], out[..., 3]) if out.shape[2] == 4 else (out, None)
    _out(_write(a.output, rgb, alpha, (a.photo,)))
    return 0


# ---------------------------------------------------------------- sample
def add_sample_args(p: argparse.ArgumentParser) -> None:
    """``faceweave sample PHOTO --random face|hair -n K -o SHEET.png [--seed S]``."""
    p.description = ("Keep one region of a face and draw the other from N(0, I) with RSGAN (paper Fig. 7). "
                     "Writes a contact sheet: the input first, then the K results pasted back into the photo, "
                     "each shown through the model's aligned head frame.")
    p.add_argument("photo")
    p.add_argument("--random", default="hair", choices=("face", "hair"),
                   help="the region drawn at random (default hair: the face is kept)")
    p.add_argument("-n", type=_positive, default=8, metavar="K", help="number of samples (default 8)")
    p.add_argument("-o", "--output", required=True, help="contact sheet image")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0; the same seed gives the same sheet)")
    p.add_argument("--raw", action="store_true", help="tiles are the generator's crops, not pasted-back photos")
    p.add_argument("--columns", type=_positive, default=9, help="tiles per row (default 9)")
    _common(p)


def run_sample(a: argparse.Namespace) -> int:
    from faceweave import apps
    from faceweave.media.image import check_output_path

    check_output_path(a.output, (a.photo,))
    _, res = apps.sample_result(a.photo, random=a.random, n=a.n, seed=a.seed, face=a.face,
                                checkpoint=a.checkpoint, blend=a.blend)
    sheet = apps.sample_sheet(res, raw=a.raw, columns=a.columns)
    _out(_write(a.output, sheet, None, (a.photo,)))
    return 0


# ---------------------------------------------------------------- interpolate
def add_interpolate_args(p: argparse.ArgumentParser) -> None:
    """``faceweave interpolate A B --part face|hair|both --steps K -o SHEET.png``."""
    p.description = ("Move the face, the hair or both from photo A to photo B in K steps with RSGAN, the rest "
                     "kept from A. Writes one row: A, the K results pasted back into A's photo, B.")
    p.add_argument("a", help="first photo (the results are pasted into it)")
    p.add_argument("b", help="second photo")
    p.add_argument("--part", default="face", choices=REGION_CHOICES, help="what moves from A to B (default face)")
    p.add_argument("--steps", type=_positive, default=5, metavar="K", help="results, both ends included (default 5)")
    p.add_argument("-o", "--output", required=True, help="contact sheet image")
    p.add_argument("--face-a", type=int, default=None, metavar="N", help="face index in A (default the largest)")
    p.add_argument("--face-b", type=int, default=None, metavar="N", help="face index in B (default the largest)")
    p.add_argument("--raw", action="store_true", help="tiles are the generator's crops, not pasted-back photos")
    _common(p, face_option=False)


def run_interpolate(a: argparse.Namespace) -> int:
    from faceweave import apps
    from faceweave.media.image import check_output_path

    if a.steps < 2:
        raise FaceweaveError(f"--steps {a.steps}: need at least 2 (the two ends)")
    check_output_path(a.output, (a.a, a.b))
    _, pb, fb, res = apps.interpolate_result(a.a, a.b, part=a.part, steps=a.steps, face_a=a.face_a,
                                             face_b=a.face_b, checkpoint=a.checkpoint, blend=a.blend)
    sheet = apps.interpolate_sheet(res, pb.rgb, fb, raw=a.raw)
    _out(_write(a.output, sheet, None, (a.a, a.b)))
    return 0
