"""The ``faceweave`` command line. It parses, calls :mod:`faceweave.api`, and reports.

Every failure a user can cause (bad file, no face, bad option) ends in one line on stderr and a
non-zero exit status; ``--debug`` shows the traceback of unexpected errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable

from faceweave import __version__
from faceweave.errors import FaceweaveError, ParameterError
from faceweave.media.provenance.cli import _add_verify, _configure_provenance, add_provenance_options
from faceweave.web.cli import _add_web

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
def _add_swap(sub: argparse._SubParsersAction, wanted: str | None = None) -> None:
    from faceweave.choices import BLEND_MODES, DEFAULT_BLEND

    p = sub.add_parser("swap", help="put the face of SOURCE onto the face(s) in TARGET")
    p.add_argument("source", nargs="?", default=None,
                   help="photo giving the face (identity); omitted with --engine person (the person is the source)")
    p.add_argument("target", help="photo or video (.mp4, .mov, .mkv, .webm) whose face(s) are replaced; or a "
                   "folder of them, or a .txt list (one per line): a batch, finished outputs are skipped")
    p.add_argument("-o", "--output", required=True, help="output image (.png keeps alpha; .jpg, .webp, ...) or "
                   "video (same kinds; audio kept); a folder for a batch")
    p.add_argument("--engine", default="warp", help="swap engine (see `faceweave engines`; default warp)")
    p.add_argument("--blend", default=DEFAULT_BLEND, choices=BLEND_MODES, help="blending (default multiband)")
    p.add_argument("--source-face", type=int, default=None, metavar="N", help="source face index (default largest)")
    p.add_argument("--target-face", type=_target_face, default=None, metavar="N|all",
                   help="target face index or 'all' (default largest)")
    p.add_argument("--reference", metavar="PHOTO", help="replace only the target faces of this person")
    p.add_argument("--reference-threshold", type=float, default=None, metavar="D",
                   help="identity distance (2 − 2·cosine of the 512-D embeddings) for --reference (default 1.2)")
    p.add_argument("--no-colour", action="store_true", help="skip colour transfer")
    p.add_argument("--no-keep-mouth", action="store_true", help="do not keep the target's open-mouth interior")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="learned engines: weights file or run folder (default: the shipped demo weights)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar for videos (for scripts)")
    if wanted == "swap":  # each engine adds its own flags (importing the engine modules only for `swap`)
        from faceweave.engines.base import engine_classes

        for name, cls in engine_classes().items():
            add = getattr(cls, "add_cli_arguments", None)
            if add is not None:
                add(p.add_argument_group(f"{name} engine"))
    p.add_argument("--harmonize", action="store_true",
                   help="learned harmonizer (seed 004) after the blend: evens out skin tone and seams")
    p.add_argument("--harmonizer", metavar="WEIGHTS", help="harmonizer weights (default the shipped demo weights)")
    p.set_defaults(func=_cmd_swap)


def _engine_options(a: argparse.Namespace) -> dict[str, object]:
    """The chosen engine's options from its own flags; another engine's flags are refused."""
    from faceweave.engines.base import engine_classes

    kw: dict[str, object] = {}
    for name, cls in engine_classes().items():
        if name == a.engine:
            kw.update(getattr(cls, "options_from_cli", lambda _a: {})(a))
            continue
        given = getattr(cls, "cli_flags_given", lambda _a: [])(a)
        if given:
            raise FaceweaveError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} --engine {name}")
    return kw


def _cmd_swap(a: argparse.Namespace) -> int:
    from faceweave import api
    from faceweave.media.image import check_output_path
    from faceweave.media.video import is_video

    inputs = tuple(x for x in (a.source, a.target, a.reference) if x)
    kw: dict[str, object] = {}
    if a.reference_threshold is not None:
        kw["reference_threshold"] = a.reference_threshold
    kw.update(_engine_options(a))
    from faceweave.engines.base import engine_classes
    if a.harmonize or a.harmonizer:
        kw["harmonize"] = a.harmonizer or True

    if a.checkpoint:
        learned = sorted(n for n, c in engine_classes().items() if getattr(c, "learned", False))
        if a.engine not in learned:
            raise FaceweaveError(f"--checkpoint needs a learned engine ({', '.join(learned)})")
        kw["checkpoint"] = a.checkpoint
    if not getattr(engine_classes().get(a.engine), "needs_source", True):
        if a.source is not None:
            raise FaceweaveError(f"--engine {a.engine} takes only TARGET (its trained person is the source)")
    elif a.source is None:
        raise FaceweaveError("missing SOURCE photo (only an engine with a trained person, e.g. --engine person, "
                             "works without one)")
    if a.source is not None and is_video(a.source):
        raise FaceweaveError(f"{a.source}: the source must be a photo (the face to put in); the target may be a video")
    kw.update(engine=a.engine, source_face=a.source_face, target_face=a.target_face, reference=a.reference,
              blend=a.blend, colour_transfer=not a.no_colour, keep_mouth=not a.no_keep_mouth)
    from faceweave import batch

    if batch.is_batch_target(a.target):  # a folder or a list file: each file reported, a summary at the end
        s = batch.swap_batch(a.source, a.target, a.output, on_item=lambda it: sys.stderr.write(
            f"faceweave: error: {it.reason}\n") if it.status == "failed" else _out(str(it.output)), **kw)
        sys.stderr.write(f"faceweave: swap {a.target}: {s.line()}\n")
        return 1 if s.failed else 0
    if is_video(a.target):
        counts = api.swap_video(a.source, a.target, a.output, progress=sys.stderr.isatty() and not a.quiet, **kw)
        log.info("%d of %d frames swapped", counts["swapped"], counts["frames"])
        _out(str(a.output))
        return 0
    check_output_path(a.output, inputs)
    res = api.swap_picture(a.source, a.target, **kw)
    path = api.save(res.picture, a.output, inputs)
    log.info("swapped target face(s) %s", res.swapped)
    _out(path)
    return 0


# ---------------------------------------------------------------- live
def _add_live(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="swap a face into a camera's picture in real time (window, file, virtual camera)")
    p.add_argument("--source", required=True, metavar="PHOTO", help="photo giving the face (identity)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--camera", type=int, default=None, metavar="N", help="camera index (default 0)")
    g.add_argument("--input", metavar="CLIP", help="a video file instead of a camera, played at its frame rate")
    p.add_argument("--engine", default="warp", help="swap engine (default warp)")
    p.add_argument("--target-face", type=_target_face, default=None, metavar="N|all",
                   help="which face(s) to replace, followed across frames (default the largest)")
    p.add_argument("--reference", metavar="PHOTO", help="replace only the faces of this person")
    p.add_argument("-o", "--output", metavar="FILE.mp4", help="also record what is shown")
    p.add_argument("--virtual-camera", action="store_true",
                   help="also send frames to a virtual camera (pyvirtualcam + v4l2loopback on Linux)")
    p.add_argument("--no-window", action="store_true", help="do not open a window (record or stream only)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--workers", type=int, default=2, help="frames swapped at once (default 2)")
    p.add_argument("--no-fps", action="store_true", help="do not draw the frame rate")
    p.set_defaults(func=_cmd_live)


def _cmd_live(a: argparse.Namespace) -> int:
    from faceweave import live
    from faceweave.media.image import read_image

    read_image(a.source)  # a bad source photo fails before the camera opens
    capture = live.FileCapture(a.input) if a.input else live.CameraCapture(a.camera or 0)
    displays: list[live.Display] = []
    try:
        if not a.no_window:
            if live.window_available() or not (a.output or a.virtual_camera):
                displays.append(live.WindowDisplay())
            else:
                log.warning("no desktop display: not opening a window")
        if a.virtual_camera:
            w, h = capture.size
            displays.append(live.VirtualCameraDisplay(w, h, capture.fps))
        if a.output:
            inputs = tuple(x for x in (a.source, a.input, a.reference) if x)
            displays.append(live.RecordingDisplay(a.output, capture.fps, inputs))
        if not displays:
            raise FaceweaveError("nothing to show to: drop --no-window, or add --output FILE.mp4 or --virtual-camera")
    except BaseException:
        for d in displays:
            d.close(keep=False)
        capture.close()
        raise
    stats = live.run_live(a.source, capture, displays, engine=a.engine, target_face=a.target_face,
                          reference=a.reference, workers=a.workers, show_fps=not a.no_fps, max_seconds=a.seconds)
    log.warning("live: %d frames shown in %.1f s (%.1f fps), %d dropped, median latency %.0f ms",
                stats.shown, stats.seconds, stats.fps, stats.dropped, stats.latency_median_ms)
    if a.output and stats.shown:
        _out(str(a.output))
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
        if r.get("notes"):
            _out(f"    note: {r['notes']}")
    if a.verify and any(r["status"] != "ok" for r in rows):
        return 1
    return 0


def _verify(path: str) -> object:
    from faceweave import api

    return api.verify(path)


# ---------------------------------------------------------------- main
_MOUNTS: list[Callable[[argparse._SubParsersAction], None]] = [_add_live, _add_detect, _add_models, _add_web,
                                                                 lambda sub: _add_verify(sub, _verify)]

# Subcommands that live with their feature; their modules import torch, so each is imported only
# when its command is the one being run (`faceweave swap` stays fast to start).
_LAZY: dict[str, tuple[str, str, str, str]] = {
    "build-dataset": ("faceweave.data.cli", "add_build_dataset_args", "run_build_dataset",
                      "build RSGAN training samples (paper Fig. 3) from photos or CelebA"),
    "eval": ("faceweave.eval.cli", "add_eval_args", "run_eval", "score engines with RSGAN's Table 1 metrics"),
    "train": ("faceweave.train.cli", "add_train_args", "run_train", "train a model (rsgan, aei, person, harmonizer)"),
    "edit": ("faceweave.pipelines.rsgan.cli", "add_edit_args", "run_edit", "edit attributes of a face with RSGAN"),
    "sample": ("faceweave.pipelines.rsgan.cli", "add_sample_args", "run_sample",
               "random face or hair parts with RSGAN"),
    "interpolate": ("faceweave.pipelines.rsgan.cli", "add_interpolate_args", "run_interpolate",
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
    wanted = _requested_command(sys.argv[1:] if argv is None else argv)
    _add_swap(sub, wanted)
    for mount in _MOUNTS:
        mount(sub)
    _mount_lazy(sub, wanted)
    add_provenance_options(sub)
    return parser


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every ``finally`` and atomic write cleans up before exiting."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _flag_of(parser: argparse.ArgumentParser, command: str | None, dest: str) -> str | None:
    """The longest option string that stores into ``dest`` (``--steps`` for ``steps``) in ``command``'s parser
    or a subcommand of it (``train rsgan``); ``None`` if no flag feeds that parameter."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            if command is not None and name != command:
                continue
            for a in sub._actions:
                if a.dest == dest and a.option_strings:
                    return max(a.option_strings, key=len)
            found = _flag_of(sub, None, dest)
            if found:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        _configure_provenance(args)
        return int(args.func(args) or 0)
    except ParameterError as e:  # a library function names its parameter; the user typed a flag
        flag = _flag_of(parser, args.command, e.param)
        sys.stderr.write(f"faceweave: error: {e.with_flag(flag) if flag else e}\n")
        return e.exit_code
    except FaceweaveError as e:
        sys.stderr.write(f"faceweave: error: {e}\n")
        return e.exit_code
    except Terminated:
        sys.stderr.write("faceweave: terminated (the unfinished output was discarded)\n")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        sys.stderr.write("faceweave: interrupted (the unfinished output was discarded)\n")
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
