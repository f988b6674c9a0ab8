"""The bad-input corpus (tests/bad_inputs.py) through every command that takes photos.

Each command runs the whole corpus in one interpreter (tests/cli_harness.py calls ``faceweave.cli.main``
once per file, as the console script does). For every file: a VALID photo (RGBA, gray, CMYK, palette,
16-bit, WebP, BMP, TIFF, EXIF-rotated, 6000 px, animated GIF, odd names) gives a valid output; a BAD
one (empty, truncated, text or HTML renamed, random bytes, a folder, a missing file, a bomb, 4×4 px)
exits non-zero with exactly one line on stderr naming the file. Never a traceback, never a file left
beside the output, never a change to the input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs import Entry, make_corpus
from conftest import ASSETS

HARNESS = Path(__file__).parent / "cli_harness.py"
OTHER = ASSETS / "pyfeat_single_face.jpg"  # a second real face for two-photo commands


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def run_harness(cases: list[dict], tmp: Path, timeout: float = 900) -> list[dict]:
    (tmp / "cases.json").write_text(json.dumps(cases))
    r = subprocess.run([sys.executable, str(HARNESS), str(tmp / "cases.json"), str(tmp / "results.json")],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((tmp / "results.json").read_text())


def _path_args(e: Entry) -> tuple[str, str | None]:
    """The file as typed: a leading dash is passed after ``--`` from the file's folder, as a user must."""
    if e.name.startswith("-"):
        return e.name, str(e.path.parent)
    return str(e.path), None


def _cases(corpus: list[Entry], out: Path, argv_of) -> list[dict]:
    cases = []
    for e in corpus:
        p, cwd = _path_args(e)
        o = out / (e.name.replace(" ", "_").lstrip("-") + ".png")
        cases.append({"argv": argv_of(p, str(o), cwd is not None), "cwd": cwd, "inputs": [str(e.path)],
                      "outdir": str(out), "output": str(o)})
    return cases


def _dash(flag: bool) -> list[str]:
    return ["--"] if flag else []


COMMANDS = {
    "detect": lambda p, o, d: ["detect", "--json", "--draw", o, *_dash(d), p],
    "swap-target": lambda p, o, d: ["swap", "-o", o, *_dash(d), str(ASSETS / "facerec_biden.jpg"), p],
    "swap-source": lambda p, o, d: ["swap", "-o", o, *_dash(d), p, str(OTHER)],
    "swap-reference": lambda p, o, d: ["swap", str(ASSETS / "facerec_biden.jpg"), str(OTHER), "-o", o,
                                       "--reference", p, "--reference-threshold", "4"],
    "edit": lambda p, o, d: ["edit", "--set", "Smiling=1", "-o", o, *_dash(d), p],
    "sample": lambda p, o, d: ["sample", "-n", "1", "-o", o, *_dash(d), p],
    "interpolate": lambda p, o, d: ["interpolate", "--steps", "2", "-o", o, *_dash(d), p, str(OTHER)],
    "verify": lambda p, o, d: ["verify", *_dash(d), p],
}
# verify: an unmarked photo is a valid answer ("no mark", exit 1); the others write an image
OK_STATUS = {"verify": (1,)}


def _check(cmd: str, e: Entry, r: dict) -> list[str]:
    """What is wrong with one result (empty when all is well)."""
    from faceweave.media.image import read_image

    bad: list[str] = []
    err = r["stderr"].strip().splitlines()
    if r["traceback"]:
        bad.append(f"traceback: {r['traceback'][-400:]}")
    if r["hidden"]:
        bad.append(f"left temporary files {r['hidden']}")
    if r["hashes_before"] != r["hashes_after"]:
        bad.append("the input changed")
    out = Path(r["output"])
    if e.valid:
        if r["rc"] not in OK_STATUS.get(cmd, (0,)):
            bad.append(f"a valid photo failed (exit {r['rc']}): {r['stderr'].strip()[:300]}")
        elif cmd != "verify":
            pic = read_image(out)  # the output is a readable image
            if cmd == "detect":
                doc = json.loads(r["stdout"])
                if len(doc["faces"]) != 1:
                    bad.append(f"{len(doc['faces'])} faces found, expected 1")
                if e.name == "exif-rotated.jpg" and not doc["height"] > doc["width"]:
                    bad.append("EXIF orientation not applied")
            if cmd == "swap-target" and e.name == "exif-rotated.jpg" and not pic.shape[0] > pic.shape[1]:
                bad.append("EXIF orientation not applied to the output")
    else:
        if r["rc"] in (0, None):
            bad.append(f"a bad file was accepted (exit {r['rc']})")
        if len(err) != 1 or not err[0].startswith("faceweave: error: "):
            bad.append(f"stderr is not one error line: {err!r}")
        elif e.path.name not in err[0]:
            bad.append(f"the error does not name the file: {err[0]}")
        if out.exists():
            bad.append("an output was written")
    return bad


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_every_command_takes_the_corpus(corpus: list[Entry], tmp_path: Path, cmd: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    entries = corpus
    if cmd in ("swap-source", "swap-reference"):  # the same reader as the target: every bad file, three good
        entries = [e for e in corpus if not e.valid or e.name in ("cmyk.jpg", "gray16.png", "exif-rotated.jpg")]
    cases = _cases(entries, out, COMMANDS[cmd])
    results = run_harness(cases, tmp_path)
    problems = {e.name: p for e, c, r in zip(entries, cases, results, strict=True)
                if (p := _check(cmd, e, {**r, "output": c["output"]}))}
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
    assert max(r["maxrss_mb"] for r in results) < 3000  # the 6000 px photo and the bomb stay bounded
