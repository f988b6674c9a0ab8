"""Does tracking cost quality? Tracked video swap vs per-frame full detection on the sample clip.

    .venv/bin/python scripts/realtime_quality.py [--frames 120] [--engine warp] [--sheet-start 54]

On the first ``--frames`` consecutive frames of the clip, the source face is swapped in two ways:
``full`` analyses every frame from scratch (detection + mesh, what `swap` did per frame before
tracking) and ``tracked`` runs the streaming pipeline's :class:`~faceweave.realtime.FrameSwapper`
(detection on key frames, mesh followed and One-Euro-smoothed in between). Each result is scored
the same way, inside the input frame's detected face box:

* identity: dlib 128-D distance between the result's face and the source (DESIGN.md §5);
* expression kept: |Δ eye aspect ratio| + |Δ inner-mouth aspect ratio| between the result's and the
  input frame's 68 landmarks (DESIGN.md §5; written here until faceweave.eval has it);
* flicker: mean |result_t − result_t−1| inside the face box minus the same for the input (grey
  levels): what the swap adds to frame-to-frame change. Jitter shows up here.

The sheet shows consecutive frames: input, full detection, tracked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = Path("/work/shared/samples/pyfeat_WolfgangLanger_Pexels.mp4")
SOURCE = ROOT / "tests" / "assets" / "facerec_obama.jpg"


def eye_aspect_ratio(lm: np.ndarray) -> float:
    """(|p37−p41| + |p38−p40|) / 2|p36−p39|, averaged over both eyes (p42..47 for the other)."""
    def one(o: int) -> float:
        p = lm[o : o + 6]
        return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3])))
    return (one(36) + one(42)) / 2


def mouth_aspect_ratio(lm: np.ndarray) -> float:
    """Mean of the inner-lip gaps 61–67, 62–66, 63–65 over |p60−p64|."""
    gaps = [np.linalg.norm(lm[a] - lm[b]) for a, b in ((61, 67), (62, 66), (63, 65))]
    return float(np.mean(gaps) / np.linalg.norm(lm[60] - lm[64]))


def expression_difference(a: np.ndarray, b: np.ndarray) -> float:
    return abs(eye_aspect_ratio(a) - eye_aspect_ratio(b)) + abs(mouth_aspect_ratio(a) - mouth_aspect_ratio(b))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--engine", default="warp")
    ap.add_argument("--sheet", default=str(ROOT / "docs" / "images" / "realtime_sheet.jpg"))
    ap.add_argument("--sheet-start", type=int, default=54)
    a = ap.parse_args()

    import av

    from faceweave.analysis import analyze
    from faceweave.analysis.identity import embedding, identity_distance
    from faceweave.analysis.landmarks import landmarks_68
    from faceweave.analysis.track import FaceTracker
    from faceweave.engines import SwapOptions, get_engine
    from faceweave.media.image import read_image, write_image
    from faceweave.realtime import FrameSwapper, TargetFollower, occlusion_tracker

    frames: list[np.ndarray] = []
    with av.open(str(CLIP)) as c:
        fps = float(c.streams.video[0].average_rate)
        for fr in c.decode(video=0):
            frames.append(fr.to_ndarray(format="rgb24"))
            if len(frames) >= a.frames:
                break
    eng = get_engine(a.engine)
    opts = SwapOptions()
    src = read_image(SOURCE).rgb
    sf = analyze(src, mesh=True, identity=True)[0]
    swapper = FrameSwapper(eng, src, sf, opts, TargetFollower(), FaceTracker(fps=fps),
                           occlusion=occlusion_tracker(eng, opts))  # hands over time, as swap_video does

    rows: dict[str, list[float]] = {"full id": [], "tracked id": [], "full expr": [], "tracked expr": []}
    outs: dict[str, list[np.ndarray]] = {"full": [], "tracked": []}
    boxes: list[np.ndarray | None] = []
    for i, rgb in enumerate(frames):
        tracked = swapper(rgb, i)
        faces = analyze(rgb, mesh=True, identity=False)
        if not faces:
            boxes.append(None)
            outs["full"].append(rgb)
            outs["tracked"].append(tracked)
            continue
        tf = faces[0]
        full = eng.swap_face(src, sf, rgb, tf, opts)
        boxes.append(tf.box)
        outs["full"].append(full)
        outs["tracked"].append(tracked)
        for name, out in (("full", full), ("tracked", tracked)):
            lm = landmarks_68(out, tf.box)
            rows[f"{name} id"].append(identity_distance(embedding(out, lm, tf.box), sf.embedding))
            rows[f"{name} expr"].append(expression_difference(lm, tf.landmarks))

    def flicker(seq: list[np.ndarray]) -> float:
        d = []
        for i in range(1, len(seq)):
            b = boxes[i]
            if b is None or boxes[i - 1] is None:
                continue
            x0, y0, x1, y1 = (int(v) for v in b)
            d.append(float(np.abs(seq[i][y0:y1, x0:x1].astype(np.int16) - seq[i - 1][y0:y1, x0:x1]).mean()))
        return float(np.mean(d))

    base = flicker(frames)
    out = sys.stdout
    out.write(f"{CLIP.name}: first {len(frames)} frames, engine={a.engine}, source={SOURCE.name}; "
              f"tracker ran detection on {swapper.tracker.detections} frames, the hand model on "
              f"{swapper.occlusion.runs if swapper.occlusion else len(frames)} (full: every frame)\n")
    out.write(f"{'':10} {'identity↓':>10} {'expression↓':>12} {'flicker':>8}\n")
    for name in ("full", "tracked"):
        out.write(f"{name:10} {np.mean(rows[name + ' id']):10.4f} {np.mean(rows[name + ' expr']):12.4f} "
                  f"{flicker(outs[name]) - base:8.2f}\n")
    did = abs(np.mean(rows["tracked id"]) - np.mean(rows["full id"]))
    dex = abs(np.mean(rows["tracked expr"]) - np.mean(rows["full expr"]))
    out.write(f"|tracked − full|: identity {did:.4f}, expression {dex:.4f} "
              f"({'within' if max(did, dex) <= 0.01 else 'NOT within'} 0.01)\n")

    if a.sheet:
        idx = [i for i in range(a.sheet_start, min(a.sheet_start + 16, len(frames)), 2) if boxes[i] is not None][:8]
        b = boxes[idx[0]]
        assert b is not None
        cx, cy, s = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, 1.4 * max(b[2] - b[0], b[3] - b[1])
        h, w = frames[0].shape[:2]
        x0, y0 = int(max(cx - s / 2, 0)), int(max(cy - s / 2, 0))
        x1, y1 = int(min(x0 + s, w)), int(min(y0 + s, h))
        tile = 180

        def crop(img: np.ndarray) -> np.ndarray:
            return cv2.resize(img[y0:y1, x0:x1], (tile, tile), interpolation=cv2.INTER_AREA)

        grid = []
        for label, seq in (("input", frames), ("full detection", outs["full"]), ("tracked", outs["tracked"])):
            row = np.concatenate([crop(seq[i]) for i in idx], axis=1)
            cv2.putText(row, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2, cv2.LINE_AA)
            grid.append(row)
        sheet = np.concatenate(grid, axis=0)
        write_image(a.sheet, sheet, synthetic=True)
        out.write(f"sheet: {a.sheet} (frames {idx}, same crop for every frame)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
