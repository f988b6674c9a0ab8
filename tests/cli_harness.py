"""Run many ``faceweave`` command lines in ONE interpreter, each through ``faceweave.cli.main`` (the
entry point of the console script), and report what each did as JSON.

    python tests/cli_harness.py CASES.json RESULTS.json

CASES.json is a list of ``{"argv": [...], "cwd": DIR or null, "inputs": [FILE...], "outdir": DIR}``.
For each case the result holds the exit status, stdout, stderr, whether an exception escaped
``main`` (a traceback), the seconds taken, the peak RSS so far, the input files' sha256 before and
after, and any file left in ``outdir`` whose name starts with a dot (a temporary file). A case that
runs longer than ``FACEWEAVE_CASE_TIMEOUT`` seconds (default 120) is stopped and reported as a hang.
Loading torch and the networks once for the whole corpus keeps the suite fast; the code path is the
same as the console script's (``main(argv)``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path


class Hang(BaseException):
    """Raised by SIGALRM when a case runs too long (a BaseException: ``main`` must not swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def _sha(paths: list[str]) -> dict[str, str]:
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if Path(p).is_file()}


def _hidden(outdir: str | None) -> list[str]:
    if not outdir or not Path(outdir).is_dir():
        return []
    return sorted(str(p) for p in Path(outdir).rglob(".*"))


def run_case(case: dict, timeout: int) -> dict:
    """Run one case; the caller's logging handlers and SIGTERM handler are put back afterwards."""
    from faceweave.cli import main

    signal.signal(signal.SIGALRM, _alarm)

    here = os.getcwd()
    before = _sha(case.get("inputs", []))
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, signal.getsignal(signal.SIGTERM))
    for h in saved[0]:  # main() sets up logging on each call, onto this case's stderr
        root.removeHandler(h)
    rc: int | None = None
    tb = None
    t0 = time.monotonic()
    signal.alarm(timeout)
    try:
        if case.get("cwd"):
            os.chdir(case["cwd"])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(list(case["argv"]))
    except SystemExit as e:  # argparse
        rc = e.code if isinstance(e.code, int) else 2
    except Hang:
        tb = "hang"
    except BaseException:  # noqa: BLE001 - a traceback is exactly what the test looks for
        tb = traceback.format_exc()
    finally:
        signal.alarm(0)
        os.chdir(here)
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        signal.signal(signal.SIGTERM, saved[2])
    return {
        "argv": case["argv"], "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "traceback": tb,
        "seconds": round(time.monotonic() - t0, 2),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hashes_before": before, "hashes_after": _sha(case.get("inputs", [])),
        "hidden": _hidden(case.get("outdir")),
    }


def main() -> int:
    cases = json.loads(Path(sys.argv[1]).read_text())
    timeout = int(os.environ.get("FACEWEAVE_CASE_TIMEOUT", "120"))
    signal.signal(signal.SIGALRM, _alarm)
    results = [run_case(c, timeout) for c in cases]
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
