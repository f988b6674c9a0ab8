"""The ``faceweave`` command line. It parses, calls :mod:`faceweave.api`, and reports.

Every failure a user can cause (bad file, no face, bad option) ends in one line on stderr and a
non-zero exit status; ``--debug`` shows the traceback of unexpected errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

from faceweave import __version__
from faceweave.errors import FaceweaveError

log = logging.getLogger("faceweave")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _target_face(v: str) -> int | str:
    if v == "all":
        return "all"
    try:
        return int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a face number or 'all', got {v!r}") from None


# ---------------------------------------------------------------- swap
def _add_swap(sub: argparse._SubParsersAction) -> None:
    from faceweave.engines.base import BLEND_MODES

    p = sub.add_parser("swap", help="put the face of SOURCE onto the face(s) in TARGET")
    p.add_argument("source", help="photo giving the face (identity)")
    p.add_argument("target", help="photo or video (.mp4, .mov, .mkv, .webm) whose face(s) are replaced")
    p.add_argument("-o", "--output", required=True,
                   help="output image (.png keeps alpha; .jpg, .webp, ...) or video (same kinds; audio kept)")
    p.add_argument("--engine", default="warp", help="swap engine (see `faceweave engines`; default warp)")
    p.add_argument("--blend", default="multiband", choices=BLEND_MODES, help="blending (default multiband)")
    p.add_argument("--source-face", type=int, default=None, metavar="N", help="source face index (default largest)")
    p.add_argument("--target-face", type=_target_face, default=None, metavar="N|all",
                   help="target face index or 'all' (default largest)")
    p.add_argument("--reference", metavar="PHOTO", help="replace only the target faces of this person")
    p.add_argument("--reference-threshold", type=float, default=None, metavar="D",
                   help="identity distance for --reference (default 0.12)")
    p.add_argument("--no-colour", action="store_true", help="skip colour transfer")
    p.add_argument("--no-keep-mouth", action="store_true", help="do not keep the target's open-mouth interior")
    p.add_argument("--gd", action="store_true", help="rsgan engine: RSGAN-GD (face composed in the gradient domain)")
    p.add_argument("--set", dest="set_attrs", action="append", default=[], metavar="ATTR=VALUE",
                   help="rsgan engine: also set a face attribute, 0..1 (repeatable)")
    p.add_argument("--checkpoint", metavar="PATH", help="rsgan engine: weights (default the shipped demo weights)")
    p.set_defaults(func=_cmd_swap)


def _cmd_swap(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.media.image import check_output_path
    from faceweave.media.video import is_video

    inputs = tuple(x for x in (a.source, a.target, a.reference) if x)
    kw: dict[str, object] = {}
    if a.reference_threshold is not None:
        kw["reference_threshold"] = a.reference_threshold
    if (a.gd or a.set_attrs or a.checkpoint) and a.engine != "rsgan":
        raise FaceweaveError("--gd, --set and --checkpoint need --engine rsgan")
    if a.engine == "rsgan":
        from faceweave.apps.rsgan_ops import parse_assignments

        kw.update(gd=a.gd, set=parse_assignments(a.set_attrs), checkpoint=a.checkpoint)
    if is_video(a.source):
        raise FaceweaveError(f"{a.source}: the source must be a photo (the face to put in); the target may be a video")
    if is_video(a.target):
        counts = api.swap_video(
            a.source, a.target, a.output, engine=a.engine, source_face=a.source_face, target_face=a.target_face,
            reference=a.reference, blend=a.blend, colour_transfer=not a.no_colour,
            keep_mouth=not a.no_keep_mouth, progress=sys.stderr.isatty(), **kw,
        )
        log.info("%d of %d frames swapped", counts["swapped"], counts["frames"])
        _out(str(a.output))
        return 0
    check_output_path(a.output, inputs)
    res = api.swap_picture(
        a.source, a.target, engine=a.engine, source_face=a.source_face, target_face=a.target_face,
        reference=a.reference, blend=a.blend, colour_transfer=not a.no_colour,
        keep_mouth=not a.no_keep_mouth, **kw,
    )
    path = api.save(res.picture, a.output, inputs)
    log.info("swapped target face(s) %s", res.swapped)
    _out(path)
    return 0


# ---------------------------------------------------------------- detect
def _add_detect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="find the faces in a photo")
    p.add_argument("photo")
    p.add_argument("--json", action="store_true", help="print JSON (boxes, landmarks, embeddings)")
    p.add_argument("--draw", metavar="OUT.png", help="write the photo with boxes, indices and landmarks")
    p.set_defaults(func=_cmd_detect)


def _cmd_detect(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.media.image import check_output_path, read_image

    if a.draw:
        check_output_path(a.draw, (a.photo,))
    pic = read_image(a.photo)
    faces = api.analyze(pic)
    if a.json:
        _out(json.dumps({"file": a.photo, "width": pic.shape[1], "height": pic.shape[0],
                         "faces": [f.to_dict() for f in faces]}))
    else:
        _out(f"{a.photo}: {len(faces)} face(s)")
        for f in faces:
            x0, y0, x1, y1 = (int(round(float(v))) for v in f.box)
            _out(f"  [{f.index}] box=({x0},{y0},{x1},{y1}) size={x1 - x0}x{y1 - y0} score={f.score:.2f} "
                 f"mesh={'yes' if f.mesh is not None else 'no'}")
    if a.draw:
        from faceweave.media.image import write_image
        from faceweave.media.overlay import draw_faces

        write_image(a.draw, draw_faces(pic.rgb, faces), inputs=(a.photo,), synthetic=False)
    return 0


# ---------------------------------------------------------------- models / engines
def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the pretrained models faceweave uses (source, licence, sha256)")
    p.add_argument("--verify", action="store_true", help="check each installed file's sha256")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_models)
    e = sub.add_parser("engines", help="list the swap engines")
    e.set_defaults(func=lambda a: (_out("\n".join(__import__("faceweave.engines").engines.engine_names())), 0)[1])


def _cmd_models(a: argparse.Namespace) -> int:
    from faceweave import registry

    rows = registry.table(verify=a.verify)
    if a.json:
        _out(json.dumps(rows, indent=2))
        return 0
    cols = ["name", "package", "file", "licence", "sha256"] + (["status"] if a.verify else [])
    _out(" | ".join(cols))
    for r in rows:
        _out(" | ".join(str(r[c]) for c in cols))
    if a.verify and any(r["status"] != "ok" for r in rows):
        return 1
    return 0


# ---------------------------------------------------------------- web
def _add_web(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="start the local web UI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=_cmd_web)


def _cmd_web(a: argparse.Namespace) -> int:
    from faceweave.web.server import serve

    try:
        serve(a.host, a.port)
    except OSError as e:
        raise FaceweaveError(f"cannot listen on {a.host}:{a.port} ({e.strerror or e})") from None
    return 0


# ---------------------------------------------------------------- verify / provenance
def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check photos/videos for faceweave's marks (C2PA manifest, XMP, watermark)",
                       description="Exit status: 0 when a synthetic mark was found in any FILE, 1 when none "
                                   "was, 2 on an unreadable file.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (a list)")
    p.set_defaults(func=_cmd_verify)


def _cmd_verify(a: argparse.Namespace) -> int:
    from faceweave import api

    reports = []
    failed = False
    for f in a.files:
        try:
            reports.append(api.verify(f))
        except FaceweaveError as e:
            sys.stderr.write(f"faceweave: error: {e}\n")
            failed = True
    if a.json:
        _out(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            for line in r.lines():
                _out(line)
    if any(r.synthetic for r in reports):
        return 0
    return 2 if failed else 1


# Commands that write synthetic outputs get the provenance options.
_NO_PROVENANCE_OPTIONS = {"verify", "detect", "models", "engines", "build-dataset"}


def _add_provenance_options(sub: argparse._SubParsersAction) -> None:
    for name, p in sub.choices.items():
        if name in _NO_PROVENANCE_OPTIONS:
            continue
        g = p.add_argument_group("provenance")
        g.add_argument("--no-provenance", action="store_true",
                       help="research use: write outputs WITHOUT C2PA manifest, XMP tag or watermark (logged)")
        g.add_argument("--sign-key", metavar="KEY.pem", help="sign C2PA manifests with this PEM private key "
                       "(default: a per-user key made in ~/.config/faceweave)")
        g.add_argument("--sign-cert", metavar="CERT.pem", help="the certificate chain (PEM) of --sign-key")


def _configure_provenance(a: argparse.Namespace) -> None:
    if not hasattr(a, "no_provenance"):
        return
    from faceweave.media import provenance

    if a.no_provenance:
        log.warning("--no-provenance: outputs carry no C2PA manifest, XMP tag or watermark (research use only)")
    provenance.configure(enabled=not a.no_provenance, sign_key=a.sign_key, sign_cert=a.sign_cert)


# ---------------------------------------------------------------- main
_MOUNTS: list[Callable[[argparse._SubParsersAction], None]] = [_add_swap, _add_detect, _add_models, _add_web,
                                                                 _add_verify]


# Subcommands that live with their feature; their modules import torch, so each is imported only
# when its command is the one being run (`faceweave swap` stays fast to start).
_LAZY: dict[str, tuple[str, str, str, str]] = {
    "build-dataset": ("faceweave.data.cli", "add_build_dataset_args", "run_build_dataset",
                      "build RSGAN training samples (paper Fig. 3) from photos or CelebA"),
    "eval": ("faceweave.eval.cli", "add_eval_args", "run_eval", "score engines with RSGAN's Table 1 metrics"),
    "train": ("faceweave.train.cli", "add_train_args", "run_train", "train a model (rsgan)"),
    "edit": ("faceweave.apps.cli", "add_edit_args", "run_edit", "edit attributes of a face with RSGAN"),
    "sample": ("faceweave.apps.cli", "add_sample_args", "run_sample", "random face or hair parts with RSGAN"),
    "interpolate": ("faceweave.apps.cli", "add_interpolate_args", "run_interpolate",
                    "interpolate faces or hair between two photos with RSGAN"),
}


def _mount_lazy(sub: argparse._SubParsersAction, wanted: str | None) -> None:
    import importlib

    for name, (module, add, run, help_) in _LAZY.items():
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:
            continue
        p = sub.add_parser(name, help=help_, add_help=name == wanted)
        if name == wanted:
            mod = importlib.import_module(module)
            getattr(mod, add)(p)
            p.set_defaults(func=getattr(mod, run))


def _requested_command(argv: list[str]) -> str | None:
    for tok in argv:
        if not tok.startswith("-"):
            return tok
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="faceweave", description="Face swapping and face editing.")
    parser.add_argument("--version", action="version", version=f"faceweave {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for mount in _MOUNTS:
        mount(sub)
    _mount_lazy(sub, _requested_command(sys.argv[1:] if argv is None else argv))
    _add_provenance_options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        _configure_provenance(args)
        return int(args.func(args) or 0)
    except FaceweaveError as e:
        sys.stderr.write(f"faceweave: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("faceweave: interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("faceweave: error: out of memory (try a smaller image)\n")
        return 1
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if args.debug:
            raise
        sys.stderr.write(f"faceweave: internal error: {type(e).__name__}: {e} (rerun with --debug for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
