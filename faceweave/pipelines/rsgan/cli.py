"""``faceweave edit``, ``faceweave sample`` and ``faceweave interpolate``: RSGAN's applications on the command line.

They call the public API (:func:`faceweave.api.edit`, :func:`~faceweave.api.sample`,
:func:`~faceweave.api.interpolate`).

Mounted lazily by :mod:`faceweave.cli` (they import torch). Each ``add_X_args(parser)`` fills the
subcommand's parser and ``run_X(args)`` runs it, returning the exit status; user errors are raised
as :class:`~faceweave.errors.FaceweaveError` and reported by ``faceweave.cli.main`` in one line.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from faceweave.choices import BLEND_MODES, RANDOM_PARTS, REGIONS
from faceweave.errors import FaceweaveError

log = logging.getLogger(__name__)



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
    p.add_argument("--blend", default="multiband", choices=BLEND_MODES,
                   help="how results are blended into the photo (default multiband)")


def _provenance(checkpoint: str | None, *inputs: str) -> tuple[object | None, int | None]:
    """The output's provenance record and the watermark id its pixels must carry (None, None: off)."""
    from faceweave.pipelines.rsgan.photos import provenance

    prov = provenance(checkpoint, *inputs)
    return prov, getattr(prov, "watermark_id", None)


def _write(path: str, image: np.ndarray, inputs: tuple[str, ...], prov: object | None) -> str:
    """Write an H×W×3 or H×W×4 (alpha) result atomically, tagged synthetic (trainedAlgorithmicMedia)."""
    from faceweave.media.image import write_image

    rgb, alpha = (image[..., :3], image[..., 3]) if image.shape[2] == 4 else (image, None)
    return str(write_image(path, rgb, alpha, inputs=inputs, provenance=prov))


# ---------------------------------------------------------------- edit
def add_edit_args(p: argparse.ArgumentParser) -> None:
    """``faceweave edit PHOTO --set ATTR=VALUE ... --region face|hair|both -o OUT``."""
    p.description = ("Change attributes of a face with RSGAN (paper Fig. 6): the chosen region's attribute "
                     "latent is re-encoded with the new values and the change is pasted back into the photo.")
    p.add_argument("photo", nargs="?", help="photo to edit (optional with --list-attributes)")
    p.add_argument("--set", dest="set_attrs", action="append", default=[], metavar="ATTR=VALUE",
                   help="attribute to set, value between 0 and 1 (repeatable), e.g. --set Smiling=1")
    p.add_argument("--region", default="face", choices=REGIONS,
                   help="which attribute latent takes the new values (default face)")
    p.add_argument("-o", "--output", help="output image")
    p.add_argument("--list-attributes", action="store_true",
                   help="list the checkpoint's attributes (and, with PHOTO, the classifier's values for its face)")
    p.add_argument("--no-residual", action="store_true",
                   help="paste the generator's pixels instead of adding its change to the photo")
    _common(p)


def run_edit(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.media.image import check_output_path

    if a.list_attributes:
        attrs = api.attributes(a.checkpoint, a.photo, a.face)
        if not attrs:
            _out("(this checkpoint has no attributes)")
        for name, v in attrs.items():
            _out(name if v is None else f"{name}\t{v:.3f}")
        return 0
    if not a.photo:
        raise FaceweaveError("edit needs a PHOTO (or --list-attributes)")
    if not a.output:
        raise FaceweaveError("edit needs -o/--output")
    if not a.set_attrs:
        raise FaceweaveError("nothing to edit: give at least one --set ATTR=VALUE (see --list-attributes)")
    from faceweave.pipelines.rsgan.attributes import parse_assignments

    values = parse_assignments(a.set_attrs)
    check_output_path(a.output, (a.photo,))
    prov, wid = _provenance(a.checkpoint, a.photo)
    out = api.edit(a.photo, values, region=a.region, face=a.face, checkpoint=a.checkpoint,
                   residual=not a.no_residual, blend=a.blend, watermark_id=wid)
    _out(_write(a.output, out, (a.photo,), prov))
    return 0


# ---------------------------------------------------------------- sample
def add_sample_args(p: argparse.ArgumentParser) -> None:
    """``faceweave sample PHOTO --random face|hair -n K -o SHEET.png [--seed S]``."""
    p.description = ("Keep one region of a face and draw the other from N(0, I) with RSGAN (paper Fig. 7). "
                     "Writes a contact sheet: the input first, then the K results pasted back into the photo, "
                     "each shown through the model's aligned head frame.")
    p.add_argument("photo")
    p.add_argument("--random", default="hair", choices=RANDOM_PARTS,
                   help="the region drawn at random (default hair: the face is kept)")
    p.add_argument("-n", type=_positive, default=8, metavar="K", help="number of samples (default 8)")
    p.add_argument("-o", "--output", required=True, help="contact sheet image")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0; the same seed gives the same sheet)")
    p.add_argument("--raw", action="store_true", help="tiles are the generator's crops, not pasted-back photos")
    p.add_argument("--columns", type=_positive, default=9, help="tiles per row (default 9)")
    _common(p)


def run_sample(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.media.image import check_output_path

    check_output_path(a.output, (a.photo,))
    prov, wid = _provenance(a.checkpoint, a.photo)
    sheet = api.sample(a.photo, random=a.random, n=a.n, seed=a.seed, face=a.face, checkpoint=a.checkpoint,
                       sheet=True, raw=a.raw, columns=a.columns, blend=a.blend, watermark_id=wid)
    _out(_write(a.output, sheet, (a.photo,), prov))
    return 0


# ---------------------------------------------------------------- interpolate
def add_interpolate_args(p: argparse.ArgumentParser) -> None:
    """``faceweave interpolate A B --part face|hair|both --steps K -o SHEET.png``."""
    p.description = ("Move the face, the hair or both from photo A to photo B in K steps with RSGAN, the rest "
                     "kept from A. Writes one row: A, the K results pasted back into A's photo, B.")
    p.add_argument("a", help="first photo (the results are pasted into it)")
    p.add_argument("b", help="second photo")
    p.add_argument("--part", default="face", choices=REGIONS, help="what moves from A to B (default face)")
    p.add_argument("--steps", type=_positive, default=5, metavar="K", help="results, both ends included (default 5)")
    p.add_argument("-o", "--output", required=True, help="contact sheet image")
    p.add_argument("--face-a", type=int, default=None, metavar="N", help="face index in A (default the largest)")
    p.add_argument("--face-b", type=int, default=None, metavar="N", help="face index in B (default the largest)")
    p.add_argument("--raw", action="store_true", help="tiles are the generator's crops, not pasted-back photos")
    _common(p, face_option=False)


def run_interpolate(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.errors import ParameterError
    from faceweave.media.image import check_output_path

    if a.steps < 2:  # before the output path is checked, as a flag error
        raise ParameterError("steps", a.steps, "need at least 2 (the two ends)")
    check_output_path(a.output, (a.a, a.b))
    prov, wid = _provenance(a.checkpoint, a.a, a.b)
    sheet = api.interpolate(a.a, a.b, part=a.part, steps=a.steps, face_a=a.face_a, face_b=a.face_b,
                            checkpoint=a.checkpoint, sheet=True, raw=a.raw, blend=a.blend, watermark_id=wid)
    _out(_write(a.output, sheet, (a.a, a.b), prov))
    return 0
