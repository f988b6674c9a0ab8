"""`make demo` runs `python -m faceweave.demo`: its outputs exist and differ from the target only near the face."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ASSETS, faces_of, load_rgb
from PIL import Image

from faceweave.demo import DEMO_SWAPS
from faceweave.media import read_image
from faceweave.media.provenance import is_marked


def test_demo_outputs(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "faceweave.demo", "--photos", str(ASSETS), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    printed = [Path(p) for p in r.stdout.split()]
    assert len(printed) == len(DEMO_SWAPS)
    for (_src, dst, opts, name), path in zip(DEMO_SWAPS, printed, strict=True):
        assert path == tmp_path / name and path.exists() and is_marked(path)
        out = read_image(path).rgb.astype(int)
        target = load_rgb(dst)
        if name.endswith(".jpg"):  # compare with the target through the same JPEG encoder
            buf = io.BytesIO()
            Image.fromarray(target).save(buf, format="JPEG", quality=95)
            target = np.asarray(Image.open(buf).convert("RGB"))
        target = target.astype(int)
        assert out.shape == target.shape
        changed = np.abs(out - target).max(axis=2) > 0
        chosen = faces_of(dst) if opts.get("target_face") == "all" else faces_of(dst)[:1]
        near = np.zeros(changed.shape, bool)
        for f in chosen:
            w, h = f.width, f.height
            x0, y0 = int(max(f.box[0] - 0.5 * w, 0)), int(max(f.box[1] - 0.7 * h, 0))
            near[y0 : int(f.box[3] + 0.5 * h), x0 : int(f.box[2] + 0.5 * w)] = True
        assert changed[near].any(), name
        assert not changed[~near].any(), f"{name}: pixels changed away from the face"
