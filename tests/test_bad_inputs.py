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
from bad_inputs import Entry, digest, make_corpus
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


def _cases(corpus: list[Entry], out: Path, argv_of, suffix: str = ".png") -> list[dict]:
    cases = []
    for e in corpus:
        p, cwd = _path_args(e)
        o = out / (e.name.replace(" ", "_").lstrip("-") + suffix)
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
    # the source photo of the live mode, on a 4-frame clip (CLIP4, written by the matrix fixture), recorded
    "live": lambda p, o, d: ["live", "--input", str(CLIP4[0]), "--no-window", "-o", o, "--source", p],
}
CLIP4: list[Path] = []
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
        elif out.suffix == ".mp4":
            from faceweave.media.video import probe

            if probe(out).frames < 1:
                bad.append("the recording has no frames")
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


def _entries(cmd: str, corpus: list[Entry]) -> list[Entry]:
    if cmd in ("swap-source", "swap-reference", "live"):  # the same reader as the target: every bad file, three good
        return [e for e in corpus if not e.valid or e.name in ("cmyk.jpg", "gray16.png", "exif-rotated.jpg")]
    return corpus


@pytest.fixture(scope="module")
def matrix(corpus: list[Entry], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """Every command over the corpus, all in one interpreter: cmd → [(entry, case, result)]."""
    from test_video_stream import cut

    tmp = tmp_path_factory.mktemp("matrix")
    CLIP4[:] = [cut(tmp / "clip4.mp4", 4, audio=False)]
    plan: list[tuple[str, Entry, dict]] = []
    for cmd, argv_of in COMMANDS.items():
        out = tmp / cmd
        out.mkdir()
        entries = _entries(cmd, corpus)
        cases = _cases(entries, out, argv_of, ".mp4" if cmd == "live" else ".png")
        plan += [(cmd, e, c) for e, c in zip(entries, cases, strict=True)]
    results = run_harness([c for _, _, c in plan], tmp)
    table: dict[str, list[tuple]] = {}
    for (cmd, e, c), r in zip(plan, results, strict=True):
        table.setdefault(cmd, []).append((e, c, r))
    return table


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_every_command_takes_the_corpus(matrix: dict[str, list[tuple]], cmd: str) -> None:
    rows = matrix[cmd]
    problems = {e.name: p for e, c, r in rows if (p := _check(cmd, e, {**r, "output": c["output"]}))}
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
    assert {e.valid for e, _, _ in rows} == {True, False}  # both kinds went through
    assert max(r["maxrss_mb"] for _, _, r in rows) < 3000  # the 6000 px photo and the bomb stay bounded


def test_build_dataset_lists_bad_files_and_keeps_the_good(corpus: list[Entry], tmp_path: Path) -> None:
    """A folder command: every bad photo is a row of failures.jsonl, every valid one a sample; exit 0."""
    from conftest import run_cli

    from faceweave.choices import DATASET_PHOTO_SUFFIXES

    src = corpus[0].path.parent.parent
    before = digest([e.path for e in corpus])
    out = tmp_path / "ds"
    r = run_cli("build-dataset", src, out, "--size", "32")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    taken = [e for e in corpus if e.path.suffix.lower() in DATASET_PHOTO_SUFFIXES and e.path.is_file()]
    failed = {json.loads(line)["source"].split("/")[-1] for line in (out / "failures.jsonl").read_text().splitlines()}
    sampled = {json.loads(line)["source"].split("/")[-1] for line in (out / "manifest.jsonl").read_text().splitlines()}
    assert failed == {e.name for e in taken if not e.valid}
    assert sampled == {e.name for e in taken if e.valid}
    assert digest([e.path for e in corpus]) == before
    assert not [p for p in out.rglob(".*")]


def test_eval_skips_bad_photos_in_its_folder(corpus: list[Entry], tmp_path: Path) -> None:
    import shutil

    from conftest import run_cli

    flat = tmp_path / "photos"
    flat.mkdir()
    for e in corpus:
        if e.path.is_file() and (not e.valid or e.name in ("cmyk.jpg", "gray16.png", "photo.webp")):
            shutil.copy(e.path, flat / e.name)
    r = run_cli("eval", "--engine", "warp", "--images", flat, "--pairs", "2", "--out", tmp_path / "rep",
                "--no-progress", "--no-provenance")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report
    for e in corpus:
        if (flat / e.name).exists() and not e.valid and e.path.suffix in (".jpg", ".png"):
            assert e.name in r.stderr, f"{e.name} is not reported"


TRAINERS = {
    "person": lambda d, o: ["train", "person", "--photos", d, "--name", "corpus", "--out", o, "--steps", "1",
                            "--batch", "2", "--checkpoint-every", "1"],
    "harmonizer": lambda d, o: ["train", "harmonizer", "--photos", d, "--out", o, "--preset", "tiny",
                                "--max-steps", "1", "--real-pairs", "0", "--batch-size", "2", "--no-progress"],
}


def test_trainers_take_the_corpus(corpus: list[Entry], tmp_path: Path) -> None:
    """``faceweave train person|harmonizer --photos DIR``: a folder holding one bad file stops the run in one
    line before any training; a folder of odd but valid photos trains."""
    import shutil

    folders: list[tuple[Path, bool]] = []
    good = tmp_path / "good"
    good.mkdir()
    for e in corpus:
        if e.valid and e.name in ("cmyk.jpg", "gray16.png", "exif-rotated.jpg"):
            shutil.copy(e.path, good / e.name)
        elif not e.valid and e.name != "missing.jpg":
            d = tmp_path / f"bad-{e.name}"
            d.mkdir()
            (shutil.copytree if e.path.is_dir() else shutil.copy)(e.path, d / e.name)
            folders.append((d, False))
    folders.append((good, True))
    cases = []
    for name, argv_of in TRAINERS.items():
        for d, ok in folders:
            run = tmp_path / "runs" / f"{name}-{d.name}"
            cases.append({"argv": argv_of(str(d), str(run)), "inputs": [str(p) for p in d.iterdir()],
                          "outdir": str(run), "ok": ok})
    results = run_harness(cases, tmp_path)
    problems = []
    for c, r in zip(cases, results, strict=True):
        err = r["stderr"].strip().splitlines()
        what = f"{c['argv'][1]} {Path(c['argv'][3]).name}"
        if r["traceback"] or r["hidden"] or r["hashes_before"] != r["hashes_after"]:
            problems.append(f"{what}: {r['traceback'] or r['hidden'] or 'input changed'}")
        elif c["ok"] and r["rc"] != 0:
            problems.append(f"{what}: valid photos failed: {err[-1:]}")
        elif not c["ok"] and (r["rc"] in (0, None) or len([x for x in err if "error" in x]) != 1
                              or not err[-1].startswith("faceweave: error: ")):
            problems.append(f"{what}: exit {r['rc']}, stderr {err}")
    assert not problems, "\n".join(problems)
